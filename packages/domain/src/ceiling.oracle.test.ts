import { amountsAboveCeiling, ceilingOracle, ceilingViolation } from './ceiling.oracle';

describe('ceiling oracle', () => {
  it('rounds CPM x views / 1000 half up, exactly, far past 2^53', () => {
    expect(ceilingOracle(3000, 50_000)).toBe(150_000n);
    expect(ceilingOracle(2001, 500)).toBe(1001n);
    expect(ceilingOracle(2001, 499)).toBe(998n);
    expect(ceilingOracle(9_007_199_254_740_991, 3)).toBe(27_021_597_764_223n);
    expect(ceilingOracle(1.5, 10)).toBeNull();
    expect(ceilingOracle(-1, 10)).toBeNull();
  });

  it('names what is wrong with an amount', () => {
    expect(ceilingViolation(150_000, 3000, 50_000)).toBeNull();
    expect(ceilingViolation(150_001, 3000, 50_000)).toContain('above the ceiling 150000');
    expect(ceilingViolation(-1, 3000, 50_000)).toContain('not a whole non-negative amount');
    expect(ceilingViolation(1.5, 3000, 50_000)).toContain('not a whole non-negative amount');
    expect(ceilingViolation(1, Number.NaN, 50_000)).toContain('no valid ceiling');
  });

  it('finds amounts above the ceiling or in another currency in any notation', () => {
    expect(amountsAboveCeiling('We offer US$1,500 (12,500 views, 3 videos).', 'USD', 3000, 50_000)).toEqual([]);
    expect(amountsAboveCeiling('We offer $1,500.01.', 'USD', 3000, 50_000)).toEqual(['$1,500.01']);
    expect(amountsAboveCeiling('We offer fifteen hundred and one dollars.', 'USD', 3000, 50_000)).toEqual(['fifteen hundred and one dollars']);
    expect(amountsAboveCeiling('We offer €1,000.', 'USD', 3000, 50_000)).toEqual(['€1,000']);
    expect(amountsAboveCeiling('We offer $1.600.', 'USD', 3000, 50_000)).toEqual(['$1.600']);
    expect(amountsAboveCeiling('We offer $1,2,3.', 'USD', 3000, 50_000)).toEqual(['$1,2,3']);
    expect(amountsAboveCeiling('We offer 2 grand.', 'USD', 3000, 50_000)).toEqual(['2 grand']);
    expect(amountsAboveCeiling('We offer $1.', 'USD', Number.NaN, 50_000)).toEqual(['$1']);
  });
});
