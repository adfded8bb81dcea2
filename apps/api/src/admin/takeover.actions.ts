import type { Db } from '@parley/db';
import { claimNegotiation, resumeNegotiation, TakeoverError, type EngineCore } from '@parley/takeover';
import type { Notice } from './stuck.view';

/** Who acts from the dashboard: one shared token, so one name. */
export const ADMIN_ACTOR = 'admin';

export type TakeoverOutcome = 'claimed' | 'resumed' | 'claim_refused' | 'resume_refused' | 'missing';

/** The same engine operations as Slack's /claim and /resume (same transitions and audit entries). */
export async function dashboardTakeover(deps: EngineCore, negotiationId: string, what: 'claim' | 'resume'): Promise<TakeoverOutcome> {
  try {
    if (what === 'claim') await claimNegotiation(deps, { negotiationId, by: ADMIN_ACTOR });
    else await resumeNegotiation(deps, { negotiationId, by: ADMIN_ACTOR });
    return what === 'claim' ? 'claimed' : 'resumed';
  } catch (error) {
    if (!(error instanceof TakeoverError)) throw error;
    if (error.message.startsWith('no negotiation')) return 'missing';
    return what === 'claim' ? 'claim_refused' : 'resume_refused';
  }
}

export const TAKEOVER_OUTCOMES: readonly TakeoverOutcome[] = ['claimed', 'resumed', 'claim_refused', 'resume_refused', 'missing'];

/** The notice after a claim or resume, rebuilt from the row (only an outcome word travels in the URL). */
export async function takeoverNotice(db: Db, negotiationId: string, outcome: TakeoverOutcome): Promise<Notice> {
  const n = await db.negotiation.findUnique({ where: { id: negotiationId }, select: { state: true, claimedBy: true } });
  const holder = n?.claimedBy ? ` by ${n.claimedBy}` : '';
  switch (outcome) {
    case 'claimed':
      return { tone: 'notice', text: `Claimed${holder}: the agent will not write on this negotiation until it is resumed.` };
    case 'resumed':
      return { tone: 'notice', text: `Resumed: the agent has it again (state ${n?.state ?? '?'}).` };
    case 'claim_refused':
      return { tone: 'error', text: `Not claimed: the negotiation is ${n?.state ?? '?'}${holder}. Nothing changed.` };
    case 'resume_refused':
      return { tone: 'error', text: `Not resumed: the negotiation is not claimed (state ${n?.state ?? '?'}). Nothing changed.` };
    case 'missing':
      return { tone: 'error', text: 'No such negotiation.' };
  }
}
