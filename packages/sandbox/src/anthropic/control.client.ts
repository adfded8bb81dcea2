import type { AnthropicSandboxCall } from './anthropic-sandbox.server';
import type { AnthropicFault } from './faults';

/** The sandbox's control API over HTTP, for a test that runs the sandbox in another process. */
export interface AnthropicSandboxControl {
  faults(list: AnthropicFault[]): Promise<void>;
  calls(): Promise<AnthropicSandboxCall[]>;
  reset(): Promise<void>;
}

export function connectAnthropicSandbox(url: string): AnthropicSandboxControl {
  const base = url.replace(/\/+$/, '');
  const call = async (method: string, path: string, body?: unknown): Promise<unknown> => {
    const res = await fetch(`${base}${path}`, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const json: unknown = await res.json();
    if (!res.ok) throw new Error(`anthropic sandbox ${method} ${path}: ${res.status} ${JSON.stringify(json)}`);
    return json;
  };
  return {
    faults: async (list) => {
      await call('POST', '/_control/faults', list);
    },
    calls: async () => (await call('GET', '/_control/calls')) as AnthropicSandboxCall[],
    reset: async () => {
      await call('POST', '/_control/reset');
    },
  };
}
