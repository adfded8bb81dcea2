import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * Every metric Parley exports, created on one registry per process and passed to whoever
 * records (no module-level singletons, so tests get their own registry).
 */
export function createMetrics(options: { defaults?: boolean } = {}) {
  const registry = new Registry();
  if (options.defaults) collectDefaultMetrics({ register: registry, prefix: 'parley_' });
  const r = [registry];
  return {
    registry,
    httpRequests: new Counter({ name: 'parley_http_requests_total', help: 'HTTP requests by route, method and status', labelNames: ['method', 'route', 'status'] as const, registers: r }),
    httpDuration: new Histogram({
      name: 'parley_http_request_duration_seconds',
      help: 'HTTP request duration',
      labelNames: ['method', 'route', 'status'] as const,
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: r,
    }),
    webhooks: new Counter({ name: 'parley_webhooks_received_total', help: 'Webhooks received by source and outcome', labelNames: ['source', 'outcome'] as const, registers: r }),
    queueDepth: new Gauge({ name: 'parley_queue_jobs', help: 'Jobs per queue and state (collected on scrape)', labelNames: ['queue', 'state'] as const, registers: r }),
    jobDuration: new Histogram({
      name: 'parley_job_duration_seconds',
      help: 'Job processing time by queue and outcome',
      labelNames: ['queue', 'outcome'] as const,
      buckets: [0.01, 0.05, 0.1, 0.5, 1, 2, 5, 10, 30, 60, 120],
      registers: r,
    }),
    jobRetries: new Counter({ name: 'parley_job_retries_total', help: 'Retry decisions by queue and reason (error class)', labelNames: ['queue', 'reason'] as const, registers: r }),
    deadLetters: new Counter({ name: 'parley_dead_letters_total', help: 'Jobs that failed for good', labelNames: ['queue'] as const, registers: r }),
    llmErrors: new Counter({ name: 'parley_llm_errors_total', help: 'LLM call errors by type', labelNames: ['type'] as const, registers: r }),
    llmDuration: new Histogram({
      name: 'parley_llm_call_duration_seconds',
      help: 'LLM call duration by tool and outcome',
      labelNames: ['tool', 'outcome'] as const,
      buckets: [0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60],
      registers: r,
    }),
    // The fleet-wide LLM gate (packages/llm/src/llm-gate.ts): this process's calls holding a
    // lease and calls waiting for one, and the limits the gate last saw (shared by every process).
    llmInFlight: new Gauge({ name: 'parley_llm_calls_in_flight', help: 'LLM calls of this process holding a gate lease', registers: r }),
    llmWaiting: new Gauge({ name: 'parley_llm_calls_waiting', help: 'LLM calls of this process waiting for the gate', registers: r }),
    llmGateLimit: new Gauge({
      name: 'parley_llm_gate_limit',
      help: 'Limits the LLM gate enforces fleet-wide: concurrency (calls in flight, AIMD), requests/input_tokens/output_tokens per minute (0 = none known)',
      labelNames: ['kind'] as const,
      registers: r,
    }),
    emailsSent: new Counter({ name: 'parley_emails_sent_total', help: 'Emails sent through Gmail by kind', labelNames: ['kind'] as const, registers: r }),
    dealsClosed: new Counter({ name: 'parley_deals_closed_total', help: 'Negotiations that reached agreement', registers: r }),
    escalations: new Counter({ name: 'parley_escalations_total', help: 'Negotiations escalated to a human by reason', labelNames: ['reason'] as const, registers: r }),
    negotiationsByState: new Gauge({ name: 'parley_negotiations', help: 'Negotiations by state (collected on scrape)', labelNames: ['state'] as const, registers: r }),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
