import { isIP } from 'node:net';
import { z } from 'zod';
import { SECRET_HINT, weakSecretReason } from './secrets';

/** Which process is starting: each requires the integrations it actually uses. */
export type Role = 'api' | 'worker' | 'any';

const optionalString = z.string().trim().min(1).optional();
const int = (def: number, min = 0) => z.coerce.number().int().min(min).default(def);
const url = (hint: string) => z.string().trim().url({ message: `must be a URL (${hint})` });

/** A bearer secret operators set by hand: refused unless it looks random (see weakSecretReason). */
const randomSecret = z
  .string()
  .trim()
  .max(512, { message: 'must be at most 512 characters' })
  .superRefine((value, issue) => {
    const reason = weakSecretReason(value);
    if (reason) issue.addIssue({ code: z.ZodIssueCode.custom, message: `must look random: it ${reason}; ${SECRET_HINT}` });
  });

const PROXY_NAMES = new Set(['loopback', 'linklocal', 'uniquelocal']);

/** TRUST_PROXY as Express's `trust proxy` takes it: a hop count or a list; undefined when invalid. */
function parseTrustProxy(value: string): number | string[] | undefined {
  if (/^\d{1,2}$/.test(value)) return Number(value);
  const parts = value.split(',').map((part) => part.trim());
  const valid = (part: string) => {
    if (PROXY_NAMES.has(part)) return true;
    const [address = '', prefix, ...rest] = part.split('/');
    const family = isIP(address);
    if (family === 0 || rest.length > 0) return false;
    return prefix === undefined || (/^\d{1,3}$/.test(prefix) && Number(prefix) <= (family === 4 ? 32 : 128));
  };
  return parts.every(valid) ? parts : undefined;
}

/** A `host:port` of a Redis Sentinel or Cluster node; an IPv6 address in brackets ([::1]:26379). */
export interface HostPort {
  host: string;
  port: number;
}

/** A comma-separated `host:port` list, or the reason it is not one. */
export function parseHostPorts(value: string): HostPort[] | string {
  const items = value.split(',').map((item) => item.trim());
  const parsed: HostPort[] = [];
  for (const item of items) {
    const match = /^(?:\[([0-9A-Fa-f:.]+)\]|([A-Za-z0-9.-]+)):(\d{1,5})$/.exec(item);
    const port = Number(match?.[3]);
    if (!match || port < 1 || port > 65535) return item === '' ? 'an entry is empty' : `"${item}" is not host:port`;
    const host = match[1] ?? match[2] ?? '';
    if (match[1] !== undefined && isIP(host) !== 6) return `"${item}" is not an IPv6 address in brackets`;
    if (parsed.some((p) => p.host === host && p.port === port)) return `"${item}" is listed twice`;
    parsed.push({ host, port });
  }
  return parsed;
}

const hostPortList = (what: string, example: string) =>
  z
    .string()
    .trim()
    .optional()
    .transform((value, ctx) => {
      if (value === undefined || value === '') return undefined;
      const parsed = parseHostPorts(value);
      if (typeof parsed === 'string') {
        ctx.addIssue({ code: 'custom', message: `must be a comma-separated list of host:port (${what}), e.g. ${example}: ${parsed}` });
        return z.NEVER;
      }
      return parsed;
    });

/**
 * The hash tag Redis Cluster hashes a key by: the text between the first `{` and the next `}`,
 * when not empty. Every key of a queue starts with the prefix, so a tagged prefix puts all of
 * them in one slot; undefined when the prefix has no tag.
 */
export function hashTagOf(prefix: string): string | undefined {
  const open = prefix.indexOf('{');
  if (open === -1) return undefined;
  const close = prefix.indexOf('}', open + 1);
  return close > open + 1 ? prefix.slice(open + 1, close) : undefined;
}

const GOOGLE_TOKEN_URL_DEFAULT = 'https://oauth2.googleapis.com/token';
const GOOGLE_CERTS_URL_DEFAULT = 'https://www.googleapis.com/oauth2/v1/certs';

export const envSchema = z.object({
  NODE_ENV: z.enum(['development', 'production', 'test']).default('production'),
  REDIS_URL: z
    .string()
    .trim()
    .regex(/^rediss?:\/\//, { message: 'must be a redis:// or rediss:// URL, e.g. redis://127.0.0.1:6379' })
    .default('redis://127.0.0.1:6379'),
  /**
   * Redis Sentinel (a primary with replicas, promoted by the sentinels): the sentinels and the
   * master name they monitor. REDIS_URL then gives only the data nodes' password, database and TLS.
   */
  REDIS_SENTINELS: hostPortList('the sentinels', 'sentinel-1:26379,sentinel-2:26379,sentinel-3:26379'),
  REDIS_SENTINEL_NAME: z
    .string()
    .trim()
    .regex(/^[A-Za-z0-9_.-]+$/, { message: 'must be the master name the sentinels monitor (letters, digits, _ . -), e.g. parley' })
    .optional(),
  /** The sentinels' own password (requirepass in sentinel.conf), when they have one. */
  REDIS_SENTINEL_PASSWORD: optionalString,
  /** Redis Cluster: some of its nodes (the rest are discovered). REDIS_URL then gives only the password and TLS. */
  REDIS_CLUSTER_NODES: hostPortList('some nodes of the cluster', 'redis-1:6379,redis-2:6379,redis-3:6379'),
  DATABASE_URL: z
    .string()
    .trim()
    .regex(/^(file:|postgres(ql)?:\/\/)/, { message: 'must be a SQLite file URL (file:./data/parley.db) or a PostgreSQL URL (postgresql://user:password@host:5432/parley)' })
    .default('file:./data/parley.db'),
  /**
   * SQLite: how often a thread of each process copies the write-ahead log back into the
   * database file (a PASSIVE checkpoint), instead of a commit doing it on the event loop; 0
   * leaves it to SQLite's automatic checkpoint inside commits.
   */
  SQLITE_CHECKPOINT_MS: int(1000, 0),
  PORT: int(3000, 0).refine((p) => p <= 65535, { message: 'must be a TCP port (0-65535)' }),
  LOG_LEVEL: z.enum(['error', 'warn', 'info', 'http', 'verbose', 'debug', 'silly']).default('info'),

  ANTHROPIC_API_KEY: optionalString,
  ANTHROPIC_BASE_URL: url('the Anthropic API root, e.g. https://api.anthropic.com').optional(),
  ANTHROPIC_MODEL: z.string().trim().min(1).default('claude-sonnet-5-5'),
  ANTHROPIC_TIMEOUT_MS: int(60_000, 1),
  /** The account's limits (requests, input and output tokens per minute); unset: learned from the API's rate-limit headers. */
  ANTHROPIC_RPM: z.coerce.number().int().min(1).optional(),
  ANTHROPIC_ITPM: z.coerce.number().int().min(1).optional(),
  ANTHROPIC_OTPM: z.coerce.number().int().min(1).optional(),
  /** Fleet-wide ceiling of LLM calls in flight (a 529 halves it, successes bring it back). */
  ANTHROPIC_MAX_IN_FLIGHT: int(50, 1),
  /** How long a step waits for the LLM gate before the queue takes over the retry. */
  ANTHROPIC_GATE_MAX_WAIT_MS: int(120_000, 1),

  GOOGLE_CLIENT_ID: optionalString,
  GOOGLE_CLIENT_SECRET: optionalString,
  GOOGLE_REFRESH_TOKEN: optionalString,
  /** An authorized-user token JSON ({client_id, client_secret, refresh_token}) instead of the three above. */
  GOOGLE_TOKEN_JSON: optionalString,
  GOOGLE_API_ROOT_URL: url('a Google API root, e.g. https://gmail.googleapis.com/').optional(),
  GOOGLE_TOKEN_URL: url('the OAuth token endpoint').default(GOOGLE_TOKEN_URL_DEFAULT),
  GOOGLE_CERTS_URL: url("Google's PEM signing certs").default(GOOGLE_CERTS_URL_DEFAULT),
  GMAIL_MAILBOX: z.string().trim().email({ message: 'must be the Gmail address Parley sends from' }).optional(),
  GMAIL_PUBSUB_TOPIC: z
    .string()
    .trim()
    .regex(/^projects\/[^/]+\/topics\/[^/]+$/, { message: 'must look like projects/<project>/topics/<topic>' })
    .optional(),
  /** How long a Gmail request may take; one given up on is reset, never delivered later. */
  GMAIL_TIMEOUT_MS: int(30_000, 100),
  /**
   * A send handed to Gmail whose outcome is unknown (no answer: a crash, a timeout, a lost job
   * lock) is sent again only this long after it was handed over, once a lookup finds no such
   * email: by then the first request was answered, reset or given up. Must exceed GMAIL_TIMEOUT_MS.
   */
  GMAIL_SEND_SETTLE_MS: int(45_000, 100),
  /**
   * Messages one mailbox sync pass reads from Gmail at once. Gmail allows a user about 50
   * messages.get a second (250 quota units, 5 each): 4 in flight stay under it at Gmail's usual
   * latency, and a 429 is retried after its wait like any other.
   */
  GMAIL_FETCH_CONCURRENCY: int(4, 1),
  PUBSUB_AUDIENCE: optionalString,
  PUBSUB_SERVICE_ACCOUNT: z.string().trim().email({ message: 'must be the push service account email' }).optional(),

  CLICKUP_WEBHOOK_SECRET: optionalString,
  CLICKUP_API_TOKEN: optionalString,
  CLICKUP_API_URL: url('e.g. https://api.clickup.com/api/v2').default('https://api.clickup.com/api/v2'),
  CLICKUP_TRIGGER_STATUS: z.string().trim().min(1).default('ready'),

  SLACK_BOT_TOKEN: z.string().trim().startsWith('xoxb-', { message: 'must be a bot token starting with xoxb-' }).optional(),
  SLACK_APP_TOKEN: z.string().trim().startsWith('xapp-', { message: 'must be an app-level token starting with xapp-' }).optional(),
  SLACK_SIGNING_SECRET: optionalString,
  SLACK_ALERT_CHANNEL: optionalString,
  SLACK_API_URL: url('e.g. https://slack.com/api/').optional(),
  /** Slack user ids (U…/W…) or one user group id (S…), comma-separated, allowed to act from Slack; unset = everyone. */
  SLACK_OPERATORS: z
    .string()
    .trim()
    .regex(/^[UWS][A-Z0-9]+(\s*,\s*[UWS][A-Z0-9]+)*$/, { message: 'must be Slack user ids (U…, W…) or a user group id (S…), comma-separated' })
    .optional(),
  /** Alerts posted per minute before the rest of that minute folds into one digest. */
  SLACK_ALERTS_PER_MINUTE: int(10, 1),
  /** The address operators reach the API at (links in Slack messages), e.g. https://parley.example.com */
  PUBLIC_URL: url('the public base URL of the API, e.g. https://parley.example.com').default('http://localhost:3000'),

  SENTRY_DSN: url('the project DSN from Sentry').optional(),
  SENTRY_ENVIRONMENT: z.string().trim().min(1).default('production'),
  /** The release reported to Sentry; defaults to the package version. */
  SENTRY_RELEASE: optionalString,
  /** Protects /admin; must look random (at least 24 characters, no words or patterns). */
  ADMIN_TOKEN: randomSecret.optional(),
  /** Bearer for /metrics and readiness details; required in production (API, and a worker serving metrics). */
  METRICS_TOKEN: randomSecret.optional(),
  /** When set, each worker serves its own metrics on this port (0 = any free port). */
  WORKER_METRICS_PORT: z.coerce.number().int().min(0).max(65535).optional(),

  QUEUE_PREFIX: z
    .string()
    .trim()
    .regex(/^[A-Za-z0-9_{}.-]+$/, { message: 'may hold letters, digits, _ . - { } only' })
    .default('parley'),
  WORKER_CONCURRENCY: int(5, 1),
  /** Per-queue jobs in flight per worker process (concurrencyFor); unset: WORKER_CONCURRENCY. */
  GMAIL_NOTIFICATIONS_CONCURRENCY: z.coerce.number().int().min(1).optional(),
  CAMPAIGN_TASKS_CONCURRENCY: z.coerce.number().int().min(1).optional(),
  /** Steps mostly wait on the LLM (whose gate bounds the fleet), so many run at once. */
  NEGOTIATION_STEPS_CONCURRENCY: int(50, 1),
  OUTBOUND_EMAIL_CONCURRENCY: z.coerce.number().int().min(1).optional(),
  ALERTS_CONCURRENCY: z.coerce.number().int().min(1).optional(),
  MAINTENANCE_CONCURRENCY: z.coerce.number().int().min(1).optional(),
  SHUTDOWN_GRACE_MS: int(25_000, 0),

  /** API: a request's headers must arrive within this (slowloris); answered 408. */
  HTTP_HEADERS_TIMEOUT_MS: int(10_000, 100),
  /** API: the whole request (headers and body) must arrive within this; answered 408. */
  HTTP_REQUEST_TIMEOUT_MS: int(15_000, 100),
  /** API: an idle keep-alive socket is closed after this (above a proxy's idle timeout). */
  HTTP_KEEP_ALIVE_TIMEOUT_MS: int(65_000, 100),
  /** API: connections beyond this are closed as they arrive. */
  HTTP_MAX_CONNECTIONS: int(512, 1),
  /**
   * API: request bodies held at once, all routes together, in bytes; a request whose body would
   * pass it is answered 503 with Retry-After before a byte is read. At least the largest body
   * limit (1 MiB, Slack's).
   */
  HTTP_BODY_BUDGET_BYTES: int(64 * 1024 * 1024, 1024 * 1024),
  /**
   * API: the proxies in front whose X-Forwarded-For is believed, so the client's own address
   * (not the proxy's) is what failed admin logins are counted against. Unset: none (the socket's
   * address). A hop count ("1": the nearest proxy, as with Caddy in the compose file) or a comma
   * list of addresses, subnets and Express's names (loopback, linklocal, uniquelocal). "true"
   * (believe anyone) is refused: any client could then choose its own address.
   */
  TRUST_PROXY: z
    .string()
    .trim()
    .optional()
    .transform((v, ctx) => {
      if (v === undefined || v === '') return undefined;
      const parsed = parseTrustProxy(v);
      if (parsed === undefined) {
        ctx.addIssue({ code: 'custom', message: 'must be a hop count (e.g. 1) or a comma list of addresses, subnets, loopback, linklocal or uniquelocal; never true' });
        return z.NEVER;
      }
      return parsed;
    }),
  /** Stalled-job detection: a job whose lock is not renewed for this long is handed to another worker. */
  JOB_LOCK_DURATION_MS: int(30_000, 1000),
  JOB_STALLED_INTERVAL_MS: int(30_000, 500),
  /** Stalls a job may have and still run; past them a work job is set aside (below), a scheduled one skipped. */
  JOB_MAX_STALLED_COUNT: int(2, 0),
  /** Cool-downs a work job that keeps stalling gets before it becomes a dead letter (0: at once). */
  JOB_STALL_COOLDOWNS: int(2, 0),
  /** The first cool-down of a job that keeps stalling; each next one is twice as long. */
  JOB_STALL_COOLDOWN_MS: int(60_000, 100),
  LLM_OUTAGE_ESCALATE_AFTER: int(900, 1),
  FOLLOW_UP_AFTER: int(259_200, 1),
  /** How often the maintenance sweeps (follow-ups, stuck negotiations, lost deliveries) run. */
  MAINTENANCE_INTERVAL_MS: int(60_000, 500),
  /** A worker touches this file every few seconds (the container healthcheck reads its age). */
  PARLEY_ALIVE_FILE: optionalString,
  MAX_FOLLOW_UPS: int(2, 0),
  /** Offers are rounded to this many whole units of the currency (never above the ceiling). */
  PRICE_STEP: int(5, 1),

  /** Retry tuning (seconds in production; tests shorten them). */
  RETRY_TRANSIENT_BASE_MS: int(5_000, 1),
  RETRY_TRANSIENT_ATTEMPTS: int(5, 1),
  RETRY_OVERLOADED_BASE_MS: int(30_000, 1),
  RETRY_OVERLOADED_CAP_MS: int(600_000, 1),
  RETRY_OVERLOADED_ATTEMPTS: int(8, 1),
  RETRY_RATE_LIMIT_DEFAULT_MS: int(30_000, 1),
  RETRY_RATE_LIMIT_MAX: int(20, 1),
});

export type Env = z.infer<typeof envSchema>;

type Requirement = { vars: (keyof Env)[]; why: string; anyOf?: boolean };

const REQUIRED: Record<Exclude<Role, 'any'>, Requirement[]> = {
  api: [
    { vars: ['PUBSUB_AUDIENCE'], why: 'the Gmail push endpoint verifies the OIDC token audience' },
    { vars: ['PUBSUB_SERVICE_ACCOUNT'], why: 'the Gmail push endpoint checks the signing service account' },
    { vars: ['CLICKUP_WEBHOOK_SECRET'], why: 'the ClickUp endpoint verifies X-Signature' },
  ],
  worker: [],
};

export class ConfigError extends Error {
  override name = 'ConfigError';
  constructor(public readonly problems: string[]) {
    super(`Invalid configuration (${problems.length} problem${problems.length === 1 ? '' : 's'}):\n` + problems.map((p) => `  - ${p}`).join('\n'));
  }
}

/**
 * Parses the environment once. Pure: it never reads files or exits; it throws one ConfigError
 * that lists every bad or missing variable with its fix.
 */
export function parseEnv(env: Record<string, string | undefined>, role: Role = 'any'): Readonly<Env> {
  // Empty strings mean "unset" (docker compose passes `VAR=` through).
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v.trim() !== ''));
  const result = envSchema.safeParse(cleaned);
  const problems: string[] = [];
  if (!result.success) {
    for (const issue of result.error.issues) {
      const name = String(issue.path[0] ?? '?');
      problems.push(`${name}: ${issue.message} (got ${describe(cleaned[name])})`);
    }
  }
  if (role !== 'any') {
    for (const req of REQUIRED[role]) {
      const missing = req.vars.filter((v) => cleaned[v] === undefined);
      if (missing.length > 0) problems.push(`${missing.join(', ')}: required for the ${role} (${req.why}); set it in the environment or .env`);
    }
  }
  if (result.success) problems.push(...crossChecks(result.data, role));
  if (problems.length > 0 || !result.success) throw new ConfigError(problems);
  return Object.freeze(result.data);
}

/** Rules that relate several variables (the schema checks each one alone). */
function crossChecks(env: Env, role: Role): string[] {
  const problems: string[] = [];
  // Metrics and readiness details tell an outsider queue sizes, states and what is failing.
  const servesMetrics = role === 'api' || (role === 'worker' && env.WORKER_METRICS_PORT !== undefined);
  if (env.NODE_ENV === 'production' && servesMetrics && env.METRICS_TOKEN === undefined) {
    const what = role === 'api' ? 'the API serves /metrics and readiness details' : 'WORKER_METRICS_PORT serves /metrics';
    problems.push(`METRICS_TOKEN: required in production (${what}; scrapers send it as a bearer token); ${SECRET_HINT}`);
  }
  problems.push(...redisProblems(env));
  if (env.GMAIL_SEND_SETTLE_MS <= env.GMAIL_TIMEOUT_MS) {
    problems.push(
      `GMAIL_SEND_SETTLE_MS: must exceed GMAIL_TIMEOUT_MS (${env.GMAIL_TIMEOUT_MS}); a send with no answer is sent again only after its first request was given up, or the email can go out twice`,
    );
  }
  if (env.HTTP_HEADERS_TIMEOUT_MS > env.HTTP_REQUEST_TIMEOUT_MS) {
    problems.push(`HTTP_HEADERS_TIMEOUT_MS: must not exceed HTTP_REQUEST_TIMEOUT_MS (${env.HTTP_REQUEST_TIMEOUT_MS}); the headers are part of the request`);
  }
  return problems;
}

/** Sentinel and Cluster settings that only make sense together (docs/scaling.md). */
function redisProblems(env: Env): string[] {
  const problems: string[] = [];
  const sentinel = env.REDIS_SENTINELS !== undefined;
  const cluster = env.REDIS_CLUSTER_NODES !== undefined;
  if (sentinel && cluster) {
    problems.push('REDIS_SENTINELS, REDIS_CLUSTER_NODES: set one of them, not both: Sentinel fails over one primary with its replicas, Cluster shards the keys over several primaries');
  }
  if (sentinel && env.REDIS_SENTINEL_NAME === undefined) {
    problems.push('REDIS_SENTINEL_NAME: required with REDIS_SENTINELS (the name in the sentinels\' "sentinel monitor <name> ..." line)');
  }
  if (!sentinel && env.REDIS_SENTINEL_NAME !== undefined) {
    problems.push('REDIS_SENTINELS: required with REDIS_SENTINEL_NAME (the sentinels to ask for that primary)');
  }
  if (cluster) {
    if (hashTagOf(env.QUEUE_PREFIX) === undefined) {
      problems.push(
        `QUEUE_PREFIX: must hold a hash tag on Redis Cluster, e.g. {${env.QUEUE_PREFIX.replace(/[{}]/g, '') || 'parley'}}: ` +
          "BullMQ's Lua scripts read and write several keys of a queue at once, and Cluster runs a script only when all its keys hash to one slot; " +
          'a {tag} in the prefix makes every key of every queue hash by that tag',
      );
    }
    if (redisDatabase(env.REDIS_URL) !== 0) {
      problems.push('REDIS_URL: Redis Cluster has only database 0; remove the database number from the URL');
    }
  }
  return problems;
}

/** The database number REDIS_URL selects (0 when it names none), NaN when unreadable. */
function redisDatabase(url: string): number {
  try {
    const path = new URL(url).pathname.replace(/^\//, '');
    return path === '' ? 0 : Number(path);
  } catch {
    return Number.NaN;
  }
}

function describe(value: string | undefined): string {
  if (value === undefined) return 'nothing';
  // Never echo a secret back: show only its length.
  return `a value of ${value.length} characters`;
}

/** Jobs in flight per worker process for a queue: `<QUEUE>_CONCURRENCY`, else WORKER_CONCURRENCY. */
export function concurrencyFor(env: Env, queue: string): number {
  const name = `${queue.toUpperCase().replace(/-/g, '_')}_CONCURRENCY`;
  const value = (env as Record<string, unknown>)[name];
  return typeof value === 'number' ? value : env.WORKER_CONCURRENCY;
}

/** Integration settings resolved from the env, or a ConfigError naming what is missing. */
export function requireVars<K extends keyof Env>(config: Env, what: string, vars: K[]): { [P in K]-?: NonNullable<Env[P]> } {
  const missing = vars.filter((v) => config[v] === undefined);
  if (missing.length > 0) throw new ConfigError(missing.map((v) => `${String(v)}: required for ${what}; set it in the environment`));
  return Object.fromEntries(vars.map((v) => [v, config[v]])) as { [P in K]-?: NonNullable<Env[P]> };
}
