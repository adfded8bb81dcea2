import fc from 'fast-check';
import { ceilingOracle, ceilingViolation } from './ceiling.oracle';
import { decide, type Decision, type ReplyIntent, type ReplyReading } from './policy';
import { offerForRound, openingOffer, stepMinor, type PricingTerms } from './pricing';

// Mutation testing runs these once per mutant: a tenth of the cases there, all of them here.
const cases = (n: number) => (process.env.STRYKER_MUTATOR_WORKER === undefined ? n : n / 10);

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

  it.each<[string, { round: number; currentOfferMinor: number }, ReplyReading, string]>([
    ['a negative offer on the table', at(0, -1), read('accept'), 'the negotiation has no valid current offer'],
    ['a fractional offer on the table', at(0, 100_000.5), read('accept'), 'the negotiation has no valid current offer'],
    ['a fractional round', at(0.5, 100_000), read('accept'), 'the negotiation has no valid current offer'],
    ['a negative round', at(-1, 100_000), read('accept'), 'the negotiation has no valid current offer'],
    ['another currency (named in any case)', at(0, 100_000), read('counter', { askedRateMinor: 90_000, currency: 'eur' }), 'reply names EUR, the campaign is in USD'],
    ['a hostile reply', at(0, 100_000), read('accept', { hostile: true }), 'hostile reply'],
    ['an unclear reply', at(0, 100_000), read('unclear'), 'unclear reply'],
    ['a negative ask', at(0, 100_000), read('counter', { askedRateMinor: -5 }), 'the asked rate is not a valid amount'],
    ['a fractional ask', at(0, 100_000), read('accept', { askedRateMinor: 99_999.5 }), 'the asked rate is not a valid amount'],
    // A corrupted row: the offer on the table is above the ceiling, and so is the ask under it.
    ['an ask under a stored offer above the ceiling', at(3, 250_000), read('counter', { askedRateMinor: 240_000 }), 'policy refused an amount outside 0..ceiling (offer on the table 250000)'],
    ['an ask equal to a stored offer above the ceiling', at(3, 250_000), read('counter', { askedRateMinor: 250_000 }), 'policy refused an amount outside 0..ceiling (offer on the table 250000)'],
  ])('escalates %s and says why', (_name, position, reading, reason) => {
    expect(decide(T, position, reading)).toEqual({ action: 'escalate', reason });
  });

  it('asks for clarity on a question even when it names a price', () => {
    expect(decide(T, at(0, 100_000), read('question', { askedRateMinor: 180_000 }))).toEqual({ action: 'clarify' });
    expect(decide(T, at(0, 100_000), read('question', { askedRateMinor: 90_000 }))).toEqual({ action: 'clarify' });
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
  const hostileMoney = fc.oneof(fc.integer({ min: -1_000_000, max: 50_000_000 }), fc.constantFrom(0, Number.NaN, Number.POSITIVE_INFINITY, 1.5));
  const hostileTerms = fc.record({
    cpmFloorMinor: fc.oneof(fc.integer({ min: 0, max: 20_000 }), hostileMoney),
    cpmCeilingMinor: fc.oneof(fc.integer({ min: 0, max: 40_000 }), hostileMoney),
    maxRounds: fc.oneof(fc.integer({ min: 0, max: 10 }), fc.constantFrom(-1, 2.5, Number.NaN)),
    currency: fc.constantFrom('USD', 'EUR', 'usd', 'JPY', ''),
    averageViews: fc.oneof(fc.integer({ min: 0, max: 10_000_000 }), fc.constantFrom(-1, 0.5, Number.NaN)),
    priceStep: fc.option(fc.constantFrom(0, 1, 5, 2.5, -5), { nil: undefined }),
  });
  // Terms a campaign really has: most cases, so the policy reaches accepts and counters.
  const saneTerms = fc
    .record({
      floor: fc.integer({ min: 0, max: 20_000 }),
      spread: fc.integer({ min: 0, max: 20_000 }),
      maxRounds: fc.integer({ min: 1, max: 6 }),
      averageViews: fc.integer({ min: 1, max: 5_000_000 }),
      currency: fc.constantFrom('USD', 'usd', 'EUR', 'JPY'),
      priceStep: fc.option(fc.constantFrom(1, 5, 10, 50, 1000), { nil: undefined }),
    })
    .map(({ floor, spread, ...rest }): PricingTerms => ({ cpmFloorMinor: floor, cpmCeilingMinor: floor + spread, ...rest }));
  const terms = fc.oneof({ weight: 14, arbitrary: saneTerms }, { weight: 1, arbitrary: hostileTerms });

  /** Amounts around what matters for these terms: the oracle's ceiling exactly and next to it, a share of it, or hostile. */
  const near = (t: PricingTerms, aboveWeight: number, hostileWeight: number) => {
    const ceiling = Number(ceilingOracle(t.cpmCeilingMinor, t.averageViews) ?? 0n);
    return fc.oneof(
      { weight: 4, arbitrary: fc.integer({ min: -2, max: 0 }).map((d) => Math.max(0, ceiling + d)) },
      { weight: 12, arbitrary: fc.integer({ min: 0, max: 100 }).map((pct) => Math.floor((ceiling * pct) / 100)) },
      // Above the ceiling: a stored offer there must never be accepted (the clamp), an ask there is countered or escalated.
      { weight: aboveWeight, arbitrary: fc.oneof(fc.integer({ min: 1, max: 2 }).map((d) => ceiling + d), fc.integer({ min: 101, max: 150 }).map((pct) => Math.floor((ceiling * pct) / 100) + 1)) },
      { weight: hostileWeight, arbitrary: hostileMoney },
    );
  };
  const scenario = terms.chain((t) =>
    fc.record({
      t: fc.constant(t),
      s: fc.record({
        round: fc.oneof({ weight: 9, arbitrary: fc.integer({ min: 0, max: Number.isInteger(t.maxRounds) && t.maxRounds > 0 ? t.maxRounds : 3 }) }, { weight: 1, arbitrary: fc.constantFrom(-2, 15, 1.5) }),
        currentOfferMinor: near(t, 2, 1),
      }),
      r: fc.record(
        {
          intent: fc.oneof({ weight: 17, arbitrary: fc.constantFrom<ReplyIntent>('accept', 'counter') }, { weight: 3, arbitrary: fc.constantFrom<ReplyIntent>('decline', 'question', 'out_of_office', 'unclear') }),
          // Absent one time in eight: an accept of the offer on the table, or a counter with no amount.
          askedRateMinor: fc.option(near(t, 6, 2), { nil: undefined, freq: 8 }),
          currency: fc.oneof({ weight: 8, arbitrary: fc.constant(t.currency) }, { weight: 1, arbitrary: fc.constantFrom('USD', 'EUR', 'usd', '') }),
          hostile: fc.oneof({ weight: 19, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }),
          reason: fc.string({ maxLength: 8 }),
        },
        { requiredKeys: ['intent', 'reason', 'askedRateMinor'] },
      ),
    }),
  );

  it('never offers or accepts more than the ceiling (computed independently), nor less than 0; most cases reach an amount', () => {
    let amounts = 0;
    const runs = cases(5000);
    fc.assert(
      fc.property(scenario, ({ t, s, r }) => {
        const d = decide(t, s, r);
        const amount = d.action === 'accept' ? d.rateMinor : d.action === 'counter' ? d.offerMinor : null;
        if (amount === null) return;
        amounts += 1;
        expect(ceilingViolation(amount, t.cpmCeilingMinor, t.averageViews)).toBeNull();
      }),
      { numRuns: runs },
    );
    // A property that mostly escalates says nothing about the ceiling (about 60% reach one; every kind of hostile input still appears hundreds of times).
    expect(amounts / runs).toBeGreaterThanOrEqual(0.4);
  });

  const saneWithStep = fc.tuple(saneTerms, fc.constantFrom(1, 5, 10, 25)).map(([t, step]) => ({ ...t, priceStep: step }));

  it('with sane terms and position, counters always move one round up and never below the offer', () => {
    fc.assert(
      fc.property(fc.oneof(saneTerms, saneWithStep), fc.nat(8), fc.nat(50_000_000), (t, round, ask) => {
        const r = Math.min(round, t.maxRounds);
        const current = offerForRound(t, r);
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
      { numRuns: cases(3000) },
    );
  });
});

describe('offers rounded to the price step', () => {
  // Floor $1,000.00, ceiling $1,500.00 at 50k views; the straight line is 1,166.66 / 1,333.33.
  const S: PricingTerms = { cpmFloorMinor: 2000, cpmCeilingMinor: 3000, maxRounds: 3, currency: 'USD', averageViews: 50_000, priceStep: 5 };

  it('counters to the nearest step and offers the ceiling itself in the last round', () => {
    expect([0, 1, 2, 3].map((r) => offerForRound(S, r))).toEqual([100_000, 116_500, 133_500, 150_000]);
    expect(decide(S, at(0, 100_000), read('counter', { askedRateMinor: 130_000 }))).toEqual({ action: 'counter', offerMinor: 116_500, round: 1 });
    expect(decide(S, at(1, 116_500), read('counter', { askedRateMinor: 130_000 }))).toEqual({ action: 'accept', rateMinor: 130_000 });
  });

  it('rounds down when rounding up would pass the ceiling, and up when rounding down would fall under the floor', () => {
    // Ceiling 1,512.50 (cpm 30.25 x 50k): the last round offers 1,510, not 1,515.
    const high = { ...S, cpmCeilingMinor: 3025 };
    expect(offerForRound(high, 3)).toBe(151_000);
    expect(decide(high, at(2, 134_000), read('counter', { askedRateMinor: 200_000 }))).toEqual({ action: 'counter', offerMinor: 151_000, round: 3 });
    // Floor 1,001.50 (cpm 20.03 x 50k): the opening offer is 1,005, not 1,000.
    const low = { ...S, cpmFloorMinor: 2003 };
    expect(openingOffer(low)).toBe(100_500);
  });

  it('keeps the exact price when no multiple of the step lies between floor and ceiling', () => {
    // Floor 1,001.50, ceiling 1,003.00: neither 1,000 nor 1,005 is allowed.
    const narrow = { ...S, cpmFloorMinor: 2003, cpmCeilingMinor: 2006 };
    expect(openingOffer(narrow)).toBe(100_150);
    expect(offerForRound(narrow, 3)).toBe(100_300);
  });

  it('scales the step by the currency: 5 yen, 5 euros', () => {
    expect(stepMinor({ ...S, currency: 'JPY' })).toBe(5);
    expect(stepMinor({ ...S, currency: 'EUR' })).toBe(500);
    expect(stepMinor({ ...S, priceStep: undefined })).toBe(1);
  });

  it('refuses a step that is not a whole positive number of units', () => {
    for (const priceStep of [0, -5, 2.5, Number.NaN, 2_000_000]) {
      expect(decide({ ...S, priceStep }, at(0, 100_000), read('accept'))).toEqual({ action: 'escalate', reason: 'the campaign pricing terms are invalid' });
    }
  });

  it('every round offer is inside floor..ceiling (oracle), on the step when one fits, and never decreasing', () => {
    const stepped = fc
      .record({ floor: fc.integer({ min: 0, max: 20_000 }), spread: fc.integer({ min: 0, max: 20_000 }), maxRounds: fc.integer({ min: 1, max: 6 }), averageViews: fc.integer({ min: 1, max: 5_000_000 }), priceStep: fc.constantFrom(1, 5, 10, 50, 1000) })
      .map(({ floor, spread, ...rest }): PricingTerms => ({ cpmFloorMinor: floor, cpmCeilingMinor: floor + spread, currency: 'USD', ...rest }));
    fc.assert(
      fc.property(stepped, (t) => {
        const ceiling = ceilingOracle(t.cpmCeilingMinor, t.averageViews) as bigint;
        const floor = ceilingOracle(t.cpmFloorMinor, t.averageViews) as bigint;
        const step = BigInt((t.priceStep ?? 1) * 100);
        const fits = ((floor + step - 1n) / step) * step <= ceiling;
        let previous = -1n;
        for (let r = 0; r <= t.maxRounds; r++) {
          const offer = BigInt(offerForRound(t, r));
          expect(offer <= ceiling && offer >= floor).toBe(true);
          if (fits) expect(offer % step).toBe(0n);
          expect(offer >= previous).toBe(true);
          previous = offer;
        }
      }),
      { numRuns: cases(2000) },
    );
  });
});
