import { formatAge, formatTime, html, layout, seg, type SafeHtml } from './html';
import { PROBLEM_LABELS, type NegotiationLabel, type Problem } from './problem.types';
import type { StuckReport } from './stuck.service';

export interface Notice {
  tone: 'notice' | 'error';
  text: string;
}

export function noticeBlock(notice: Notice | undefined): SafeHtml {
  return notice ? html`<p class="${notice.tone}" role="status">${notice.text}</p>` : html``;
}

/** The POST form that replays a dead letter; `back` is where the answer redirects to. */
export function replayForm(deadLetterId: string, csrf: string, back: string): SafeHtml {
  return html`<form method="post" action="/admin/dead-letters/${seg(deadLetterId)}/replay">
<input type="hidden" name="csrf" value="${csrf}"><input type="hidden" name="back" value="${back}">
<button type="submit" class="replay" data-dead-letter="${deadLetterId}">Replay</button></form>`;
}

export function negotiationLink(label: NegotiationLabel | undefined, id: string | undefined): SafeHtml {
  if (!id) return html`<span class="muted">no negotiation</span>`;
  if (!label) return html`<code>${id}</code>`;
  return html`<a class="timeline" href="/admin/negotiations/${seg(id)}">${label.influencerName}</a><br><span class="muted">${label.campaignName} · ${label.state}</span>`;
}

export function queueJobLink(queue: string | undefined, jobId: string | undefined): SafeHtml {
  if (!queue || !jobId) return html``;
  return html`<a href="/admin/queues/queue/${seg(queue)}/${seg(jobId)}">job in queue view</a>`;
}

function problemRow(p: Problem, report: StuckReport, csrf: string): SafeHtml {
  const label = p.negotiationId ? report.negotiations[p.negotiationId] : undefined;
  const actions = [
    p.negotiationId ? html`<a href="/admin/negotiations/${seg(p.negotiationId)}">timeline</a>` : html``,
    p.deadLetterId ? replayForm(p.deadLetterId, csrf, '/admin/') : queueJobLink(p.queue, p.jobId),
  ];
  return html`<tr data-kind="${p.kind}"${p.negotiationId ? html` data-negotiation="${p.negotiationId}"` : html``}>
<td class="num" title="since ${formatTime(p.since)}">${formatAge(p.ageMs)}</td>
<td><span class="kind">${PROBLEM_LABELS[p.kind]}</span></td>
<td>${negotiationLink(label, p.negotiationId)}</td>
<td>${p.reason}</td>
<td>${actions.map((a) => html`<div>${a}</div>`)}</td></tr>`;
}

function queueTable(report: StuckReport): SafeHtml {
  if (report.queues.length === 0) return html``;
  const n = (counts: Record<string, number>, ...keys: string[]) => keys.reduce((sum, k) => sum + (counts[k] ?? 0), 0);
  return html`<h2>Queues</h2><table class="queues"><thead><tr><th>queue</th><th>waiting</th><th>delayed</th><th>active</th><th>failed</th><th></th></tr></thead><tbody>
${report.queues.map(
  (q) => html`<tr><td><a href="/admin/queues/queue/${seg(q.queue)}">${q.queue}</a></td><td class="num">${n(q.counts, 'waiting', 'prioritized', 'paused')}</td>
<td class="num">${n(q.counts, 'delayed')}</td><td class="num">${n(q.counts, 'active')}</td><td class="num">${n(q.counts, 'failed')}</td><td>${q.paused ? 'paused' : ''}</td></tr>`,
)}</tbody></table>`;
}

export function stuckPage(report: StuckReport, csrf: string, notice?: Notice): string {
  const workers =
    report.workers === null
      ? html`<p class="warn">Worker heartbeats could not be read.</p>`
      : report.workers === 0
        ? html`<p class="warn">No worker has reported in the last minute: nothing is being processed.</p>`
        : html``;
  const body = html`${noticeBlock(notice)}<h1>Negotiations that need attention</h1>
<p class="muted">Generated ${formatTime(report.generatedAt)}; ${report.problems.length} problem(s); workers seen in the last minute: ${report.workers ?? '?'}.</p>
${workers}${report.warnings.map((w) => html`<p class="warn">${w}</p>`)}
${
  report.problems.length === 0
    ? html`<p class="notice">Nothing needs attention.</p>`
    : html`<table class="problems"><thead><tr><th>age</th><th>problem</th><th>negotiation</th><th>reason</th><th></th></tr></thead>
<tbody>${report.problems.map((p) => problemRow(p, report, csrf))}</tbody></table>`
}
${queueTable(report)}`;
  return layout('Stuck negotiations', body);
}
