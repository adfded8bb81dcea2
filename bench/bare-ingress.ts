/**
 * The baseline of the ingress bench: bare Express with its JSON parser and one BullMQ
 * `queue.add` per request under a deterministic job id, answering 200. No signature check,
 * no validation, no durable row, no logging: what the ingress would cost with nothing of its own.
 * Run: tsx bench/bare-ingress.ts  (PORT, REDIS_URL, QUEUE_PREFIX from the environment)
 */
import express from 'express';
import type { AddressInfo } from 'node:net';
import { createQueues, createRedis, jobIds } from '@parley/queue';

const redis = createRedis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', 'producer');
const queues = createQueues(redis, process.env.QUEUE_PREFIX ?? 'bench-bare');
const app = express();
app.use(express.json());
app.post('/webhooks/clickup', (req, res, next) => {
  const body = req.body as { webhook_id: string; task_id: string; event: string; history_items: { id: string }[] };
  const historyItemId = body.history_items[0]?.id ?? '';
  queues['campaign-tasks']
    .add('campaign-ingest', { webhookId: body.webhook_id, taskId: body.task_id, event: body.event, historyItemId }, { jobId: jobIds.campaignIngest({ webhookId: body.webhook_id, taskId: body.task_id, historyItemId }) })
    .then(() => res.status(200).json({ ok: true }), next);
});
redis.once('ready', () => {
  const server = app.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
    process.stdout.write(`bare listening ${(server.address() as AddressInfo).port}\n`);
  });
});
