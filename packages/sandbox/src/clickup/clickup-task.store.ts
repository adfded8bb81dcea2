import { createHash } from 'node:crypto';
import { z } from 'zod';

/**
 * A custom field value as a test or the demo gives it. Plain values pick a realistic field type:
 * a number becomes a Number field whose value is a string (as ClickUp often returns it), an
 * http(s) string a URL field, another string a Text field, null an unset field (no `value` key).
 * The object form sets the type exactly; a `drop_down` takes the option names and the chosen one.
 */
export const sandboxFieldValueSchema = z.union([
  z.string(),
  z.number(),
  z.boolean(),
  z.null(),
  z.object({
    type: z.string().min(1),
    value: z.unknown().optional(),
    options: z.array(z.string()).optional(),
    typeConfig: z.record(z.string(), z.unknown()).optional(),
  }),
]);
export type SandboxFieldValue = z.input<typeof sandboxFieldValueSchema>;

export const sandboxTaskSchema = z.object({
  id: z.string().min(1),
  name: z.string(),
  status: z.string().min(1),
  customFields: z.record(z.string(), sandboxFieldValueSchema).default({}),
});
export type SandboxTaskInput = z.input<typeof sandboxTaskSchema>;

interface StoredTask {
  id: string;
  name: string;
  status: string;
  previousStatus: string | null;
  customFields: Record<string, SandboxFieldValue>;
  dateCreated: number;
  dateUpdated: number;
}

export interface ClickUpStatus {
  status: string;
  color: string;
  orderindex: number;
  type: string;
}

const STATUS_LOOK: Record<string, { color: string; orderindex: number; type: string }> = {
  'to do': { color: '#d3d3d3', orderindex: 0, type: 'open' },
  open: { color: '#d3d3d3', orderindex: 0, type: 'open' },
  draft: { color: '#87909e', orderindex: 1, type: 'custom' },
  ready: { color: '#4194f6', orderindex: 2, type: 'custom' },
  'in progress': { color: '#a875ff', orderindex: 3, type: 'custom' },
  complete: { color: '#6bc950', orderindex: 4, type: 'closed' },
  closed: { color: '#6bc950', orderindex: 4, type: 'closed' },
};

export function statusObject(status: string): ClickUpStatus {
  const look = STATUS_LOOK[status.toLowerCase()] ?? { color: '#f9d900', orderindex: 5, type: 'custom' };
  return { status, ...look };
}

/** Stable, uuid-shaped ids so a field keeps its id across upserts, as in a real list. */
function stableId(seed: string): string {
  const hex = createHash('sha1').update(seed).digest('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}

export class ClickUpTaskStore {
  private readonly tasks = new Map<string, StoredTask>();

  upsert(input: SandboxTaskInput): void {
    const task = sandboxTaskSchema.parse(input);
    const existing = this.tasks.get(task.id);
    const now = Date.now();
    this.tasks.set(task.id, {
      id: task.id,
      name: task.name,
      status: task.status,
      previousStatus: existing && existing.status !== task.status ? existing.status : (existing?.previousStatus ?? null),
      customFields: task.customFields,
      dateCreated: existing?.dateCreated ?? now,
      dateUpdated: now,
    });
  }

  /** False when there is no such task. */
  setStatus(id: string, status: string): boolean {
    const task = this.tasks.get(id);
    if (!task) return false;
    if (task.status !== status) task.previousStatus = task.status;
    task.status = status;
    task.dateUpdated = Date.now();
    return true;
  }

  statusChange(id: string): { before: string | null; after: string } | undefined {
    const task = this.tasks.get(id);
    return task ? { before: task.previousStatus, after: task.status } : undefined;
  }

  /** The body of `GET /api/v2/task/{id}`, shaped like ClickUp's Get Task answer. */
  render(id: string): Record<string, unknown> | undefined {
    const task = this.tasks.get(id);
    if (!task) return undefined;
    return {
      id: task.id,
      custom_id: null,
      custom_item_id: 0,
      name: task.name,
      text_content: '',
      description: '',
      status: statusObject(task.status),
      orderindex: '1.00000000000000000000000000000000',
      date_created: String(task.dateCreated),
      date_updated: String(task.dateUpdated),
      date_closed: null,
      date_done: null,
      archived: false,
      creator: { id: 183, username: 'Campaign Manager', color: '#827718', email: 'manager@example.com', profilePicture: null },
      assignees: [],
      group_assignees: [],
      watchers: [],
      checklists: [],
      tags: [],
      parent: null,
      priority: null,
      due_date: null,
      start_date: null,
      points: null,
      time_estimate: null,
      custom_fields: Object.entries(task.customFields).map(([name, value]) => renderField(name, value, task.dateCreated)),
      dependencies: [],
      linked_tasks: [],
      team_id: '9015000000',
      url: `https://app.clickup.com/t/${task.id}`,
      permission_level: 'create',
      list: { id: '901500000001', name: 'Campaigns', access: true },
      project: { id: '90150000002', name: 'hidden', hidden: true, access: true },
      folder: { id: '90150000002', name: 'hidden', hidden: true, access: true },
      space: { id: '90150000003' },
    };
  }
}

function renderField(name: string, given: SandboxFieldValue, created: number): Record<string, unknown> {
  const base = { id: stableId(name), name, date_created: String(created), hide_from_guests: false, required: false };
  const withValue = (type: string, typeConfig: Record<string, unknown>, value: unknown) =>
    value === undefined || value === null ? { ...base, type, type_config: typeConfig } : { ...base, type, type_config: typeConfig, value };

  if (given === null) return withValue('short_text', {}, undefined);
  if (typeof given === 'number') return withValue('number', {}, String(given));
  if (typeof given === 'boolean') return withValue('checkbox', {}, String(given));
  if (typeof given === 'string') return withValue(/^https?:\/\//i.test(given) ? 'url' : 'short_text', {}, given);

  if (given.type === 'drop_down') {
    const names = given.options ?? (typeof given.value === 'string' ? [given.value] : []);
    const options = names.map((option, orderindex) => ({ id: stableId(`${name}/${option}`), name: option, color: null, orderindex }));
    const chosen = options.find((option) => option.name === given.value);
    return withValue('drop_down', { ...given.typeConfig, options }, chosen?.orderindex);
  }
  const typeConfig = given.type === 'currency' ? { precision: 2, currency_type: 'USD', default: null, ...given.typeConfig } : { ...given.typeConfig };
  return withValue(given.type, typeConfig, given.value);
}
