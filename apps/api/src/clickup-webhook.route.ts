import { createHash } from 'node:crypto';
import { Router, type Request, type RequestHandler, type Response } from 'express';
import { z } from 'zod';
import { CAMPAIGN_TRIGGER_EVENTS, clickUpWebhookSchema, verifyClickUpSignature } from '@parley/clickup';
import type { Logger } from '@parley/logging';
import { jobIds, type Queues } from '@parley/queue';
import { BODY_LIMITS, bodyBytes, parseJson, parseWith, rawBody } from './body';
import { unauthorized } from './http-error';
import { enqueueDeliveries, type Delivery, type IngestWrites } from './ingest.service';
import { ctx, webhookSource } from './request-context.middleware';

/** Events that can start a campaign; the worker re-reads the task, the body alone starts nothing. */
const TRIGGER_EVENTS: ReadonlySet<string> = new Set(CAMPAIGN_TRIGGER_EVENTS);

// The package's webhook schema; the ingress also needs the task id (it is part of the job id).
const clickupSchema = clickUpWebhookSchema.extend({ task_id: z.string().min(1) });

export interface ClickUpWebhookDeps {
  /** The ingress's shared write transactions (group commit). */
  writes: IngestWrites;
  queues: Queues;
  secret?: string;
}

/** X-Signature is a hex HMAC-SHA256: 64 hex digits, nothing else. */
const SIGNATURE_SHAPE = /^[0-9a-fA-F]{64}$/;

/**
 * What can be refused before the body is read: no secret configured, no signature, or a
 * value that cannot be an HMAC-SHA256. Nobody gets a buffer for a body we would refuse anyway.
 */
function precheck(deps: ClickUpWebhookDeps): RequestHandler {
  return (req, res, next) => {
    const { log } = ctx(res);
    if (!deps.secret) {
      log.error('clickup webhook refused: CLICKUP_WEBHOOK_SECRET is not set');
      throw unauthorized();
    }
    const signature = req.get('x-signature');
    if (signature === undefined || !SIGNATURE_SHAPE.test(signature)) {
      log.warn('clickup webhook refused', { reason: signature === undefined ? 'missing signature' : 'malformed signature' });
      throw unauthorized();
    }
    next();
  };
}

function verify(secret: string | undefined, req: Request, body: Buffer, log: Logger): void {
  if (!secret || !verifyClickUpSignature(body, req.get('x-signature'), secret)) {
    log.warn('clickup webhook refused', { reason: 'bad signature' });
    throw unauthorized();
  }
}

/**
 * POST /webhooks/clickup: the signature's presence and shape are checked before the body is
 * read, its value over the raw bytes before anything is parsed; one campaign-ingest job per history item (webhook id + task id + item id), so
 * ClickUp's retries of the same event collapse.
 */
export function clickupWebhookRouter(deps: ClickUpWebhookDeps): Router {
  const router = Router();
  router.post('/webhooks/clickup', webhookSource('clickup'), precheck(deps), ...rawBody(BODY_LIMITS.clickup), async (req: Request, res: Response) => {
    const { log } = ctx(res);
    const body = bodyBytes(req);
    verify(deps.secret, req, body, log);
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
    const seen = await deps.writes.run({ deliveries });
    await enqueueDeliveries(deps.queues, deliveries);
    ctx(res).webhookOutcome = seen === deliveries.length ? 'duplicate' : 'accepted';
    log.info('clickup event accepted', { event: event.event, taskId: event.task_id, jobs: deliveries.length, duplicates: seen });
    res.status(200).json({ ok: true });
  });
  return router;
}
