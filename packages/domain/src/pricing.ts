/**
 * Prices come from CPM (cost per thousand views, in minor units) times the influencer's
 * average views. All results are integer minor units.
 */
export interface PricingTerms {
  cpmFloorMinor: number;
  cpmCeilingMinor: number;
  maxRounds: number;
  currency: string;
  averageViews: number;
}

export function priceAtCpm(cpmMinor: number, averageViews: number): number {
  return Math.round((cpmMinor * averageViews) / 1000);
}

/** The first offer is always the floor price. */
export function openingOffer(t: PricingTerms): number {
  return priceAtCpm(t.cpmFloorMinor, t.averageViews);
}

/** The most the policy will ever offer or accept. */
export function ceilingPrice(t: PricingTerms): number {
  return priceAtCpm(t.cpmCeilingMinor, t.averageViews);
}

/**
 * The offer after `round` counters: a straight line from the floor (round 0) to the ceiling
 * (round maxRounds), rounded down so a concession never overshoots the line.
 */
export function offerForRound(t: PricingTerms, round: number): number {
  const floor = openingOffer(t);
  const ceiling = ceilingPrice(t);
  if (!(t.maxRounds > 0) || !Number.isFinite(round)) return floor;
  const r = Math.min(Math.max(Math.trunc(round), 0), t.maxRounds);
  return floor + Math.floor(((ceiling - floor) * r) / t.maxRounds);
}

/** Terms the policy can act on: finite, non-negative, floor at or under ceiling, a currency. */
export function validTerms(t: PricingTerms): boolean {
  const nums = [t.cpmFloorMinor, t.cpmCeilingMinor, t.maxRounds, t.averageViews];
  return (
    nums.every((n) => Number.isFinite(n) && n >= 0) &&
    Number.isInteger(t.maxRounds) &&
    t.cpmFloorMinor <= t.cpmCeilingMinor &&
    /^[A-Za-z]{3}$/.test(t.currency)
  );
}
