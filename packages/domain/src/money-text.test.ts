import { equalsMinor, MAX_MONEY_TEXT, normalizeMoneyText, numberValues, readAmounts, type AmountMention } from './money-text';

const one = (text: string): AmountMention => {
  const found = readAmounts(text);
  expect(found).toHaveLength(1);
  return found[0] as AmountMention;
};
const asNumbers = (m: AmountMention) => m.values.map((v) => Number(v.units) / 10 ** v.scale);

describe('normalizeMoneyText', () => {
  // First in the file: the digit table is built once, by the first test that reads a number.
  it('reads every digit of scripts with and without a compatibility form, in and beyond the BMP', () => {
    // The zero of each run of ten: Arabic-Indic, Extended Arabic-Indic, NKo, Devanagari, Bengali,
    // Thai, Myanmar Shan, Osmanya, Adlam, and the segmented digits that end the table.
    const zeros = [0x660, 0x6f0, 0x7c0, 0x966, 0x9e6, 0xe50, 0x1090, 0x104a0, 0x1e950, 0x1fbf0];
    for (const zero of zeros) {
      const written = Array.from({ length: 10 }, (_, d) => String.fromCodePoint(zero + d)).join('');
      expect([zero.toString(16), normalizeMoneyText(`x${written}.`)]).toEqual([zero.toString(16), 'x0123456789.']);
    }
    // Next to each other, runs that do not start on a multiple of ten.
    expect(normalizeMoneyText('\u0661\u06f2\u07c3\u0964\u0967')).toBe('123\u09641');
  });

  it.each([
    ['＄２０００', '$2000'],
    ['USD ２,０００', 'USD 2,000'],
    ['٢٠٠٠', '2000'],
    ['۲۰۰۰', '2000'],
    ['२०००', '2000'],
    ['১২৩', '123'],
    ['๑๒๓', '123'],
    ['𝟏𝟐𝟑', '123'],
    ['١٬٢٥٠٫٥٠', '1,250.50'],
    ['1\u202F250', '1,250'],
    ['1\u00A0250', '1,250'],
    ["1'250", '1,250'],
    ['no digits here', 'no digits here'],
  ])('%j → %j', (raw, normalized) => expect(normalizeMoneyText(raw)).toBe(normalized));

  it('keeps separators that are not between digits', () => {
    expect(normalizeMoneyText("it's 5\u00A0days")).toBe("it's 5 days");
  });
});

describe('numberValues', () => {
  it.each([
    ['1250', [1250]],
    ['1,250', [1250]],
    ['1,250.50', [1250.5]],
    ['1,234,567', [1234567]],
    ['1.250,50', [1250.5]],
    ['1.250', [1.25, 1250]],
    ['1.250.000', [1250000]],
    ['1250.5', [1250.5]],
    ['1250,5', [1250.5]],
    ['1,2,3', []],
    ['1.2.3', []],
    ['12,50,000', []],
    ['9'.repeat(41), []],
    ['1,2345', [1.2345]],
    ['1,250.50.1', []],
    ['12,345', [12345]],
    ['123,456.7', [123456.7]],
    ['1234,567', [1234.567]],
    ['1234.567,5', []],
    ['1.250,5.1', []],
    ['12.250,50', [12250.5]],
    ['1.250.000,50', [1250000.5]],
    ['12.500', [12.5, 12500]],
    ['123.500', [123.5, 123500]],
    ['1234.567.890', []],
    ['1.250.000.5', []],
    ['12.500.000', [12500000]],
  ])('%j → %j', (raw, values) => expect(numberValues(raw).map((v) => Number(v.units) / 10 ** v.scale)).toEqual(values));

  it('reads up to 40 characters', () => {
    expect(numberValues('9'.repeat(40))).toEqual([{ units: BigInt('9'.repeat(40)), scale: 0 }]);
  });

  it('keeps the exact decimal', () => {
    expect(numberValues('1,250.50')).toEqual([{ units: 125050n, scale: 2 }]);
    expect(numberValues('0.5')).toEqual([{ units: 5n, scale: 1 }]);
  });
});

describe('equalsMinor', () => {
  it('compares exactly, whatever the decimals written', () => {
    expect(equalsMinor({ units: 500n, scale: 0 }, 50_000, 2)).toBe(true);
    expect(equalsMinor({ units: 50000n, scale: 2 }, 50_000, 2)).toBe(true);
    expect(equalsMinor({ units: 500001n, scale: 3 }, 50_000, 2)).toBe(false);
    expect(equalsMinor({ units: 900n, scale: 0 }, 900, 0)).toBe(true);
    expect(equalsMinor({ units: 501n, scale: 0 }, 50_000, 2)).toBe(false);
  });
});

describe('readAmounts', () => {
  it.each([
    ['$500', 'USD', [500], '$500'],
    ['$ 500.00', 'USD', [500], '$ 500.00'],
    ['USD 500', 'USD', [500], 'USD 500'],
    ['usd500', 'USD', [500], 'usd500'],
    ['500 USD', 'USD', [500], '500 USD'],
    ['500$', 'USD', [500], '500$'],
    ['US$500', 'USD', [500], 'US$500'],
    ['C$500', 'CAD', [500], 'C$500'],
    ['USD $500', 'USD', [500], 'USD $500'],
    ['EUR $500', 'XXX', [500], 'EUR $500'],
    ['$500 EUR', 'XXX', [500], '$500 EUR'],
    ['€900', 'EUR', [900], '€900'],
    ['£300.50', 'GBP', [300.5], '£300.50'],
    ['¥900', 'JPY', [900], '¥900'],
    ['₹900', 'INR', [900], '₹900'],
    ['₿900', 'XXX', [900], '₿900'],
    ['1.200 €', 'EUR', [1.2, 1200], '1.200 €'],
    ['500 dollars', 'USD', [500], '500 dollars'],
    ['fifteen hundred bucks', 'USD', [1500], 'fifteen hundred bucks'],
    ['two thousand dollars', 'USD', [2000], 'two thousand dollars'],
    ['two thousand five hundred and fifty dollars', 'USD', [2550], 'two thousand five hundred and fifty dollars'],
    ['twenty-five euros', 'EUR', [25], 'twenty-five euros'],
    ['a thousand pounds', 'GBP', [1000], 'a thousand pounds'],
    ['$1.5k', 'USD', [1500], '$1.5k'],
    ['$2K', 'USD', [2000], '$2K'],
    ['$2m', 'USD', [2_000_000], '$2m'],
    ['$3bn', 'USD', [3_000_000_000], '$3bn'],
    ['$15 hundred', 'USD', [1500], '$15 hundred'],
    ['1 million dollars', 'USD', [1_000_000], '1 million dollars'],
    ['50 cents', 'XXX', [50], '50 cents'],
  ])('%j → %s %j', (text, currency, values, shown) => {
    const m = one(`We can offer ${text} today`);
    expect(m.money).toBe(true);
    expect(m.currency).toBe(currency);
    expect(asNumbers(m)).toEqual(values);
    expect(m.text).toBe(shown);
    expect(m.index).toBe('We can offer '.length);
  });

  it.each([
    ['2 grand', [2000]],
    ['a grand', [1000]],
    ['two grand', [2000]],
  ])('%j is money without a currency', (text, values) => {
    const m = one(`Maybe ${text}?`);
    expect(m).toMatchObject({ money: true, currency: null });
    expect(asNumbers(m)).toEqual(values);
  });

  it('reads bare numbers and what they count', () => {
    const found = readAmounts('For 2 reels in 2026 reaching 12,500 average views (50k views), 1,800 or 300 or 2k or three thousand, 12 or 1999');
    expect(found.map((m) => [m.text, m.money, m.counts, m.digits])).toEqual([
      ['2', false, true, 1],
      ['2026', false, true, 4],
      ['12,500', false, true, 5],
      ['50k', false, true, 2],
      ['1,800', false, false, 4],
      ['300', false, false, 3],
      ['2k', false, false, 1],
      ['three thousand', false, false, 0],
      ['12', false, false, 2],
      ['1999', false, true, 4],
    ]);
  });

  it('does not take a year with a scale or a currency for a year', () => {
    expect(readAmounts('2026k')[0]).toMatchObject({ counts: false });
    expect(readAmounts('$2026')[0]).toMatchObject({ counts: false, money: true });
    expect(readAmounts('12026')[0]).toMatchObject({ counts: false });
  });

  it.each(['50%', '50 %', 'fifty percent', '50 per cent', '12 pct', '7 percentage points'])('%j is a percentage', (text) => {
    expect(one(`an extra ${text} on top`).percent).toBe(true);
  });

  it.each(['50 per day', '50 percentages?'])('%j is not a percentage', (text) => {
    expect(readAmounts(text)[0]?.percent).toBe(false);
  });

  it.each([
    '$1,250.00 per video x 3 videos',
    '$500 each',
    '$500 apiece',
    '$500/video',
    '$500 a video',
    '$500 an integration',
    '$500 a week',
    '$500 x 3',
    '$500 times 3',
    '3 x $500',
    '3 × $500',
    'each video at $500',
    'per post $500',
  ])('%j is a price per unit', (text) => {
    expect(readAmounts(text).find((m) => m.money)?.multiplied).toBe(true);
  });

  it.each(['$500 for 3 videos. Each one is great', '$500 for a video', '$500 a good deal', 'Hi. $500 for it', '$500 for 2 reels', '3 videos; $500 in total'])('%j is not a price per unit', (text) => {
    expect(readAmounts(text).find((m) => m.money)?.multiplied).toBe(false);
  });

  it('does not read prototype names as numbers or currencies', () => {
    expect(readAmounts('constructor hundred toString 5 __proto__ $ hasOwnProperty')).toEqual([expect.objectContaining({ text: '5', money: false })]);
    expect(readAmounts('5 constructor')).toEqual([expect.objectContaining({ money: false, currency: null })]);
    expect(readAmounts('a constructor')).toEqual([]);
  });

  it('ignores "a" and "an" that do not start a number, and "and" that does not join one', () => {
    expect(readAmounts('a video and an hour')).toEqual([]);
    expect(readAmounts('two and then')).toEqual([expect.objectContaining({ text: 'two', values: [{ units: 2n, scale: 0 }] })]);
    expect(readAmounts('a hundred dollars')[0]).toMatchObject({ money: true, values: [{ units: 100n, scale: 0 }] });
  });

  it('takes a scale glued to the digits only', () => {
    expect(readAmounts('$2 k')[0]).toMatchObject({ text: '$2', values: [{ units: 2n, scale: 0 }] });
    expect(readAmounts('$2 m')[0]).toMatchObject({ text: '$2', values: [{ units: 2n, scale: 0 }] });
    expect(readAmounts('$2 thousand')[0]).toMatchObject({ text: '$2 thousand', values: [{ units: 2000n, scale: 0 }] });
  });

  it('reads a year only in four digits from 1900 to 2099', () => {
    expect(readAmounts('20261 1899 2100 1900 2099').map((m) => m.counts)).toEqual([false, false, false, true, true]);
  });

  it('joins number words only with "and" or "-" before another number word', () => {
    expect(readAmounts('two and then five').map((m) => [m.text, Number(m.values[0]?.units)])).toEqual([
      ['two', 2],
      ['five', 5],
    ]);
    expect(readAmounts('two, five dollars').map((m) => [m.text, Number(m.values[0]?.units)])).toEqual([
      ['two', 2],
      ['five dollars', 5],
    ]);
    expect(readAmounts('twenty and').map((m) => m.text)).toEqual(['twenty']);
    expect(readAmounts('twenty -').map((m) => m.text)).toEqual(['twenty']);
    // A scale is no number word: "and" or "-" before it ends the number.
    expect(readAmounts('two and thousand').map((m) => [m.text, Number(m.values[0]?.units)])).toEqual([['two', 2]]);
    expect(readAmounts('twenty - million').map((m) => [m.text, Number(m.values[0]?.units)])).toEqual([['twenty', 20]]);
    expect(readAmounts('a thousand and one')[0]).toMatchObject({ text: 'a thousand and one', values: [{ units: 1001n, scale: 0 }] });
    expect(readAmounts('an hundred')[0]).toMatchObject({ text: 'an hundred', values: [{ units: 100n, scale: 0 }] });
  });

  it('ends on "a" or "per" at the end of the text', () => {
    expect(readAmounts('I want a')).toEqual([]);
    expect(readAmounts('$500 a')[0]).toMatchObject({ multiplied: false, percent: false });
    expect(readAmounts('50 per')[0]).toMatchObject({ percent: false });
    expect(readAmounts('in total 50')[0]).toMatchObject({ percent: false });
    expect(readAmounts('50 by cent')[0]).toMatchObject({ percent: false });
  });

  it('reads a dollar prefix only glued to the "$"', () => {
    expect(one('C $500')).toMatchObject({ text: '$500', currency: 'USD' });
    expect(one('US $500')).toMatchObject({ text: '$500', currency: 'USD' });
    expect(one('R$500')).toMatchObject({ text: 'R$500', currency: 'BRL' });
    expect(one('US€500')).toMatchObject({ text: '€500', currency: 'EUR' });
    expect(one('900₿')).toMatchObject({ text: '900₿', currency: 'XXX' });
    expect(one('$500 USD')).toMatchObject({ text: '$500 USD', currency: 'USD' });
  });

  it.each(['$500 per video', '$500 for each video', '$500 for them each', 'each of them $500'])('%j is a price per unit (the marker up to three words away)', (text) => {
    expect(readAmounts(text).find((m) => m.money)?.multiplied).toBe(true);
  });

  it.each([
    '$500 for the lot each',
    'each of the three for $500',
    '$500 all videos',
    '$500 for 3x',
    '$500 or € each',
    '$500. Each video',
    '$500; each video',
    'Each. $500 for it',
    'Each; $500 for it',
    '3 x 500',
  ])('%j is not a price per unit', (text) => {
    expect(readAmounts(text).find((m) => m.values.some((v) => v.units === 500n))?.multiplied).toBe(false);
  });

  it('reads an unreadable number next to a currency as money with no value', () => {
    expect(one('$1,2,3')).toMatchObject({ money: true, values: [] });
  });

  it('stays linear on long hostile input', () => {
    const hostile = '1,'.repeat(MAX_MONEY_TEXT / 2);
    const started = Date.now();
    readAmounts(hostile);
    readAmounts('$'.repeat(MAX_MONEY_TEXT));
    readAmounts('one '.repeat(MAX_MONEY_TEXT / 4));
    expect(Date.now() - started).toBeLessThan(5_000);
  });
});
