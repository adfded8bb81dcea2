import { campaignProblemMessage, digestMessage, escalationReason } from './alerts-content';

const base = { round: 3, lastAskMinor: 450_000, currentOfferMinor: 130_000, currency: 'USD', averageViews: 52_000, campaign: { cpmFloorMinor: 1000, cpmCeilingMinor: 2500, maxRounds: 3 } };
const deps = { publicUrl: 'https://parley.example.test/' };

describe('escalationReason', () => {
  it('puts the ask, the ceiling and the rounds in numbers', () => {
    expect(escalationReason({ ...base, escalationReason: 'ask above ceiling after the last round' })).toBe('asked $4,500, ceiling $1,300, after 3 rounds');
    expect(escalationReason({ ...base, currency: 'EUR', round: 1, escalationReason: 'ask above ceiling after the last round' })).toBe('asked EUR 4,500, ceiling EUR 1,300, after 1 round');
  });

  it('explains an LLM outage and keeps other reasons as written', () => {
    expect(escalationReason({ ...base, escalationReason: 'llm_unavailable: the LLM has failed for 900s' })).toBe('the LLM could not be reached (the LLM has failed for 900s); nothing was sent, after 3 rounds');
    expect(escalationReason({ ...base, round: 2, escalationReason: 'reply names EUR, the campaign is in USD' })).toBe('reply names EUR, the campaign is in USD, after 2 rounds');
    expect(escalationReason({ ...base, escalationReason: null })).toBe('no reason recorded, after 3 rounds');
  });
});

describe('campaignProblemMessage', () => {
  it('lists each roster row, escapes mrkdwn and hides addresses, and caps a long roster', () => {
    const rows = Array.from({ length: 30 }, (_, i) => `row ${i + 2}: name <b>missing</b> for x${i}@creator.example`).join('; ');
    const message = campaignProblemMessage(deps, { alertId: 'a', kind: 'campaign_problem', title: 'Roster', text: rows });
    const body = JSON.stringify(message.blocks);
    expect(body).toContain('• Row 2: name &lt;b&gt;missing&lt;/b&gt; for ***@creator.example');
    expect(body).toContain('…and 5 more');
    expect(body).not.toMatch(/x\d+@/);
  });
});

describe('digestMessage', () => {
  it('counts per kind, largest first, with the dashboard', () => {
    const body = JSON.stringify(digestMessage(deps, { escalation: 1, dead_letter: 40 }, 10).blocks);
    expect(body).toContain('41 more alerts in one minute');
    expect(body.indexOf('40 dead letters')).toBeLessThan(body.indexOf('1 escalation'));
    expect(body).toContain('https://parley.example.test/admin/dead-letters');
  });
});
