import { createHash } from 'node:crypto';
import { Router, type Request, type Response } from 'express';
import { z } from 'zod';
import { CAMPAIGN_TRIGGER_EVENTS, clickUpWebhookSchema, verifyClickUpSignature } from '@parley/clickup';
import { withTx, type Db } from '@parley/db';
import type { Logger } from '@parley/logging';
import { jobIds, type Queues } from '@parley/queue';
import { bodyBytes, parseJson, parseWith, rawBody } from './body';
import { unauthorized } from './http-error';
import { enqueueDeliveries, recordDeliveries, type Delivery } from './ingest.service';
import { ctx, webhookSource } from './request-context.middleware';

/** Events that can start a campaign; the worker re-reads the task, the body alone starts nothing. */
const TRIGGER_EVENTS: ReadonlySet<string> = new Set(CAMPAIGN_TRIGGER_EVENTS);

// The package's webhook schema; the ingress also needs the task id (it is part of the job id).
const clickupSchema = clickUpWebhookSchema.extend({ task_id: z.string().min(1) });

export interface ClickUpWebhookDeps {
  db: Db;
  queues: Queues;
  secret?: string;
}

function verify(deps: ClickUpWebhookDeps, req: Request, body: Buffer, log: Logger): void {
  if (!deps.secret) {
    log.error('clickup webhook refused: CLICKUP_WEBHOOK_SECRET is not set');
    throw unauthorized();
  }
  if (!verifyClickUpSignature(body, req.get('x-signature'), deps.secret)) {
    log.warn('clickup webhook refused', { reason: req.get('x-signature') ? 'bad signature' : 'missing signature' });
    throw unauthorized();
  }
}

/**
 * POST /webhooks/clickup: the signature is checked over the raw bytes before anything is
 * parsed; one campaign-ingest job per history item (webhook id + task id + item id), so
 * ClickUp's retries of the same event collapse.
 */
export function clickupWebhookRouter(deps: ClickUpWebhookDeps): Router {
  const router = Router();
  router.post('/webhooks/clickup', webhookSource('clickup'), rawBody, async (req: Request, res: Response) => {
    const { log } = ctx(res);
    const body = bodyBytes(req);
    verify(deps, req, body, log);
    const event = parseWith(clickupSchema, parseJson(body, 'body'), 'ClickUp webhook');

    if (!TRIGGER_EVENTS.has(event.event)) {
      ctx(res).webhookOutcome = 'ignored';
      log.info('clickup event ignored', { event: event.event });
      res.status(200).json({ ok: true });
      return;
    }
    // Without history items the body itself identifies the event: a redelivery is byte-identical.
    const itemIds = event.history_items?.length ? [...new Set(event.history_items.map((i) => i.id))] : [createHash('sha256').update(body).digest('hex')];
    const deliveries: Delivery<'campaign-tasks'>[] = itemIds.map((historyItemId) => {
      const data = { webhookId: event.webhook_id, taskId: event.task_id, event: event.event, historyItemId };
      return { queue: 'campaign-tasks', jobId: jobIds.campaignIngest(data), data };
    });
    const seen = await withTx(deps.db, (tx) => recordDeliveries(tx, deliveries));
    await enqueueDeliveries(deps.queues, deliveries);
    ctx(res).webhookOutcome = seen === deliveries.length ? 'duplicate' : 'accepted';
    log.info('clickup event accepted', { event: event.event, taskId: event.task_id, jobs: deliveries.length, duplicates: seen });
    res.status(200).json({ ok: true });
  });
  return router;
}
