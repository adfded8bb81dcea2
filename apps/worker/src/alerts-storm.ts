import { enqueue, jobIds, type JobData, type Queues, type RedisConnection } from '@parley/queue';

type Alert = JobData<'alerts'>;

export interface StormDeps {
  redis: RedisConnection;
  queues: Queues;
  /** QUEUE_PREFIX: the keys live beside the queues' (hash tags included). */
  prefix: string;
  /** SLACK_ALERTS_PER_MINUTE: alerts posted per window; the rest fold into one digest. */
  perWindow: number;
  /** @defaultValue 60000 */
  windowMs?: number;
  now: () => Date;
}

/** After its window ends, the digest waits this long for folds still being written. */
const DIGEST_GRACE_MS = 2_000;
/** Digest members outlive any retry of the digest job. */
const DIGEST_TTL_MS = 86_400_000;

export type StormDecision = { post: true } | { post: false; window: number };

const windowMsOf = (deps: Pick<StormDeps, 'windowMs'>) => deps.windowMs ?? 60_000;
const rateKey = (deps: StormDeps, window: number) => `${deps.prefix}:slack-alerts:rate:${window}`;
const digestKey = (prefix: string, window: number) => `${prefix}:slack-alerts:digest:${window}`;

export function digestAlertId(window: number): string {
  return `digest-${window}`;
}

/**
 * Takes a slot in the current window. The counter is one Redis key per window shared by every
 * worker process, so the limit holds for the fleet, not per process. A crash after taking a slot
 * and before posting wastes that slot: the channel gets fewer messages, never more.
 */
export async function takeSlot(deps: StormDeps): Promise<StormDecision> {
  const windowMs = windowMsOf(deps);
  const window = Math.floor(deps.now().getTime() / windowMs);
  const key = rateKey(deps, window);
  const result = await deps.redis.multi().incr(key).pexpire(key, windowMs * 2).exec();
  const count = Number(result?.[0]?.[1] ?? Number.POSITIVE_INFINITY);
  return count <= deps.perWindow ? { post: true } : { post: false, window };
}

/**
 * Folds an alert into its window's digest: a set member (so a retried fold counts once) and the
 * digest job, whose id is fixed per window so every process schedules the same one.
 */
export async function foldIntoDigest(deps: StormDeps, window: number, alert: Pick<Alert, 'alertId' | 'kind'>): Promise<void> {
  const windowMs = windowMsOf(deps);
  const key = digestKey(deps.prefix, window);
  await deps.redis.multi().sadd(key, `${alert.kind}\t${alert.alertId}`).pexpire(key, DIGEST_TTL_MS).exec();
  const alertId = digestAlertId(window);
  const delay = Math.max(0, (window + 1) * windowMs - deps.now().getTime() + DIGEST_GRACE_MS);
  await enqueue(deps.queues, 'alerts', { alertId, kind: 'digest', title: 'Alert digest', text: '', window, windowMs }, { jobId: jobIds.alert(alertId), delay });
}

/** How many alerts of each kind a window folded. */
export async function digestCounts(redis: RedisConnection, prefix: string, window: number): Promise<Record<string, number>> {
  const members = await redis.smembers(digestKey(prefix, window));
  const counts: Record<string, number> = {};
  for (const member of members) {
    const kind = member.split('\t')[0] ?? 'unknown';
    counts[kind] = (counts[kind] ?? 0) + 1;
  }
  return counts;
}
