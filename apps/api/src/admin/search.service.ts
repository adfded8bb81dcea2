import type { Db } from '@parley/db';
import { emailDomain } from '@parley/logging';

export interface SearchHit {
  id: string;
  influencerName: string;
  /** Never the full address: the page shows the domain only, like everywhere else. */
  emailDomain: string;
  campaignName: string;
  state: string;
  claimedBy: string | null;
  gmailThreadId: string | null;
  updatedAt: Date;
}

export interface SearchResult {
  query: string;
  hits: SearchHit[];
  /** More matched than are shown. */
  truncated: boolean;
}

export const SEARCH_MAX_QUERY = 200;
const LIMIT = 50;

/**
 * Negotiations by influencer email (whole or part), Gmail thread id, negotiation id, or campaign
 * (name, part of it, or id). Queries come from a form body, never a URL: an address in a URL
 * would reach access logs.
 */
export async function searchNegotiations(db: Db, raw: string): Promise<SearchResult> {
  const query = raw.trim().slice(0, SEARCH_MAX_QUERY);
  if (query.length < 2) return { query, hits: [], truncated: false };
  const lower = query.toLowerCase();
  const rows = await db.negotiation.findMany({
    where: {
      OR: [
        { id: query },
        { gmailThreadId: query },
        { influencerEmail: { contains: lower } },
        { campaignId: query },
        { campaign: { name: { contains: query } } },
      ],
    },
    orderBy: { updatedAt: 'desc' },
    take: LIMIT + 1,
    select: { id: true, influencerName: true, influencerEmail: true, state: true, claimedBy: true, gmailThreadId: true, updatedAt: true, campaign: { select: { name: true } } },
  });
  return {
    query,
    truncated: rows.length > LIMIT,
    hits: rows.slice(0, LIMIT).map((r) => ({
      id: r.id,
      influencerName: r.influencerName,
      emailDomain: emailDomain(r.influencerEmail),
      campaignName: r.campaign.name,
      state: r.state,
      claimedBy: r.claimedBy,
      gmailThreadId: r.gmailThreadId,
      updatedAt: r.updatedAt,
    })),
  };
}
