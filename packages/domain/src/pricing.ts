import { currencyExponent } from './money';

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
  /**
   * Offers are rounded to this many whole units of the currency ($5: "$1,165", not
   * "$1,166.66"). Absent: offers are exact to the minor unit.
   */
  priceStep?: number;
}

export function priceAtCpm(cpmMinor: number, averageViews: number): number {
  return Math.round((cpmMinor * averageViews) / 1000);
}

/** The price at the floor CPM, before rounding to the step. */
export function floorPrice(t: PricingTerms): number {
  return priceAtCpm(t.cpmFloorMinor, t.averageViews);
}

/** The most the policy will ever offer or accept. */
export function ceilingPrice(t: PricingTerms): number {
  return priceAtCpm(t.cpmCeilingMinor, t.averageViews);
}

/** The step in minor units (1 when there is none). */
export function stepMinor(t: PricingTerms): number {
  if (t.priceStep === undefined) return 1;
  return t.priceStep * 10 ** currencyExponent(t.currency);
}

/**
 * An offer of about `value` as a person would write it: the nearest multiple of the step,
 * kept inside floor..ceiling. When the nearest multiple would pass the ceiling it rounds down;
 * when it would fall under the floor it rounds up; when no multiple lies between floor and
 * ceiling at all, the exact value stands (clamped to them) rather than break either bound.
 */
export function roundOffer(t: PricingTerms, value: number): number {
  const low = floorPrice(t);
  const high = ceilingPrice(t);
  const step = stepMinor(t);
  const down = Math.floor(value / step) * step;
  const up = down === value ? value : down + step;
  const nearest = value - down >= up - value ? up : down;
  for (const candidate of [nearest, up, down]) {
    if (candidate >= low && candidate <= high) return candidate;
  }
  return Math.min(Math.max(value, low), high);
}

/** The first offer: the floor price, rounded to the step (up, unless that passes the ceiling). */
export function openingOffer(t: PricingTerms): number {
  return roundOffer(t, floorPrice(t));
}

/**
 * The offer after `round` counters: a straight line from the floor (round 0) to the ceiling
 * (round maxRounds), rounded down to the minor unit so a concession never overshoots the line,
 * then to the step inside floor..ceiling.
 */
export function offerForRound(t: PricingTerms, round: number): number {
  const floor = floorPrice(t);
  const ceiling = ceilingPrice(t);
  if (!(t.maxRounds > 0) || !Number.isFinite(round)) return openingOffer(t);
  const r = Math.min(Math.max(Math.trunc(round), 0), t.maxRounds);
  return roundOffer(t, floor + Math.floor(((ceiling - floor) * r) / t.maxRounds));
}

/**
 * Terms the policy can act on: CPMs and views whole non-negative numbers (minor units and view
 * counts are integers), floor at or under ceiling, whole rounds, a currency code, a step of at
 * least one whole unit when there is one.
 */
export function validTerms(t: PricingTerms): boolean {
  const nums = [t.cpmFloorMinor, t.cpmCeilingMinor, t.maxRounds, t.averageViews];
  return (
    nums.every((n) => Number.isSafeInteger(n) && n >= 0) &&
    Number.isSafeInteger(t.cpmCeilingMinor * t.averageViews) &&
    (t.priceStep === undefined || (Number.isSafeInteger(t.priceStep) && t.priceStep >= 1 && t.priceStep <= 1_000_000)) &&
    t.cpmFloorMinor <= t.cpmCeilingMinor &&
    /^[A-Za-z]{3}$/.test(t.currency)
  );
}
