import type { Db } from '@parley/db';
import { UsageError, CommandError } from '../errors';

/** States after which a negotiation needs no one: a reference prefers the others (as Slack's /claim does). */
const FINISHED = new Set(['agreed', 'declined', 'stale']);
const MAX_REF = 320;

/**
 * The negotiation an operator means by a negotiation id, a Gmail thread id or the influencer's
 * email. One email can have a negotiation per campaign: the open one wins, and when several
 * are open the error lists their ids (and never the address).
 */
export async function resolveNegotiation(db: Db, raw: string, usage: string): Promise<string> {
  const ref = raw.trim();
  if (ref === '' || ref.length > MAX_REF || /\s/.test(ref)) throw new UsageError('give a negotiation id, a Gmail thread id or the influencer’s email', usage);
  const rows = await db.negotiation.findMany({
    where: { OR: [{ id: ref }, { gmailThreadId: ref }, { influencerEmail: ref.toLowerCase() }] },
    orderBy: { createdAt: 'desc' },
    select: { id: true, state: true, campaign: { select: { name: true } } },
    take: 20,
  });
  if (rows.length === 0) throw new CommandError('no negotiation matches that id, thread or email');
  if (rows.length === 1 && rows[0]) return rows[0].id;
  const open = rows.filter((r) => !FINISHED.has(r.state));
  if (open.length === 1 && open[0]) return open[0].id;
  const list = (open.length > 0 ? open : rows).map((r) => `  ${r.id}  ${r.campaign.name} (${r.state})`).join('\n');
  throw new CommandError(`several negotiations match; give one of these ids:\n${list}`);
}
