import { bearerMatches, secretMatches } from './secrets';

describe('secret comparison', () => {
  it('matches only the exact secret, whatever the lengths', () => {
    expect(secretMatches('s3cret-token-value', 's3cret-token-value')).toBe(true);
    expect(secretMatches('s3cret-token-value', 's3cret-token-valuE')).toBe(false);
    expect(secretMatches('s3cret-token-value', 's3cret')).toBe(false);
    expect(secretMatches('s3cret-token-value', '')).toBe(false);
  });

  it('reads only a Bearer header carrying the exact token', () => {
    expect(bearerMatches('tok', 'Bearer tok')).toBe(true);
    expect(bearerMatches('tok', 'bearer tok')).toBe(true);
    expect(bearerMatches('tok', 'Bearer tok2')).toBe(false);
    expect(bearerMatches('tok', 'Basic tok')).toBe(false);
    expect(bearerMatches('tok', undefined)).toBe(false);
  });
});
