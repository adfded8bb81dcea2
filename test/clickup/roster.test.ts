import fc from 'fast-check';
import { parseRoster, parseViewCount } from '@parley/clickup';

const HEADER = ['name', 'email', 'platform', 'average_views', 'deliverables'];

describe('parseRoster', () => {
  it('reads the three view formats and 1-based sheet row numbers', () => {
    const { rows, problems } = parseRoster([
      HEADER,
      ['Ada Lovelace', 'ada@example.com', 'YouTube', '12500', '1 video'],
      ['Grace Hopper', 'grace@example.org', 'Instagram', '12,500', '2 reels'],
      ['Alan Turing', 'alan@example.net', 'TikTok', '12.5k', '3 shorts'],
      ['Katherine Johnson', 'kj@example.com', 'YouTube', '1.2m', '1 integration'],
    ]);
    expect(problems).toEqual([]);
    expect(rows).toEqual([
      { row: 2, name: 'Ada Lovelace', email: 'ada@example.com', platform: 'YouTube', averageViews: 12500, deliverables: '1 video' },
      { row: 3, name: 'Grace Hopper', email: 'grace@example.org', platform: 'Instagram', averageViews: 12500, deliverables: '2 reels' },
      { row: 4, name: 'Alan Turing', email: 'alan@example.net', platform: 'TikTok', averageViews: 12500, deliverables: '3 shorts' },
      { row: 5, name: 'Katherine Johnson', email: 'kj@example.com', platform: 'YouTube', averageViews: 1_200_000, deliverables: '1 integration' },
    ]);
  });

  it('matches headers without regard to case, in any order, ignoring other columns', () => {
    const { rows, problems } = parseRoster([
      ['Notes', 'EMAIL', 'Deliverables', 'Average_Views', 'Platform', 'NAME'],
      ['met at a conference', ' Ada@Example.com ', '1 video', '12.5K', 'YouTube', 'Ada'],
    ]);
    expect(problems).toEqual([]);
    expect(rows).toEqual([{ row: 2, name: 'Ada', email: 'Ada@Example.com', platform: 'YouTube', averageViews: 12500, deliverables: '1 video' }]);
  });

  it('skips and reports bad rows by row number while the good rows proceed', () => {
    const { rows, problems } = parseRoster([
      HEADER,
      ['Good One', 'one@example.com', 'YouTube', '10000', '1 video'],
      ['No Email', '', 'YouTube', '10000', '1 video'],
      ['Bad Email', 'not-an-address', 'YouTube', '10000', '1 video'],
      ['Bad Views', 'views@example.com', 'YouTube', 'lots', '1 video'],
      ['Zero Views', 'zero@example.com', 'YouTube', '0', '1 video'],
      ['Short Row', 'short@example.com', 'YouTube'],
      [],
      ['Good Two', 'two@example.com', 'Twitch', '2,000', '2 streams'],
      ['Dup', 'ONE@example.com', 'YouTube', '5k', '1 video'],
    ]);
    expect(rows.map((row) => [row.row, row.name])).toEqual([
      [2, 'Good One'],
      [9, 'Good Two'],
    ]);
    expect(problems).toEqual([
      { row: 3, problem: 'skipped: email is empty' },
      { row: 4, problem: 'skipped: email is not a valid address' },
      { row: 5, problem: expect.stringMatching(/^skipped: average_views is not a view count/) },
      { row: 6, problem: expect.stringMatching(/^skipped: average_views is not a view count/) },
      { row: 7, problem: 'skipped: average_views is empty; deliverables is empty' },
      { row: 10, problem: 'skipped: email duplicates row 2' },
    ]);
  });

  it('reports missing required headers as one problem on row 1', () => {
    expect(parseRoster([['Name', 'Email', 'Followers'], ['Ada', 'ada@example.com', '100']])).toEqual({
      rows: [],
      problems: [{ row: 1, problem: 'missing required columns: platform, average_views, deliverables' }],
    });
    expect(parseRoster([])).toEqual({ rows: [], problems: [{ row: 1, problem: expect.stringMatching(/^no header row/) }] });
  });

  it('never puts a cell value in a problem text', () => {
    const email = fc.tuple(fc.stringMatching(/^[a-z0-9.]{1,12}$/), fc.constantFrom('example.com', 'mail.test', 'x.org')).map(([user, host]) => `${user}@${host}`);
    const cell = fc.oneof(email, fc.constantFrom('', 'lots', '12,5', 'abc@', '@def', '1.2.3k'), fc.string({ maxLength: 8 }));
    const row = fc.array(cell, { minLength: 0, maxLength: 6 });
    fc.assert(
      fc.property(fc.array(row, { maxLength: 12 }), (body) => {
        const values = [HEADER, ...body];
        const { rows, problems } = parseRoster(values);
        const cells = new Set(body.flat().map((value) => value.trim()).filter((value) => value.includes('@')));
        for (const { problem } of problems) for (const value of cells) expect(problem).not.toContain(value);
        // Every data row is accounted for exactly once: accepted, reported, or blank.
        const seen = new Set([...rows.map((r) => r.row), ...problems.map((p) => p.row)]);
        const blank = body.filter((cells) => cells.every((value) => value.trim() === '')).length;
        expect(seen.size + blank).toBe(body.length);
      }),
      { numRuns: 300 },
    );
  });
});

describe('parseViewCount', () => {
  it.each([
    ['12500', 12500],
    ['12,500', 12500],
    ['1,234,567', 1234567],
    ['12.5k', 12500],
    ['12.5 K', 12500],
    ['1.2m', 1200000],
    ['1M', 1000000],
    ['12,500.00', 12500],
  ])('reads %s as %d', (text, views) => expect(parseViewCount(text)).toBe(views));

  it.each(['', 'abc', '12,50', '1,2345', '-5', '0', '0.0001k', '12.5b', '1e5', 'k'])('refuses %p', (text) => {
    expect(parseViewCount(text)).toBeUndefined();
  });
});
