import { formatMoney } from '@parley/domain';
import { formatTime, html, layout, seg, type SafeHtml } from './html';
import { noticeBlock, queueJobLink, replayForm, type Notice } from './stuck.view';
import type { Timeline, TimelineEvent } from './timeline.service';

function money(minor: number | null, currency: string): string {
  return minor === null ? '' : formatMoney(minor, currency);
}

/** States a claim applies to (the state machine's: any not finished). */
const CLAIMABLE = new Set(['new', 'outreach_sent', 'awaiting_reply', 'counter_received', 'counter_sent', 'escalated']);

/** Claim or Resume, as the state allows: the same operations as Slack's /claim and /resume. */
function takeoverForm(n: Timeline['negotiation'], csrf: string): SafeHtml {
  const what = n.state === 'human_managed' ? 'resume' : CLAIMABLE.has(n.state) ? 'claim' : undefined;
  if (!what) return html``;
  return html`<form method="post" action="/admin/negotiations/${seg(n.id)}/${what}" class="takeover">
<input type="hidden" name="csrf" value="${csrf}"><button type="submit" class="${what}">${what === 'claim' ? 'Claim (the agent stops)' : 'Resume (hand back to the agent)'}</button></form>`;
}

function details(value: unknown): SafeHtml {
  if (value === undefined || (typeof value === 'object' && value !== null && Object.keys(value).length === 0)) return html``;
  return html`<br><code>${JSON.stringify(value).slice(0, 600)}</code>`;
}

function eventRow(e: TimelineEvent, csrf: string, back: string): SafeHtml {
  return html`<tr data-type="${e.type}"><td class="num">${formatTime(e.at)}</td><td><span class="kind">${e.type.replace('_', ' ')}</span></td>
<td>${e.summary}${details(e.details)}</td><td>${e.deadLetterId && e.replayable ? replayForm(e.deadLetterId, csrf, back) : html``}</td></tr>`;
}

export function timelinePage(t: Timeline, csrf: string, notice?: Notice): string {
  const n = t.negotiation;
  const back = `/admin/negotiations/${seg(n.id)}`;
  const body = html`${noticeBlock(notice)}<h1 id="negotiation">${n.influencerName} · ${n.campaignName}</h1>
<dl>
<dt>id</dt><dd><code>${n.id}</code></dd>
<dt>state</dt><dd><strong class="state">${n.state}</strong>${n.claimedBy ? html` (claimed by <span class="claimed-by">${n.claimedBy}</span>)` : html``}${takeoverForm(n, csrf)}</dd>
${n.escalationReason ? html`<dt>escalation</dt><dd>${n.escalationReason}</dd>` : html``}
<dt>influencer</dt><dd>${n.platform}, address at ${n.emailDomain}</dd>
<dt>round</dt><dd>${n.round}; follow-ups sent: ${n.followUps}</dd>
<dt>offer / ask / agreed</dt><dd>${money(n.currentOfferMinor, n.currency) || '-'} / <span class="ask">${money(n.lastAskMinor, n.lastAskCurrency) || '-'}</span> / ${money(n.agreedRateMinor, n.currency) || '-'}</dd>
<dt>last email out / in</dt><dd>${formatTime(n.lastOutboundAt) || '-'} / ${formatTime(n.lastInboundAt) || '-'}</dd>
<dt>Gmail thread</dt><dd><code>${n.gmailThreadId ?? '-'}</code></dd>
<dt>created</dt><dd>${formatTime(n.createdAt)}</dd>
</dl>
<h2>Timeline</h2>
${
  t.events.length === 0
    ? html`<p class="muted">Nothing recorded yet.</p>`
    : html`<table class="timeline"><thead><tr><th>time</th><th>type</th><th>what</th><th></th></tr></thead><tbody>${t.events.map((e) => eventRow(e, csrf, back))}</tbody></table>`
}
<h2>Jobs</h2>
${t.jobsUnavailable ? html`<p class="warn">Redis could not be read: jobs are not shown.</p>` : html``}
${
  t.jobs.length === 0
    ? html`<p class="muted">No job of this negotiation is in Redis (completed jobs are kept 7 days, failed ones 30).</p>`
    : html`<table class="jobs"><thead><tr><th>queue</th><th>job</th><th>state</th><th>attempts</th><th>added</th><th>finished</th><th>error</th></tr></thead><tbody>
${t.jobs.map(
  (j) => html`<tr data-state="${j.state}"><td>${j.queue}</td><td><code>${j.jobId}</code><br>${queueJobLink(j.queue, j.jobId)}</td><td>${j.state}</td><td class="num">${j.attemptsMade}</td>
<td class="num">${formatTime(j.addedAt)}</td><td class="num">${formatTime(j.finishedAt)}</td><td>${j.failedReason ?? ''}</td></tr>`,
)}</tbody></table>`
}`;
  return layout(`${n.influencerName} · timeline`, body);
}
