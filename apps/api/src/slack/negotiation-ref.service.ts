import type { Db } from '@parley/db';

/** States after which a negotiation needs no one: a reference prefers the others. */
const FINISHED = new Set(['agreed', 'declined', 'stale']);

/** A command's argument resolved to one negotiation, or why it could not be. */
export type RefLookup = { ok: true; id: string } | { ok: false; message: string };

const MAX_REF = 320;

/**
 * Finds the negotiation an operator means by a negotiation id, a Gmail thread id or the
 * influencer's email. One email can have a negotiation per campaign: the open ones win, and
 * when several are open the operator is asked to pick by id.
 */
export async function findNegotiation(db: Db, raw: string): Promise<RefLookup> {
  // Slack wraps typed addresses as <mailto:a@b.c|a@b.c>; take the visible part.
  const ref = raw.trim().replace(/^<mailto:[^|>]*\|([^>]*)>$/i, '$1').replace(/^<([^|>]*)>$/, '$1');
  if (!ref) return { ok: false, message: 'Give a negotiation id, a Gmail thread id or the influencer’s email.' };
  if (ref.length > MAX_REF || /\s/.test(ref)) return { ok: false, message: 'That is not a negotiation id, a Gmail thread id or an email address.' };
  const rows = await db.negotiation.findMany({
    where: { OR: [{ id: ref }, { gmailThreadId: ref }, { influencerEmail: ref.toLowerCase() }] },
    orderBy: { createdAt: 'desc' },
    select: { id: true, state: true, campaign: { select: { name: true } } },
    take: 20,
  });
  if (rows.length === 0) return { ok: false, message: 'No negotiation matches that id, thread or email.' };
  if (rows.length === 1 && rows[0]) return { ok: true, id: rows[0].id };
  const open = rows.filter((r) => !FINISHED.has(r.state));
  if (open.length === 1 && open[0]) return { ok: true, id: open[0].id };
  const list = (open.length > 0 ? open : rows).map((r) => `• \`${r.id}\` ${r.campaign.name} (${r.state})`).join('\n');
  return { ok: false, message: `Several negotiations match; use an id:\n${list}` };
}
