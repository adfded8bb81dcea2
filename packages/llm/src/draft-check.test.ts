import { checkDraftPrice } from './draft-check';

const email = (body: string, subject = 'Collaboration') => ({ subject, body });

describe('checkDraftPrice', () => {
  it('accepts a draft that states exactly the policy price', () => {
    expect(checkDraftPrice(email('We can offer $1,250.00 for 1 video (12,500 views).'), 125_000, 'USD')).toBeNull();
    expect(checkDraftPrice(email('Our offer is EUR 900.00.'), 90_000, 'EUR')).toBeNull();
    expect(checkDraftPrice(email('Our offer is $1,250.00, that is $1,250 in total.'), 125_000, 'USD')).toBeNull();
  });

  it('requires the exact written form of the price', () => {
    expect(checkDraftPrice(email('We can offer $1,250.'), 125_000, 'USD')).toBe('the body must state the price exactly as "$1,250.00"');
    expect(checkDraftPrice(email('We can offer €900.00.'), 90_000, 'EUR')).toContain('"EUR 900.00"');
  });

  it('rejects any other amount, in the body or the subject, or in another currency', () => {
    expect(checkDraftPrice(email('We offer $1,250.00; others got $2,000.'), 125_000, 'USD')).toBe('the email states "$2,000", but the only amount it may state is "$1,250.00"');
    expect(checkDraftPrice(email('We offer $1,250.00.', 'Up to $1,500!'), 125_000, 'USD')).toContain('"$1,500"');
    expect(checkDraftPrice(email('We offer $1,250.00 (about 1,150 EUR).'), 125_000, 'USD')).toContain('"1,150 EUR"');
  });

  it('allows no money at all when there is no price', () => {
    expect(checkDraftPrice(email('Thanks for letting us know.'), null, 'USD')).toBeNull();
    expect(checkDraftPrice(email('Our $1,250.00 offer stands.'), null, 'USD')).toBe('the email must not state any amount of money, but it states "$1,250.00"');
  });
});

describe('checkDraftPrice on amounts written loosely', () => {
  it.each([
    ['a bare number with a thousands separator', 'We offer $1,250.00; we paid others 1,800.'],
    ['a symbol after the number', 'We offer $1,250.00, not 1800$.'],
    ['a lower-case code', 'We offer $1,250.00 (others: 1,800 usd).'],
    ['a European format', 'We offer $1,250.00, roughly 1.200 € for you.'],
    ['a code glued to the digits', 'We offer $1,250.00, up from usd1800.'],
    ['a bare three-digit number', 'We offer $1,250.00 and could add 300 later.'],
  ])('rejects %s', (_label, body) => {
    expect(checkDraftPrice(email(body), 125_000, 'USD')).toMatch(/reads as another amount|only amount it may state/);
  });

  it('keeps audience sizes, deliverable counts and years', () => {
    expect(checkDraftPrice(email('For 2 reels in 2026 reaching your 12,500 average views (50k views per post), we offer $1,250.00.'), 125_000, 'USD')).toBeNull();
  });

  it('rejects a loose amount when no money may be stated at all', () => {
    expect(checkDraftPrice(email('Thanks, we understand the 1800 dollars did not work.'), null, 'USD')).toMatch(/must not state any amount/);
  });
});
