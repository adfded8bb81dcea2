import { nextState, type NegotiationEvent, type NegotiationState } from '@parley/domain';
import { randomUUID } from 'node:crypto';
import { engineOfTx, isSqlTx, placeholder, Prisma, valuesList, type DatabaseEngine, type Negotiation, type Sql, type SqlArg, type Tx } from '@parley/db';
import { TransientError } from '@parley/queue';

/** Thrown when another step changed the negotiation since we read it; the queue retries. */
export class VersionConflictError extends TransientError {
  override name = 'VersionConflictError';
  constructor(negotiationId: string) {
    super(`negotiation ${negotiationId} changed concurrently; retrying the step`, 'version_conflict');
  }
}

/** The columns a transition may change beside the state (the version and updatedAt are its own). */
const WRITABLE = [
  'round',
  'currentOfferMinor',
  'lastAskMinor',
  'agreedRateMinor',
  'gmailThreadId',
  'lastMessageIdHdr',
  'followUps',
  'lastOutboundAt',
  'lastInboundAt',
  'claimedBy',
  'claimedAt',
  'claimedBySlackId',
  'escalationReason',
] as const satisfies readonly (keyof Negotiation)[];

export type NegotiationChanges = Partial<Pick<Negotiation, (typeof WRITABLE)[number]>>;

export interface TransitionInput {
  negotiation: { id: string; state: string; version: number };
  events: NegotiationEvent[];
  /** Column changes written with the transition (same statement as the version check). */
  data?: NegotiationChanges;
  details?: Record<string, unknown>;
  actor: string;
  at: Date;
}

/**
 * Applies events to a negotiation inside the caller's transaction: validates each step of the
 * state machine, bumps the version only if nobody else did (optimistic lock), and records
 * every transition and one audit entry. Returns the final state.
 */
export async function applyTransitions(tx: Tx | Sql, input: TransitionInput): Promise<NegotiationState> {
  const { negotiation, events, at } = input;
  let state = negotiation.state as NegotiationState;
  const steps: { from: NegotiationState; event: NegotiationEvent; to: NegotiationState }[] = [];
  for (const event of events) {
    const to = nextState(state, event);
    steps.push({ from: state, event, to });
    state = to;
  }
  const updated = isSqlTx(tx)
    ? await updateNegotiation(tx, negotiation, state, input.data ?? {})
    : (
        await tx.negotiation.updateMany({
          where: { id: negotiation.id, version: negotiation.version },
          data: { ...input.data, state, version: { increment: 1 } },
        })
      ).count;
  if (updated !== 1) throw new VersionConflictError(negotiation.id);
  const details = (input.details ?? {}) as Prisma.InputJsonObject;
  if (steps.length > 0) {
    // The step's transitions share a timestamp; a millisecond apart keeps their order readable.
    const transitions = steps.map((s, i) => ({ negotiationId: negotiation.id, fromState: s.from, event: s.event, toState: s.to, details, at: new Date(at.getTime() + i) }));
    const audit = {
      negotiationId: negotiation.id,
      actor: input.actor,
      action: steps.map((s) => s.event).join('+'),
      details: { from: negotiation.state, to: state, ...details } as Prisma.InputJsonObject,
      at,
    };
    const engine = isSqlTx(tx) ? tx.engine : engineOfTx(tx);
    if (engine) await insertTrail(isSqlTx(tx) ? (sql, ...args) => tx.execute(sql, ...args) : (sql, ...args) => tx.$executeRawUnsafe(sql, ...args), engine, transitions, audit);
    else if (!isSqlTx(tx)) {
      await tx.transition.createMany({ data: transitions });
      await tx.auditEntry.create({ data: audit });
    }
  }
  return state;
}

/**
 * The transitions and the audit entry in raw SQL: every step writes them, and through Prisma's
 * client each insert cost about 2.5 times its raw statement (its query compiler, docs/benchmarks.md).
 * Values are bound as Prisma binds them (a Date, the JSON as text; jsonb on PostgreSQL), so
 * the rows read back as Prisma's own (packages/takeover/src/transitions.test.ts, both engines).
 */
async function insertTrail(
  execute: (sql: string, ...args: SqlArg[]) => Promise<number>,
  engine: DatabaseEngine,
  transitions: { negotiationId: string; fromState: string; event: string; toState: string; details: Prisma.InputJsonObject; at: Date }[],
  audit: { negotiationId: string; actor: string; action: string; details: Prisma.InputJsonObject; at: Date },
): Promise<void> {
  await execute(
    `INSERT INTO "Transition" ("id", "negotiationId", "fromState", "event", "toState", "details", "at") VALUES ${valuesList(engine, transitions.length, ['', '', '', '', '', '::jsonb', ''])}`,
    ...transitions.flatMap((t) => [randomUUID(), t.negotiationId, t.fromState, t.event, t.toState, JSON.stringify(t.details), t.at]),
  );
  await execute(
    `INSERT INTO "AuditEntry" ("id", "negotiationId", "actor", "action", "details", "at") VALUES ${valuesList(engine, 1, ['', '', '', '', '::jsonb', ''])}`,
    randomUUID(),
    audit.negotiationId,
    audit.actor,
    audit.action,
    JSON.stringify(audit.details),
    audit.at,
  );
}

/**
 * The negotiation's row changed in raw SQL, as Prisma's updateMany above changes it: the
 * version checked and bumped in the same statement, updatedAt set to the clock's time as
 * @updatedAt does. Answers the rows changed (0 when another step moved the version).
 */
async function updateNegotiation(tx: Sql, negotiation: TransitionInput['negotiation'], state: NegotiationState, data: NegotiationChanges): Promise<number> {
  const $ = (n: number) => placeholder(tx.engine, n);
  // Column names come from this list only; a change the list lacks is refused, not dropped.
  const unknown = Object.keys(data).filter((key) => !(WRITABLE as readonly string[]).includes(key));
  if (unknown.length > 0) throw new Error(`a transition cannot change ${unknown.join(', ')}`);
  const columns = WRITABLE.filter((column) => data[column] !== undefined);
  const values: SqlArg[] = columns.map((column) => data[column] ?? null);
  const sets = columns.map((column, i) => `"${column}" = ${$(i + 1)}`);
  const n = columns.length;
  sets.push(`"state" = ${$(n + 1)}`, `"version" = "version" + 1`, `"updatedAt" = ${$(n + 2)}`);
  return tx.execute(`UPDATE "Negotiation" SET ${sets.join(', ')} WHERE "id" = ${$(n + 3)} AND "version" = ${$(n + 4)}`, ...values, state, new Date(), negotiation.id, negotiation.version);
}

/**
 * Runs `fn` again when it hits a version conflict (it must re-read the negotiation each time).
 * For cheap writes with no LLM call in them (claim, resume, escalate): a human's command or
 * the outage sweep should not fail because a step committed a moment earlier.
 */
export async function retryOnConflict<T>(fn: () => Promise<T>, attempts = 3): Promise<T> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await fn();
    } catch (error) {
      if (!(error instanceof VersionConflictError) || attempt >= attempts) throw error;
    }
  }
}
