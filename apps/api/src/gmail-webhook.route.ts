import { Router, type Request, type Response } from 'express';
import { z } from 'zod';
import { emailDomain } from '@parley/logging';
import { historyIdSchema, jobIds, type Queues } from '@parley/queue';
import { BODY_LIMITS, bodyBytes, parseJson, parseWith, rawBody } from './body';
import { badRequest, withTimeout } from './http-error';
import { ENQUEUE_TIMEOUT_MS, enqueueDeliveries, type Delivery, type IngestWrites } from './ingest.service';
import type { PubSubVerifier } from './pubsub-auth.service';
import { ctx, webhookSource } from './request-context.middleware';

const envelopeSchema = z.object({
  message: z.object({
    data: z.string().min(1),
    messageId: z.string().min(1).optional(),
    message_id: z.string().min(1).optional(),
    publishTime: z.string().optional(),
    publish_time: z.string().optional(),
    attributes: z.record(z.string(), z.string()).optional(),
  }),
  subscription: z.string().optional(),
});

const notificationSchema = z.object({
  emailAddress: z.string().email(),
  // Gmail sends a decimal string; a number is accepted too (SPEC 5.1). Ids are 64-bit.
  historyId: historyIdSchema,
});

// Standard or URL-safe alphabet, optional padding; Buffer.from(…, 'base64') silently skips
// anything else, so the shape is checked first.
const BASE64 = /^[A-Za-z0-9+/_-]+={0,2}$/;

function decodeData(data: string): unknown {
  if (!BASE64.test(data) || data.replace(/=+$/, '').length % 4 === 1) throw badRequest('message.data is not base64');
  return parseJson(Buffer.from(data, 'base64'), 'message.data');
}

export interface GmailWebhookDeps {
  /** The ingress's shared write transactions (group commit). */
  writes: IngestWrites;
  queues: Queues;
  verify: PubSubVerifier;
  /** When set, notifications for any other mailbox are acknowledged and dropped. */
  mailbox?: string;
  /**
   * Whether a sync of the mailbox holds its lock now (`mailboxSyncRunning`). When it does once
   * the notification is committed, the running sync covers it and no job is enqueued; when it
   * is not given, or cannot tell in time, the job is enqueued as always.
   */
  syncRunning?: (mailbox: string) => Promise<boolean>;
}

/**
 * POST /webhooks/gmail: a Pub/Sub push of a Gmail notification. The token is checked before
 * the body is read; the delivery is recorded and the mailbox's highest notified historyId
 * raised in one transaction; then the mailbox-sync job is enqueued under the Pub/Sub message
 * id, so redeliveries collapse and 204 is the answer every time.
 *
 * Unless a sync of the mailbox is running: Gmail notifies every change of the mailbox, so
 * under load nearly every notification arrives while the previous one's sync runs, and its
 * job only found the lock taken and ended ("covered by the running sync"). The holder reads
 * the highest notified id again after it releases the lock, which is after this check and so
 * after this commit, and syncs again if it moved. Such a delivery's row stays as the record;
 * the delivery sweep leaves it alone once the mailbox's cursor has passed its history id.
 */
export function gmailWebhookRouter(deps: GmailWebhookDeps): Router {
  const router = Router();
  router.post(
    '/webhooks/gmail',
    webhookSource('gmail'),
    async (req: Request, res: Response, next) => {
      await deps.verify(req.get('authorization'), ctx(res).log);
      next();
    },
    ...rawBody(BODY_LIMITS.gmailPush),
    async (req: Request, res: Response) => {
      const { log } = ctx(res);
      const envelope = parseWith(envelopeSchema, parseJson(bodyBytes(req), 'body'), 'Pub/Sub envelope');
      const messageId = envelope.message.messageId ?? envelope.message.message_id;
      if (!messageId) throw badRequest('Pub/Sub envelope has no messageId');
      const notification = parseWith(notificationSchema, decodeData(envelope.message.data), 'Gmail notification');

      if (deps.mailbox && notification.emailAddress.toLowerCase() !== deps.mailbox.toLowerCase()) {
        ctx(res).webhookOutcome = 'ignored';
        log.info('gmail notification for another mailbox ignored', { mailboxDomain: emailDomain(notification.emailAddress) });
        res.status(204).end();
        return;
      }
      // The configured spelling is the key the worker syncs under.
      const mailbox = deps.mailbox ?? notification.emailAddress.toLowerCase();
      const delivery: Delivery<'gmail-notifications'> = {
        queue: 'gmail-notifications',
        jobId: jobIds.mailboxSync(messageId),
        data: {
          mailbox,
          historyId: notification.historyId,
          pubsubMessageId: messageId,
          publishTime: envelope.message.publishTime ?? envelope.message.publish_time,
        },
      };
      const seen = await deps.writes.run({ deliveries: [delivery], highestNotified: { mailbox, historyId: notification.historyId } });
      const covered = await syncRunning(deps, mailbox);
      if (!covered) await enqueueDeliveries(deps.queues, [delivery]);
      ctx(res).webhookOutcome = seen > 0 ? 'duplicate' : 'accepted';
      log.info('gmail notification accepted', { queue: delivery.queue, jobId: delivery.jobId, historyId: notification.historyId, duplicate: seen > 0, coveredByRunningSync: covered });
      res.status(204).end();
    },
  );
  return router;
}

/** False when not known in time: the job is then enqueued, which is always safe. */
async function syncRunning(deps: GmailWebhookDeps, mailbox: string): Promise<boolean> {
  if (!deps.syncRunning) return false;
  return withTimeout(deps.syncRunning(mailbox), ENQUEUE_TIMEOUT_MS, 'sync lock check').catch(() => false);
}
