import fc from 'fast-check';
import { decide, type Decision, type ReplyIntent, type ReplyReading } from './policy';
import { ceilingPrice, type PricingTerms } from './pricing';

// Floor $1,000.00, ceiling $2,000.00; rounds 1..3 offer 1,333.33 / 1,666.66 / 2,000.00.
const T: PricingTerms = { cpmFloorMinor: 2000, cpmCeilingMinor: 4000, maxRounds: 3, currency: 'USD', averageViews: 50_000 };
const at = (round: number, currentOfferMinor: number) => ({ round, currentOfferMinor });
const read = (intent: ReplyIntent, extra: Partial<ReplyReading> = {}): ReplyReading => ({ intent, reason: 'test', ...extra });

describe('decide: table of rules', () => {
  const cases: [string, PricingTerms, { round: number; currentOfferMinor: number }, ReplyReading, Decision | { action: 'escalate' }][] = [
    ['another currency escalates', T, at(0, 100_000), read('counter', { askedRateMinor: 90_000, currency: 'EUR' }), { action: 'escalate' }],
    ['the same currency in another case is fine', T, at(0, 100_000), read('accept', { currency: 'usd' }), { action: 'accept', rateMinor: 100_000 }],
    ['unclear escalates', T, at(0, 100_000), read('unclear'), { action: 'escalate' }],
    ['hostile escalates even with an accept', T, at(0, 100_000), read('accept', { hostile: true }), { action: 'escalate' }],
    ['decline is acknowledged', T, at(1, 133_333), read('decline'), { action: 'acknowledge_decline' }],
    ['a question is clarified', T, at(0, 100_000), read('question'), { action: 'clarify' }],
    ['out of office waits', T, at(0, 100_000), read('out_of_office'), { action: 'wait' }],
    ['accept without an ask takes the current offer', T, at(1, 133_333), read('accept'), { action: 'accept', rateMinor: 133_333 }],
    ['accept with a lower ask takes the ask', T, at(0, 100_000), read('accept', { askedRateMinor: 90_000 }), { action: 'accept', rateMinor: 90_000 }],
    ['accept with an ask equal to the offer', T, at(0, 100_000), read('accept', { askedRateMinor: 100_000 }), { action: 'accept', rateMinor: 100_000 }],
    ['accept with a higher ask is a counter', T, at(0, 100_000), read('accept', { askedRateMinor: 180_000 }), { action: 'counter', offerMinor: 133_333, round: 1 }],
    ['accept with a higher ask the next round covers', T, at(0, 100_000), read('accept', { askedRateMinor: 120_000 }), { action: 'accept', rateMinor: 120_000 }],
    ['counter without an amount asks for clarity', T, at(0, 100_000), read('counter'), { action: 'clarify' }],
    ['counter at or under the offer is accepted at the ask', T, at(1, 133_333), read('counter', { askedRateMinor: 120_000 }), { action: 'accept', rateMinor: 120_000 }],
    ['counter the next round covers is accepted at the ask', T, at(0, 100_000), read('counter', { askedRateMinor: 133_333 }), { action: 'accept', rateMinor: 133_333 }],
    ['counter within ceiling gets the next round', T, at(0, 100_000), read('counter', { askedRateMinor: 150_000 }), { action: 'counter', offerMinor: 133_333, round: 1 }],
    ['counter within ceiling in the last round is accepted', T, at(3, 200_000), read('counter', { askedRateMinor: 199_000 }), { action: 'accept', rateMinor: 199_000 }],
    ['counter at the ceiling in round 2 is accepted', T, at(2, 166_666), read('counter', { askedRateMinor: 200_000 }), { action: 'accept', rateMinor: 200_000 }],
    ['ask above ceiling before the last round concedes', T, at(1, 133_333), read('counter', { askedRateMinor: 240_000 }), { action: 'counter', offerMinor: 166_666, round: 2 }],
    ['ask above ceiling reaching the last round offers the ceiling', T, at(2, 166_666), read('counter', { askedRateMinor: 240_000 }), { action: 'counter', offerMinor: 200_000, round: 3 }],
    ['ask above ceiling after the last round escalates', T, at(3, 200_000), read('counter', { askedRateMinor: 240_000 }), { action: 'escalate' }],
    ['a negative ask escalates', T, at(0, 100_000), read('counter', { askedRateMinor: -5 }), { action: 'escalate' }],
    ['invalid terms escalate', { ...T, cpmFloorMinor: 5000 }, at(0, 100_000), read('accept'), { action: 'escalate' }],
    ['a stored offer above the ceiling is never accepted', T, at(0, 300_000), read('accept'), { action: 'escalate' }],
  ];

  it.each(cases)('%s', (_name, terms, position, reading, expected) => {
    const d = decide(terms, position, reading);
    if (expected.action === 'escalate') expect(d).toEqual({ action: 'escalate', reason: expect.any(String) });
    else expect(d).toEqual(expected);
  });

  it('names the reason for the last-round escalation', () => {
    expect(decide(T, at(3, 200_000), read('counter', { askedRateMinor: 240_000 }))).toEqual({ action: 'escalate', reason: 'ask above ceiling after the last round' });
  });

  it('never counters below the offer already on the table', () => {
    // The stored round lags behind the offer (e.g. a human changed it): concede from the offer.
    expect(decide(T, at(0, 150_000), read('counter', { askedRateMinor: 190_000 }))).toEqual({ action: 'counter', offerMinor: 150_000, round: 1 });
  });
});

describe('decide: invariant', () => {
  const money = fc.oneof(fc.integer({ min: -1_000_000, max: 50_000_000 }), fc.constantFrom(0, Number.NaN, Number.POSITIVE_INFINITY, 1.5));
  const terms = fc.record({
    cpmFloorMinor: fc.oneof(fc.integer({ min: 0, max: 20_000 }), money),
    cpmCeilingMinor: fc.oneof(fc.integer({ min: 0, max: 40_000 }), money),
    maxRounds: fc.oneof(fc.integer({ min: 0, max: 10 }), fc.constantFrom(-1, 2.5, Number.NaN)),
    currency: fc.constantFrom('USD', 'EUR', 'usd', 'JPY', ''),
    averageViews: fc.oneof(fc.integer({ min: 0, max: 10_000_000 }), fc.constantFrom(-1, 0.5, Number.NaN)),
  });
  const position = fc.record({ round: fc.oneof(fc.integer({ min: -2, max: 15 }), fc.constant(1.5)), currentOfferMinor: money });
  const reading = fc.record(
    {
      intent: fc.constantFrom<ReplyIntent>('accept', 'counter', 'decline', 'question', 'out_of_office', 'unclear'),
      askedRateMinor: money,
      currency: fc.constantFrom('USD', 'EUR', 'usd', ''),
      hostile: fc.boolean(),
      reason: fc.string(),
    },
    { requiredKeys: ['intent', 'reason'] },
  );

  it('never offers or accepts more than the ceiling price, nor less than 0', () => {
    fc.assert(
      fc.property(terms, position, reading, (t, s, r) => {
        const d = decide(t, s, r);
        const amount = d.action === 'accept' ? d.rateMinor : d.action === 'counter' ? d.offerMinor : null;
        if (amount === null) return;
        expect(Number.isSafeInteger(amount)).toBe(true);
        expect(amount).toBeGreaterThanOrEqual(0);
        expect(amount).toBeLessThanOrEqual(ceilingPrice(t));
      }),
      { numRuns: 5000 },
    );
  });

  it('with sane terms and position, counters always move one round up and never below the offer', () => {
    const sane = fc
      .record({ floor: fc.integer({ min: 0, max: 20_000 }), spread: fc.integer({ min: 0, max: 20_000 }), maxRounds: fc.integer({ min: 1, max: 6 }), averageViews: fc.integer({ min: 1, max: 5_000_000 }) })
      .map(({ floor, spread, maxRounds, averageViews }): PricingTerms => ({ cpmFloorMinor: floor, cpmCeilingMinor: floor + spread, maxRounds, currency: 'USD', averageViews }));
    fc.assert(
      fc.property(sane, fc.nat(8), fc.nat(50_000_000), (t, round, ask) => {
        const r = Math.min(round, t.maxRounds);
        const offer = Math.round((t.cpmFloorMinor + ((t.cpmCeilingMinor - t.cpmFloorMinor) * r) / t.maxRounds) * t.averageViews / 1000);
        const current = Math.min(offer, ceilingPrice(t));
        const d = decide(t, { round: r, currentOfferMinor: current }, { intent: 'counter', askedRateMinor: ask, reason: 'p' });
        if (d.action === 'counter') {
          expect(d.round).toBe(r + 1);
          expect(d.offerMinor).toBeGreaterThanOrEqual(current);
          expect(d.offerMinor).toBeLessThan(ask);
        } else if (d.action === 'accept') {
          expect(d.rateMinor).toBe(ask);
        } else {
          expect(d).toEqual({ action: 'escalate', reason: 'ask above ceiling after the last round' });
          expect(r).toBe(t.maxRounds);
        }
      }),
      { numRuns: 3000 },
    );
  });
});
