import { nextState, type NegotiationEvent, type NegotiationState } from '@parley/domain';
import { randomUUID } from 'node:crypto';
import { engineOfTx, Prisma, valuesList, type DatabaseEngine, type Tx } from '@parley/db';
import { TransientError } from '@parley/queue';

/** Thrown when another step changed the negotiation since we read it; the queue retries. */
export class VersionConflictError extends TransientError {
  override name = 'VersionConflictError';
  constructor(negotiationId: string) {
    super(`negotiation ${negotiationId} changed concurrently; retrying the step`, 'version_conflict');
  }
}

export interface TransitionInput {
  negotiation: { id: string; state: string; version: number };
  events: NegotiationEvent[];
  /** Column changes written with the transition (same statement as the version check). */
  data?: Prisma.NegotiationUpdateManyMutationInput;
  details?: Record<string, unknown>;
  actor: string;
  at: Date;
}

/**
 * Applies events to a negotiation inside the caller's transaction: validates each step of the
 * state machine, bumps the version only if nobody else did (optimistic lock), and records
 * every transition and one audit entry. Returns the final state.
 */
export async function applyTransitions(tx: Tx, input: TransitionInput): Promise<NegotiationState> {
  const { negotiation, events, at } = input;
  let state = negotiation.state as NegotiationState;
  const steps: { from: NegotiationState; event: NegotiationEvent; to: NegotiationState }[] = [];
  for (const event of events) {
    const to = nextState(state, event);
    steps.push({ from: state, event, to });
    state = to;
  }
  const updated = await tx.negotiation.updateMany({
    where: { id: negotiation.id, version: negotiation.version },
    data: { ...input.data, state, version: { increment: 1 } },
  });
  if (updated.count !== 1) throw new VersionConflictError(negotiation.id);
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
    const engine = engineOfTx(tx);
    if (engine) await insertTrail(tx, engine, transitions, audit);
    else {
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
  tx: Tx,
  engine: DatabaseEngine,
  transitions: { negotiationId: string; fromState: string; event: string; toState: string; details: Prisma.InputJsonObject; at: Date }[],
  audit: { negotiationId: string; actor: string; action: string; details: Prisma.InputJsonObject; at: Date },
): Promise<void> {
  await tx.$executeRawUnsafe(
    `INSERT INTO "Transition" ("id", "negotiationId", "fromState", "event", "toState", "details", "at") VALUES ${valuesList(engine, transitions.length, ['', '', '', '', '', '::jsonb', ''])}`,
    ...transitions.flatMap((t) => [randomUUID(), t.negotiationId, t.fromState, t.event, t.toState, JSON.stringify(t.details), t.at]),
  );
  await tx.$executeRawUnsafe(
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
