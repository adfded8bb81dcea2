import { extractReplyText, htmlToText, parseAddressList, toParsedMessage } from '@parley/google';
import { redactString } from '@parley/logging';

/**
 * Hostile inputs that made the old parsers quadratic (a 1 MB reply blocked the event loop for
 * 36 s, 200 KB of "<" for 30 s, an 80 KB From for 3 s, redaction of 200 KB for 40 s). Each is
 * checked for linear growth: the input is doubled until one run takes at least 25 ms of CPU
 * (so timer noise is small), then doubling it once more must cost less than 3x (a quadratic
 * parser costs 4x). Times are the minimum of several runs, which a loaded machine inflates
 * least; the bound has room for a busy 2-core box.
 */
/**
 * Milliseconds of CPU this process spent in `run` (the minimum of `repeats` runs). CPU time,
 * not wall time: on a machine shared by other test runs, waiting for a core is not work.
 */
function timeOf(run: () => unknown, repeats = 5): number {
  let best = Infinity;
  for (let i = 0; i < repeats; i++) {
    const start = process.cpuUsage();
    run();
    const used = process.cpuUsage(start);
    best = Math.min(best, (used.user + used.system) / 1000);
  }
  return best;
}

/** Times of `fn` on `a` and on `b`, interleaved (so a burst of load hits both), each the minimum of `pairs` runs. */
function pairedTimes(fn: (input: string) => unknown, a: string, b: string, pairs = 5): [number, number] {
  let small = Infinity;
  let large = Infinity;
  for (let i = 0; i < pairs; i++) {
    small = Math.min(small, timeOf(() => fn(a), 1));
    large = Math.min(large, timeOf(() => fn(b), 1));
  }
  return [small, large];
}

/**
 * The input size at which one run takes 25 ms or more, and the best ratio time(2n) / time(n)
 * over up to eight rounds: a quadratic parser is near 4 in every round, while a linear one
 * that a neighbour's load slowed in one round recovers in a later one (the suite runs beside
 * e2e processes on two cores, which inflated a 7 ms run to 80 ms in one measured CI run).
 */
function growth(make: (n: number) => string, fn: (input: string) => unknown, start = 16_384): { n: number; small: number; large: number; ratio: number } {
  let n = start;
  let input = make(n);
  while (timeOf(() => fn(input), 3) < 25 && n < 16_000_000) {
    n *= 2;
    input = make(n);
  }
  const doubled = make(2 * n);
  let best = { n, small: 0, large: 0, ratio: Infinity };
  for (let round = 0; round < 8 && best.ratio >= 3; round++) {
    const [small, large] = pairedTimes(fn, input, doubled);
    if (large / small < best.ratio) best = { n, small, large, ratio: large / small };
  }
  return best;
}

const repeat = (unit: string) => (n: number) => unit.repeat(Math.ceil(n / unit.length));

const cases: [string, (n: number) => string, (input: string) => unknown][] = [
  ['reply text: a "wrote:" line after every line', repeat('Someone wrote:\nok\n'), extractReplyText],
  ['reply text: long attribution-like lines', repeat(`On ${'x '.repeat(300)} wrote: not quite\n`), extractReplyText],
  ['reply text: one huge line', repeat('On wrote '), extractReplyText],
  ['html: a run of "<"', repeat('<'), htmlToText],
  ['html: unclosed blockquotes and styles', repeat('<blockquote><style>a'), htmlToText],
  ['html: huge tag with class attributes', (n) => `<div class="${'class=gmail '.repeat(n / 12)}">x</div>`, htmlToText],
  ['addresses: "<" and "@" without end', (n) => `<${'a@'.repeat(n / 2)}`, parseAddressList],
  ['addresses: letters without "@"', repeat('a'), parseAddressList],
  ['addresses: quotes and comments', repeat('"a(b'), parseAddressList],
  ['redaction: letters without "@"', repeat('a'), redactString],
  ['redaction: "@" after every letter', repeat('a@'), redactString],
  ['redaction: a domain that never ends in a TLD', (n) => `a@${'b.1'.repeat(n / 3)}`, redactString],
  ['redaction: JWT-like prefixes', repeat('eyJ-'), redactString],
];

describe('parsing and redaction of hostile text grow linearly', () => {
  it.each(cases)('%s', (_name, make, fn) => {
    const { n, small, large, ratio } = growth(make, fn);
    // The sizes and times are in the failure message: { n, small ms, large ms }.
    expect({ n, small: Math.round(small), large: Math.round(large), linear: ratio < 3 }).toEqual({ n, small: Math.round(small), large: Math.round(large), linear: true });
  });
});

describe('a whole hostile message is read within bounds', () => {
  const b64 = (text: string) => Buffer.from(text, 'utf8').toString('base64url');
  it('5 MB of "<" in an HTML-only body and an 80 KB From header: read in well under a second', () => {
    const raw = {
      id: 'a',
      threadId: 'a',
      payload: {
        mimeType: 'text/html',
        headers: [
          { name: 'From', value: `<${'a@'.repeat(40_000)}` },
          { name: 'Subject', value: `=?UTF-8?B?${'QUJD'.repeat(50_000)}?=` },
          { name: 'References', value: '<'.repeat(80_000) },
        ],
        body: { data: b64(`<p>Deal at $1,200.00.</p>${'<'.repeat(5_000_000)}`) },
      },
    };
    const ms = timeOf(() => toParsedMessage(raw), 3);
    const parsed = toParsedMessage(raw);
    expect(parsed.problem).toBeNull();
    expect(parsed.text.startsWith('Deal at $1,200.00.')).toBe(true);
    expect(parsed.text.length).toBeLessThanOrEqual(20_000);
    expect(parsed.subject.length).toBeLessThanOrEqual(1_000);
    expect(ms).toBeLessThan(1_000);
  });
});
