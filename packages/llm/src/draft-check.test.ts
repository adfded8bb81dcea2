import { MAX_MONEY_TEXT } from '@parley/domain';
import { checkDraftPrice } from './draft-check';

const email = (body: string, subject = 'Collaboration') => ({ subject, body });
const check = (body: string, price: number | null = 200_000, currency = 'USD', subject?: string) => checkDraftPrice(email(body, subject), price, currency);

describe('checkDraftPrice: the price by value, whatever its notation', () => {
  it.each([
    'We can offer $2,000 for 1 video (12,500 views).',
    'We can offer $2,000.00.',
    'We can offer $2000.',
    'We can offer USD 2,000.',
    'We can offer 2,000 USD.',
    'We can offer US$2,000.',
    'We can offer USD $2,000.',
    'We can offer 2000 dollars.',
    'We can offer two thousand dollars.',
    'We can offer $2k.',
    'We can offer ＄２,０００.',
    'We can offer $٢٠٠٠.',
    'We can offer $۲۰۰۰.',
    'We can offer $२०००.',
    'We can offer $2,000 — that is $2,000 in total, 2,000 for everything.',
  ])('accepts %j for $2,000', (body) => expect(check(body)).toBeNull());

  it('accepts the natural form of a price with cents and other currencies', () => {
    expect(check('We offer $1,512.50.', 151_250)).toBeNull();
    expect(check('Our offer is EUR 900.', 90_000, 'EUR')).toBeNull();
    expect(check('Our offer is €900.00.', 90_000, 'eur')).toBeNull();
    expect(check('Our offer is ¥900.', 900, 'JPY')).toBeNull();
  });

  it('requires the price in the body, with its currency', () => {
    expect(check('We can offer a fair rate.')).toBe('the body must state the price, $2,000 (USD)');
    expect(check('We can offer a fair rate.', 200_000, 'USD', 'Offer: $2,000')).toBe('the body must state the price, $2,000 (USD)');
    expect(check('We can offer 2,000 for it.')).toBe('the body must state the price, $2,000 (USD)');
    expect(check('We can offer 2 grand.')).toBe('the body must state the price, $2,000 (USD)');
  });
});

describe('checkDraftPrice: another amount in any notation', () => {
  it.each([
    ['a number in words', 'We offer $2,000; others got two thousand five hundred dollars.', '"two thousand five hundred dollars"', undefined],
    ['words with a slang currency', 'We offer $2,000, not fifteen hundred bucks.', '"fifteen hundred bucks"', undefined],
    ['full-width digits and code', 'We offer $2,000, up to USD ３０００.', '"USD 3000"', undefined],
    ['a full-width dollar sign', 'We offer ＄２５００.', '"$2500"', undefined],
    ['Arabic-Indic digits', 'We offer $٢٥٠٠.', '"$2500"', undefined],
    ['"k"', 'We offer $2,000, or $2.5k.', '"$2.5k"', undefined],
    ['"grand"', 'We offer $2,000, maybe 3 grand.', '"3 grand"', undefined],
    ['cents more', 'We offer $2,000.01.', '"$2,000.01"', undefined],
    ['an ambiguous notation', 'We offer $2.000.', '"$2.000"', undefined],
    ['the subject', 'We offer $2,000.', '"$1,500"', 'Up to $1,500!'],
  ])('rejects %s', (_label, body, shown, subject: string | undefined) => {
    const problem = check(body, 200_000, 'USD', subject);
    expect(problem).toContain(shown);
    expect(problem).toContain('the only amount it may state is $2,000');
  });

  it('rejects the same value in another currency', () => {
    expect(check('We offer $2,000 (about 2,000 EUR).')).toBe('the email states "2,000 EUR", another currency or amount; the only amount it may state is $2,000 (USD)');
    expect(check('We offer €2,000.')).toBe('the email states "€2,000", another currency or amount; the only amount it may state is $2,000 (USD)');
  });

  it('rejects a percentage, wherever it is', () => {
    expect(check('We offer $2,000 and an extra 50% on top.')).toBe('the email states a percentage (50); state no percentages, only the price $2,000');
    expect(check('Fifty percent more than $2,000? No.')).toContain('percentage (Fifty)');
    expect(check('Thanks, and 10% off next time.', null)).toBe('the email states a percentage (10); state no percentages, only no money at all');
  });

  it('rejects the price per unit or multiplied', () => {
    expect(check('We offer $2,000.00 per video x 3 videos.')).toBe('the email states "$2,000.00" per item or multiplied; state the total price $2,000, nothing per item');
    expect(check('3 x $2,000 for the reels.')).toContain('per item or multiplied');
    expect(check('Our $2,000 a video offer stands.', null)).toBe('the email states "$2,000" per item or multiplied; state no money at all');
  });

  it.each([
    ['a bare number with a thousands separator', 'We offer $2,000; we paid others 1,800.'],
    ['a symbol after the number', 'We offer $2,000, not 1800$.'],
    ['a lower-case code', 'We offer $2,000 (others: 1,800 usd).'],
    ['a European format', 'We offer $2,000, roughly 1.200 € for you.'],
    ['a code glued to the digits', 'We offer $2,000, up from usd1800.'],
    ['a bare three-digit number', 'We offer $2,000 and could add 300 later.'],
    ['a bare number in words', 'We offer $2,000 and could add three hundred later.'],
    ['a bare hundred in words', 'We offer $2,000 and could add one hundred later.'],
    ['a bare decimal of three digits', 'We offer $2,000 and could add 12.5 later.'],
    ['a bare "k"', 'We offer $2,000 and could add 1.5k later.'],
    ['an unreadable number', 'We offer $2,000 and could add 1,2,3 later.'],
  ])('rejects %s', (_label, body) => {
    expect(check(body)).toMatch(/^the email states "[^"]+", (?:which reads as another amount; |but |another currency or amount; )the only amount it may state is \$2,000(?: \(USD\))?$/);
  });

  it('keeps audience sizes, deliverable counts, small numbers and years', () => {
    expect(check('For 2 reels in 2026 reaching your 12,500 average views (50k views per post), over 3 weeks, we offer $2,000.')).toBeNull();
    expect(check('For one video and two reels, we offer $2,000.')).toBeNull();
    expect(check('With your 4.5 star rating and ninety-nine fans, we offer $2,000.')).toBeNull();
  });

  it('allows no money at all when there is no price', () => {
    expect(check('Thanks for letting us know.', null)).toBeNull();
    expect(check('Thanks for letting us know about the 12,500 views.', null)).toBeNull();
    expect(check('Our $2,000 offer stands.', null)).toBe('the email must not state any amount of money, but it states "$2,000"');
    expect(check('Our 2,000 offer stands.', null)).toBe('the email must not state any amount of money, but it states "2,000"');
    expect(check('Our €2,000 offer stands.', null)).toBe('the email must not state any amount of money, but it states "€2,000"');
    expect(check('Thanks, we understand the 1800 dollars did not work.', null)).toMatch(/must not state any amount/);
  });

  it('counts the price as stated only in the body', () => {
    // A currency sign ending the subject, the digits opening the body: not a price in the body.
    expect(check('2,000 for the video.', 200_000, 'USD', 'Offer: $')).toBe('the body must state the price, $2,000 (USD)');
    expect(check('$2,000 for the video.', 200_000, 'USD', 'Offer')).toBeNull();
  });

  it('refuses a draft too long to check, in linear time', () => {
    const long = 'x'.repeat(MAX_MONEY_TEXT);
    expect(check(long)).toBe(`the email is too long (over ${MAX_MONEY_TEXT} characters); keep it short`);
    // Subject, newline and body: exactly the limit is still read.
    const body = 'We offer $2,000.'.padEnd(MAX_MONEY_TEXT - 'Collaboration'.length - 1, ' ');
    expect(check(body)).toBeNull();
    expect(check('$2,000 '.repeat(2_000).slice(0, MAX_MONEY_TEXT - 20))).toBeNull();
  });
});
