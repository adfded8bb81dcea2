import type { SandboxTaskInput } from './clickup-task.store';
import type { ClickUpWebhookEvent, SendWebhookOptions } from './clickup-webhook.sender';
import type { ClickUpSandboxRequest, FailNextOptions } from './clickup.sandbox';

/** The sandbox's control surface, over HTTP, for a sandbox running in another process. */
export interface ClickUpSandboxControl {
  upsertTask(task: SandboxTaskInput): Promise<void>;
  setStatus(id: string, status: string): Promise<void>;
  failNext(n: number, options: FailNextOptions): Promise<void>;
  sendWebhook(url: string, event: ClickUpWebhookEvent, options?: Omit<SendWebhookOptions, 'timeoutMs'>): Promise<number[]>;
  requests(): Promise<ClickUpSandboxRequest[]>;
}

/** `sandboxUrl` is the sandbox root (`http://127.0.0.1:<port>`), not its `/api/v2`. */
export function connectClickUpSandbox(sandboxUrl: string): ClickUpSandboxControl {
  const root = sandboxUrl.replace(/\/+$/, '');
  async function call<T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> {
    const response = await fetch(`${root}/_control${path}`, {
      method,
      headers: body === undefined ? {} : { 'Content-Type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    if (!response.ok) throw new Error(`ClickUp sandbox control ${path}: ${response.status} ${text}`);
    return JSON.parse(text) as T;
  }
  return {
    upsertTask: async (task) => void (await call('POST', '/tasks', task)),
    setStatus: async (id, status) => void (await call('POST', `/tasks/${encodeURIComponent(id)}/status`, { status })),
    failNext: async (n, options) => void (await call('POST', '/fail-next', { n, ...options })),
    sendWebhook: async (url, event, options = {}) => (await call<{ statuses: number[] }>('POST', '/webhooks', { url, ...event, ...options })).statuses,
    requests: async () => (await call<{ requests: ClickUpSandboxRequest[] }>('GET', '/requests')).requests,
  };
}
