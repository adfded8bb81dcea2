import { currencyExponent, findMoneyAmounts, formatMoney, parseAverageViews, toMinor } from './money';
import fc from 'fast-check';
import { ceilingOracle } from './ceiling.oracle';
import { ceilingPrice, offerForRound, openingOffer, priceAtCpm, roundOffer, validTerms, type PricingTerms } from './pricing';

// Mutation testing runs these once per mutant: a tenth of the cases there, all of them here.
const cases = (n: number) => (process.env.STRYKER_MUTATOR_WORKER === undefined ? n : n / 10);

describe('parseAverageViews', () => {
  it.each([
    ['12500', 12500],
    ['12,500', 12500],
    ['12.5k', 12500],
    ['12.5K', 12500],
    [' 1.2m ', 1_200_000],
    ['1,234,567', 1234567],
    ['800', 800],
    ['12 500', 12500],
    ['12500.4', 12500],
    ['1.25k', 1250],
    ['2.75M', 2_750_000],
    ['12\t500', 12500],
  ])('%j → %d', (raw, views) => expect(parseAverageViews(raw)).toBe(views));

  it.each(['', 'abc', '12,50', '1.2.3', '-5', '0', '12kk', 'k', '1,2k', '12.5 thousand', 'NaN', '1e5'])('%j → null', (raw) => {
    expect(parseAverageViews(raw)).toBeNull();
  });
});

describe('formatMoney', () => {
  it.each([
    [125000, 'USD', '$1,250'],
    [151250, 'USD', '$1,512.50'],
    [150001, 'USD', '$1,500.01'],
    [5, 'USD', '$0.05'],
    [0, 'USD', '$0'],
    [123456789, 'usd', '$1,234,567.89'],
    [100000000, 'USD', '$1,000,000'],
    [90000, 'EUR', 'EUR 900'],
    [90050, 'EUR', 'EUR 900.50'],
    [125050, 'GBP', 'GBP 1,250.50'],
    [900, 'JPY', 'JPY 900'],
    [-150, 'USD', '-$1.50'],
    [-100, 'USD', '-$1'],
    [1234.4, 'USD', '$12.34'],
  ])('%d %s → %s', (minor, currency, text) => expect(formatMoney(minor, currency)).toBe(text));

  it('knows minor-unit digits per currency', () => {
    expect(currencyExponent('USD')).toBe(2);
    expect(currencyExponent('JPY')).toBe(0);
    expect(currencyExponent('KWD')).toBe(3);
    expect(currencyExponent('jpy')).toBe(0);
    expect(currencyExponent('not-a-code')).toBe(2);
    expect(toMinor(1250.1, 'USD')).toBe(125010);
    expect(toMinor(900, 'JPY')).toBe(900);
  });
});

describe('findMoneyAmounts', () => {
  it.each([
    ['My rate would be $2,400.00.', 'USD', 2400],
    ['happy to accept $1,250.00.', 'USD', 1250],
    ['$1250.00 please', 'USD', 1250],
    ['I charge 1,250 USD for that', 'USD', 1250],
    ['EUR 900 is my price', 'EUR', 900],
    ['€900 works', 'EUR', 900],
    ['£300.50', 'GBP', 300.5],
    ['about $1.2k', 'USD', 1200],
    ['500 dollars', 'USD', 500],
  ])('%j → %s %d', (text, currency, major) => {
    expect(findMoneyAmounts(text)).toEqual([expect.objectContaining({ currency, major })]);
  });

  it('does not read counts and codes-looking words as money', () => {
    expect(findMoneyAmounts('12,500 views, 2 videos, ALL 3 posts, TOP 10, 1,250')).toEqual([]);
  });

  it('reports where each amount starts and what it reads', () => {
    expect(findMoneyAmounts('Rate: 1,250 USD, or $900')).toEqual([
      { text: '1,250 USD', index: 6, currency: 'USD', major: 1250 },
      { text: '$900', index: 20, currency: 'USD', major: 900 },
    ]);
  });

  it('skips a number too long to be a finite amount', () => {
    expect(findMoneyAmounts(`$${'9'.repeat(400)} or $5`).map((m) => m.major)).toEqual([5]);
  });

  it('reads several amounts in order and does not double count "$1,250 USD"', () => {
    expect(findMoneyAmounts('Usually $3,000 but for you $1,250 USD').map((m) => m.major)).toEqual([3000, 1250]);
  });
});

describe('pricing', () => {
  const terms: PricingTerms = { cpmFloorMinor: 2000, cpmCeilingMinor: 4000, maxRounds: 3, currency: 'USD', averageViews: 50_000 };

  it('prices CPM x views / 1000 in minor units, rounded', () => {
    expect(priceAtCpm(2000, 50_000)).toBe(100_000);
    expect(priceAtCpm(1999, 1)).toBe(2);
    expect(openingOffer(terms)).toBe(100_000);
    expect(ceilingPrice(terms)).toBe(200_000);
  });

  it('prices exactly as the independent oracle: CPM x views / 1000, half up', () => {
    expect(priceAtCpm(2001, 500)).toBe(1001);
    expect(priceAtCpm(2001, 499)).toBe(998);
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 1_000_000 }), fc.integer({ min: 0, max: 50_000_000 }), (cpm, views) => {
        expect(BigInt(priceAtCpm(cpm, views))).toBe(ceilingOracle(cpm, views));
      }),
      { numRuns: cases(2000) },
    );
  });

  it('concedes on a straight line from floor to ceiling, floored, round clamped', () => {
    expect([-1, 0, 1, 2, 3, 4, 99].map((r) => offerForRound(terms, r))).toEqual([100_000, 100_000, 133_333, 166_666, 200_000, 200_000, 200_000]);
  });

  it('rounds to the step: half up, the ceiling itself allowed, out-of-band values to the nearest bound', () => {
    // Floor 1,000, ceiling 1,500, $5 steps.
    const S = { ...terms, cpmCeilingMinor: 3000, priceStep: 5 };
    expect(roundOffer(S, 116_250)).toBe(116_500);
    expect(roundOffer(S, 116_249)).toBe(116_000);
    expect(roundOffer(S, 149_990)).toBe(150_000);
    expect(roundOffer(S, 150_000)).toBe(150_000);
    // Floor 1,001.50, ceiling 1,010.00: a value under the floor comes up to the floor itself.
    expect(roundOffer({ ...S, cpmFloorMinor: 2003, cpmCeilingMinor: 2020 }, 100_000)).toBe(100_150);
  });

  it('accepts only whole, non-negative, ordered terms with a currency code and a sane step', () => {
    expect(validTerms(terms)).toBe(true);
    expect(validTerms({ ...terms, priceStep: 1_000_000 })).toBe(true);
    expect(validTerms({ ...terms, priceStep: 1 })).toBe(true);
    expect(validTerms({ ...terms, cpmFloorMinor: 0, averageViews: 0, maxRounds: 0 })).toBe(true);
    for (const bad of [
      { cpmFloorMinor: 1.5 },
      { cpmFloorMinor: -1 },
      { cpmCeilingMinor: Number.NaN },
      { cpmCeilingMinor: Number.POSITIVE_INFINITY },
      { averageViews: -5 },
      { averageViews: 0.5 },
      { maxRounds: -1 },
      { maxRounds: 2.5 },
      { cpmFloorMinor: 5000 },
      { cpmCeilingMinor: 4_000_000_000, averageViews: 4_000_000_000 },
      { priceStep: 1_000_001 },
      { priceStep: 0 },
      { priceStep: 2.5 },
      { currency: 'US' },
      { currency: 'USDX' },
      { currency: 'XUSD' },
      { currency: 'U$D' },
    ]) {
      expect([bad, validTerms({ ...terms, ...bad })]).toEqual([bad, false]);
    }
  });

  it('stays at the floor when no rounds are allowed', () => {
    expect(offerForRound({ ...terms, maxRounds: 0 }, 1)).toBe(100_000);
  });
});
