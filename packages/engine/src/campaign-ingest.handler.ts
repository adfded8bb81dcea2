import { randomUUID } from 'node:crypto';
import { isTriggerStatus, parseCampaignTask, parseRoster, type ClickUpTask } from '@parley/clickup';
import { chunksOf, insertAuditEntries, insertNegotiations, placeholder, sqlOf, withTx } from '@parley/db';
import { enqueue, jobIds, type Handler } from '@parley/queue';
import type { EngineCore } from '@parley/takeover';

export interface IngestDeps extends EngineCore {
  clickup: { getTask(id: string): Promise<ClickUpTask> };
  sheets: { getValues(spreadsheetId: string, range: string): Promise<string[][]> };
  triggerStatus: string;
}

/**
 * The most rows a roster may have (besides its header). Every row becomes a negotiation in one
 * transaction; a larger roster is refused whole, with an alert, rather than started in part.
 */
export const MAX_ROSTER_ROWS = 5000;

/**
 * The `campaign-tasks` handler. A webhook body never starts anything by itself: the task is
 * fetched and its current status checked. Campaign and negotiations are created idempotently
 * (unique ClickUp task id; unique campaign + influencer email), so a redelivered webhook or a
 * second status event changes nothing.
 */
export function createCampaignIngestHandler(deps: IngestDeps): Handler<'campaign-tasks'> {
  return async (data, ctx) => {
    const task = await deps.clickup.getTask(data.taskId);
    if (!isTriggerStatus(task.status, deps.triggerStatus)) return { outcome: `ignored: status is not ${deps.triggerStatus}` };

    const parsed = parseCampaignTask(task);
    if (!parsed.ok) {
      await withTx(deps.db, (tx) => tx.auditEntry.create({ data: { actor: 'agent', action: 'campaign_rejected', details: { taskId: task.id, problems: parsed.problems } } }));
      const alertId = `campaign-${task.id}-invalid`;
      await enqueue(
        deps.queues,
        'alerts',
        { alertId, kind: 'campaign_problem', title: `Campaign "${task.name}" was not started`, text: `ClickUp task ${task.id}: ${parsed.problems.join('; ')}` },
        { jobId: jobIds.alert(alertId) },
      );
      ctx.log.warn('campaign rejected', { taskId: task.id, problems: parsed.problems });
      return { outcome: 'rejected', problems: parsed.problems };
    }
    const settings = parsed.campaign;
    const campaign = await withTx(deps.db, async (tx) => {
      const existing = await tx.campaign.findUnique({ where: { clickupTaskId: task.id } });
      if (existing) return existing;
      const created = await tx.campaign.create({ data: { clickupTaskId: task.id, ...settings } });
      await tx.auditEntry.create({ data: { campaignId: created.id, actor: 'agent', action: 'campaign_created', details: { taskId: task.id, name: settings.name } } });
      return created;
    });

    const values = await deps.sheets.getValues(campaign.rosterSheetId, campaign.rosterRange);
    if (values.length > MAX_ROSTER_ROWS + 1) {
      const problem = `the roster range ${campaign.rosterRange} holds ${values.length} rows; at most ${MAX_ROSTER_ROWS} influencers (plus the header row) are read: split the campaign or narrow its Roster Range`;
      await withTx(deps.db, (tx) => tx.auditEntry.create({ data: { campaignId: campaign.id, actor: 'agent', action: 'roster_too_large', details: { rows: values.length, limit: MAX_ROSTER_ROWS } } }));
      const alertId = `roster-${campaign.id}-too-large-${values.length}`;
      await enqueue(
        deps.queues,
        'alerts',
        { alertId, kind: 'campaign_problem', title: `Campaign "${campaign.name}" was not started`, text: `ClickUp task ${task.id}: ${problem}`, campaignId: campaign.id },
        { jobId: jobIds.alert(alertId) },
      );
      ctx.log.warn('campaign roster too large', { campaignId: campaign.id, rows: values.length, limit: MAX_ROSTER_ROWS });
      return { outcome: 'rejected', problems: [problem] };
    }
    const roster = parseRoster(values);
    const created = await sqlOf(deps.db).transaction(async (tx) => {
      // Rows whose influencer the campaign already has (a repeated ingest) are skipped; the rest
      // are inserted a chunk at a time, with their audit entries (their ids made here, so each
      // entry can name its negotiation without reading it back). Raw SQL: Prisma's createMany
      // spent most of a 200-row ingest's time in its own machinery (docs/benchmarks.md).
      const known = new Set((await tx.query<{ influencerEmail: string }>(`SELECT "influencerEmail" FROM "Negotiation" WHERE "campaignId" = ${placeholder(tx.engine, 1)}`, campaign.id)).map((n) => n.influencerEmail));
      const fresh = roster.rows.flatMap((row) => {
        const email = row.email.toLowerCase();
        if (known.has(email)) return [];
        known.add(email);
        return [{ id: randomUUID(), email, row }];
      });
      // BIND_CHUNK rows of 14 columns per statement: still far below either engine's limit.
      for (const chunk of chunksOf(fresh)) {
        await insertNegotiations(
          tx,
          chunk.map(({ id, email, row }) => ({ id, campaignId: campaign.id, influencerName: row.name, influencerEmail: email, platform: row.platform, averageViews: row.averageViews, deliverables: row.deliverables, currency: campaign.currency })),
        );
        await insertAuditEntries(tx, chunk.map(({ id, row }) => ({ negotiationId: id, campaignId: campaign.id, actor: 'agent', action: 'negotiation_created', details: { sheetRow: row.row } })));
      }
      const n = fresh.length;
      if (roster.problems.length > 0 && n > 0) {
        await insertAuditEntries(tx, [{ negotiationId: null, campaignId: campaign.id, actor: 'agent', action: 'roster_rows_skipped', details: { problems: roster.problems.map((p) => ({ row: p.row, problem: p.problem })) } }]);
      }
      return n;
    });
    if (roster.problems.length > 0) {
      const alertId = `roster-${campaign.id}`;
      const lines = roster.problems.map((p) => `row ${p.row}: ${p.problem}`).join('; ');
      await enqueue(
        deps.queues,
        'alerts',
        { alertId, kind: 'campaign_problem', title: `Roster of "${campaign.name}": ${roster.problems.length} row(s) skipped`, text: lines, campaignId: campaign.id },
        { jobId: jobIds.alert(alertId) },
      );
    }

    const sql = sqlOf(deps.db);
    const fresh = await sql.query<{ id: string }>(`SELECT "id" FROM "Negotiation" WHERE "campaignId" = ${placeholder(sql.engine, 1)} AND "state" = 'new'`, campaign.id);
    // Enqueued together (ioredis pipelines them); each under its deterministic id, so a repeat is a no-op.
    await Promise.all(fresh.map((n) => enqueue(deps.queues, 'negotiation-steps', { negotiationId: n.id, kind: 'open' }, { jobId: jobIds.negotiationStep(n.id) })));
    ctx.log.info('campaign ingested', { campaignId: campaign.id, created, skippedRows: roster.problems.length });
    return { outcome: 'ingested', campaignId: campaign.id, created, skipped: roster.problems.length };
  };
}
