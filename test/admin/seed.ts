import { randomUUID } from 'node:crypto';
import type { Job, Worker } from 'bullmq';
import { withTx, type Db, type Prisma } from '@parley/db';
import { JOBS, type JobInput, type QueueName, type Queues } from '@parley/queue';

export const MIN = 60_000;
export const HOUR = 60 * MIN;
export const ago = (ms: number) => new Date(Date.now() - ms);

let n = 0;

export async function seedCampaign(db: Db, name = 'Summer Launch'): Promise<string> {
  n += 1;
  const row = await withTx(db, (tx) =>
    tx.campaign.create({ data: { clickupTaskId: `task-${n}-${randomUUID()}`, name, cpmFloorMinor: 1000, cpmCeilingMinor: 2500, rosterSheetId: 'sheet-1' } }),
  );
  return row.id;
}

export async function seedNegotiation(
  db: Db,
  campaignId: string,
  data: { influencerName: string } & Partial<Omit<Prisma.NegotiationUncheckedCreateInput, 'campaignId' | 'influencerName'>>,
): Promise<string> {
  n += 1;
  const row = await withTx(db, (tx) =>
    tx.negotiation.create({
      data: {
        campaignId,
        influencerEmail: `creator${n}@creator-${n}.example`,
        platform: 'youtube',
        averageViews: 100_000,
        deliverables: '1 video',
        state: 'awaiting_reply',
        lastOutboundAt: new Date(),
        ...data,
      },
    }),
  );
  return row.id;
}

export async function seedInbound(db: Db, negotiationId: string, data: { receivedAt: Date; processedAt?: Date | null; subject?: string; text?: string }): Promise<string> {
  n += 1;
  const gmailMessageId = `gm-${n}-${randomUUID().slice(0, 8)}`;
  await withTx(db, (tx) =>
    tx.inboundMessage.create({
      data: {
        gmailMessageId,
        negotiationId,
        gmailThreadId: `thread-${negotiationId}`,
        fromDomain: 'creator.example',
        subject: data.subject ?? 'Re: Collaboration',
        text: data.text ?? 'Sounds good',
        receivedAt: data.receivedAt,
        processedAt: data.processedAt ?? null,
      },
    }),
  );
  return gmailMessageId;
}

export async function seedOutbox(
  db: Db,
  negotiationId: string,
  data: { key: string; status?: string; createdAt?: Date; toAddress?: string; subject?: string; body?: string; kind?: string },
): Promise<string> {
  const id = `${negotiationId}.${data.key}`;
  await withTx(db, (tx) =>
    tx.outboxEmail.create({
      data: {
        id,
        negotiationId,
        kind: data.kind ?? 'opening',
        messageIdHdr: `<${id}@brand.example.com>`,
        toAddress: data.toAddress ?? 'someone@creator.example',
        subject: data.subject ?? 'Collaboration',
        body: data.body ?? 'Hello there',
        status: data.status ?? 'sent',
        ...(data.createdAt ? { createdAt: data.createdAt } : {}),
      },
    }),
  );
  return id;
}

export async function seedDeadLetter(
  db: Db,
  data: { queue: QueueName; jobId: string; payload: Prisma.InputJsonValue; failedAt?: Date; replayedAt?: Date; replayJobId?: string; errorMessage?: string },
): Promise<string> {
  const row = await withTx(db, (tx) =>
    tx.deadLetter.create({
      data: {
        queue: data.queue,
        jobId: data.jobId,
        jobName: JOBS[data.queue].name,
        payload: data.payload,
        errorClass: 'permanent',
        errorMessage: data.errorMessage ?? 'PermanentError: 400 invalid_request_error',
        attempts: 1,
        ...(data.failedAt ? { failedAt: data.failedAt } : {}),
        ...(data.replayedAt ? { replayedAt: data.replayedAt, replayJobId: data.replayJobId ?? `${data.jobId}.replay-x` } : {}),
      },
    }),
  );
  return row.id;
}

export async function seedTransition(db: Db, negotiationId: string, t: { from: string; event: string; to: string; at: Date; details?: Prisma.InputJsonValue }): Promise<void> {
  await withTx(db, (tx) => tx.transition.create({ data: { negotiationId, fromState: t.from, event: t.event, toState: t.to, at: t.at, details: t.details ?? {} } }));
}

export async function seedAudit(db: Db, negotiationId: string, a: { actor: string; action: string; at: Date; details?: Prisma.InputJsonValue }): Promise<void> {
  await withTx(db, (tx) => tx.auditEntry.create({ data: { negotiationId, actor: a.actor, action: a.action, at: a.at, details: a.details ?? {} } }));
}

/** Adds a job as if it had been added `ageMs` ago (BullMQ keeps the given creation time). */
export async function addJob<Q extends QueueName>(queues: Queues, queue: Q, data: JobInput<Q>, jobId: string, ageMs = 0, attempts?: number): Promise<Job> {
  return queues[queue].add(JOBS[queue].name, data, { jobId, timestamp: Date.now() - ageMs, ...(attempts ? { attempts } : {}) });
}

/** Takes the next job with a manual worker and checks it is the one expected. */
export async function take(worker: Worker, jobId: string): Promise<{ job: Job; token: string }> {
  const token = randomUUID();
  const job = await worker.getNextJob(token, { block: false });
  if (job?.id !== jobId) throw new Error(`expected to take ${jobId}, took ${job?.id ?? 'nothing'}`);
  return { job, token };
}
