import type { Persona, PersonaKind } from './personas';
import { EXPECTED_OUTCOME } from './personas';
import type { SandboxFieldValue } from './clickup';
import type { Sandbox } from './sandbox';

export interface DemoInfluencer {
  name: string;
  email: string;
  platform: string;
  averageViews: number;
  deliverables: string;
  persona: Persona;
}

/** Five influencers, one per persona. CPM $20-$30: 50k views price between $1,000 and $1,500. */
export const DEMO_INFLUENCERS: DemoInfluencer[] = [
  { name: 'Ava Accepts', email: 'ava@creators.test', platform: 'YouTube', averageViews: 50_000, deliverables: '1 dedicated video', persona: { kind: 'accepts' } },
  { name: 'Carl Counters', email: 'carl@creators.test', platform: 'Instagram', averageViews: 50_000, deliverables: '2 reels', persona: { kind: 'counters', target: 1300 } },
  { name: 'Greta Greedy', email: 'greta@creators.test', platform: 'TikTok', averageViews: 50_000, deliverables: '3 videos', persona: { kind: 'greedy' } },
  { name: 'Otto Away', email: 'otto@creators.test', platform: 'YouTube', averageViews: 40_000, deliverables: '1 integration', persona: { kind: 'out_of_office' } },
  { name: 'Sam Silent', email: 'sam@creators.test', platform: 'Twitch', averageViews: 30_000, deliverables: '1 stream mention', persona: { kind: 'silent' } },
];

export const DEMO_CAMPAIGN = {
  taskId: 'demo-task-1',
  name: 'Spring Launch',
  sheetId: 'demo-roster-sheet',
  range: 'Roster!A1:F',
  cpmFloor: 20,
  cpmCeiling: 30,
  maxRounds: 3,
} as const;

export function demoPersonas(influencers: DemoInfluencer[] = DEMO_INFLUENCERS): Record<string, Persona> {
  return Object.fromEntries(influencers.map((i) => [i.email, { ...i.persona, name: i.name }]));
}

export function expectedState(kind: PersonaKind): string {
  return EXPECTED_OUTCOME[kind];
}

export interface SeedOptions {
  influencers?: DemoInfluencer[];
  /** Rows appended to the roster as given (e.g. invalid ones). */
  extraRows?: string[][];
  taskId?: string;
  /** Another campaign beside the demo's: its own roster sheet and name. */
  sheetId?: string;
  name?: string;
  /** The task's ClickUp status. @defaultValue 'ready' */
  status?: string;
  /** Custom fields to change; `null` leaves a field unset, a key absent from the task is added. */
  fields?: Record<string, SandboxFieldValue>;
  /** Custom fields to leave out of the task altogether. */
  omitFields?: string[];
}

/** Creates the campaign task and its roster sheet in the sandbox (the webhook is sent separately). */
export function seedDemoCampaign(sandbox: Pick<Sandbox, 'clickup' | 'google'>, options: SeedOptions = {}): void {
  const influencers = options.influencers ?? DEMO_INFLUENCERS;
  const c = DEMO_CAMPAIGN;
  const taskId = options.taskId ?? c.taskId;
  const sheetId = options.sheetId ?? c.sheetId;
  sandbox.google.setSheet(sheetId, c.range, [
    ['name', 'email', 'platform', 'average_views', 'deliverables', 'notes'],
    ...influencers.map((i) => [i.name, i.email, i.platform, i.averageViews.toLocaleString('en-US'), i.deliverables, '']),
    ...(options.extraRows ?? []),
  ]);
  const fields: Record<string, SandboxFieldValue> = {
    'CPM Floor': c.cpmFloor,
    'CPM Ceiling': c.cpmCeiling,
    'Max Rounds': c.maxRounds,
    'Roster Sheet': `https://docs.google.com/spreadsheets/d/${sheetId}/edit#gid=0`,
    'Roster Range': c.range,
    Currency: 'USD',
    ...options.fields,
  };
  for (const name of options.omitFields ?? []) delete fields[name];
  sandbox.clickup.upsertTask({ id: taskId, name: options.name ?? c.name, status: options.status ?? 'ready', customFields: fields });
}
