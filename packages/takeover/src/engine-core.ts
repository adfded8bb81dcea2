import type { Db } from '@parley/db';
import type { Logger } from '@parley/logging';
import type { Metrics } from '@parley/metrics';
import type { Queues } from '@parley/queue';

/**
 * What every state change of a negotiation needs, injected. The engine's handlers take this
 * plus the integrations (EngineDeps in @parley/engine); the API's operator actions take only
 * this, so the API does not depend on the Gmail, Sheets or Anthropic clients.
 */
export interface EngineCore {
  db: Db;
  queues: Queues;
  metrics: Metrics;
  log: Logger;
  now: () => Date;
}
