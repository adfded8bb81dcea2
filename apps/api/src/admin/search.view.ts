import { formatTime, html, layout, seg } from './html';
import type { SearchResult } from './search.service';

/** The search form posts (the query may be an address, which must not sit in a URL). */
export function searchForm(query = ''): ReturnType<typeof html> {
  return html`<form method="post" action="/admin/search" class="search" role="search">
<input type="search" name="q" value="${query}" maxlength="200" placeholder="influencer email, Gmail thread id or campaign" aria-label="Search negotiations" size="48">
<button type="submit">Search</button></form>`;
}

export function searchPage(result: SearchResult | undefined): string {
  const body = html`<h1>Search negotiations</h1>${searchForm(result?.query)}
${
  result === undefined
    ? html`<p class="muted">By influencer email (or part of it), Gmail thread id, negotiation id, or campaign name or id.</p>`
    : result.hits.length === 0
      ? html`<p class="muted" id="no-hits">No negotiation matches.</p>`
      : html`<table class="hits"><thead><tr><th>influencer</th><th>campaign</th><th>state</th><th>Gmail thread</th><th>updated</th></tr></thead><tbody>
${result.hits.map(
  (h) => html`<tr data-negotiation="${h.id}"><td><a class="timeline" href="/admin/negotiations/${seg(h.id)}">${h.influencerName}</a><br><span class="muted">at ${h.emailDomain}</span></td>
<td>${h.campaignName}</td><td>${h.state}${h.claimedBy ? html`<br><span class="muted">claimed by ${h.claimedBy}</span>` : html``}</td><td><code>${h.gmailThreadId ?? '-'}</code></td><td class="num">${formatTime(h.updatedAt)}</td></tr>`,
)}</tbody></table>${result.truncated ? html`<p class="muted">Only the 50 most recently updated are shown; narrow the search.</p>` : html``}`
}`;
  return layout('Search', body);
}
