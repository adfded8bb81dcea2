import { formatTime, html, layout, type SafeHtml } from './html';
import type { DeadLetterEntry, DeadLetterList } from './dead-letters.service';
import { negotiationLink, noticeBlock, queueJobLink, replayForm, type Notice } from './stuck.view';

/** The original job now: still failed, retried in bull-board (same id), or removed from Redis. */
function jobNow(d: DeadLetterEntry): SafeHtml {
  if (d.jobState === undefined) return html`<span class="muted">?</span>`;
  if (d.jobState === 'unknown') return html`removed`;
  if (d.jobState === 'failed' || d.replayedAt) return html`${d.jobState}`;
  return html`${d.jobState}<br><span class="muted">retried in the queue view</span>`;
}

export function deadLettersPage(list: DeadLetterList, csrf: string, notice?: Notice): string {
  const body = html`${noticeBlock(notice)}<h1>Dead letters</h1>
<p class="muted">${list.pending} neither replayed nor discarded, ${list.total} in all${list.total > list.entries.length ? `; the newest ${list.entries.length} are shown` : ''}.
A replay adds the stored payload again under a new job id; the failed original stays as it was.</p>
${
  list.entries.length === 0
    ? html`<p class="notice">No dead letters.</p>`
    : html`<table class="dead-letters"><thead><tr><th>failed at</th><th>queue</th><th>job</th><th>error</th><th>attempts</th><th>negotiation</th><th>job now</th><th>replayed</th><th></th></tr></thead><tbody>
${list.entries.map(
  (d) => html`<tr id="dl-${d.id}" data-dead-letter="${d.id}"><td class="num">${formatTime(d.failedAt)}</td><td>${d.queue}</td>
<td><code>${d.jobId}</code><br><span class="muted">${d.jobName}</span></td><td><strong>${d.errorClass}</strong><br>${d.errorMessage}</td><td class="num">${d.attempts}</td>
<td>${negotiationLink(d.negotiationId ? list.negotiations[d.negotiationId] : undefined, d.negotiationId)}</td>
<td class="job-state">${jobNow(d)}</td>
<td class="replayed">${
    d.replayedAt
      ? html`${formatTime(d.replayedAt)}${d.resolvedBy ? html` by ${d.resolvedBy}` : html``}<br>${queueJobLink(d.queue, d.replayJobId ?? undefined)}`
      : d.discardedAt
        ? html`discarded ${formatTime(d.discardedAt)}${d.resolvedBy ? html` by ${d.resolvedBy}` : html``}`
        : html`no`
  }</td>
<td>${d.replayedAt || d.discardedAt ? html`` : replayForm(d.id, csrf, '/admin/dead-letters')}</td></tr>`,
)}</tbody></table>`
}`;
  return layout('Dead letters', body);
}
