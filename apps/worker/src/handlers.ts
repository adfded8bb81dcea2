import type { Db } from '@parley/db';
import type { Logger } from '@parley/logging';
import { PermanentError, type Handler, type HandlerMap, type JobContext, type JobData, type Queues, type QueueName } from '@parley/queue';
import type { SlackAlertsDeps } from './alerts-delivery';
import { createAlertsHandler } from './alerts.handler';
import { sweepDeliveries } from './delivery-sweep.handler';

export type MaintenanceTask = JobData<'maintenance'>['task'];

export interface HandlerDeps {
  db: Db;
  queues: Queues;
  log: Logger;
  now?: () => Date;
  /** Maintenance tasks other than the delivery sweep, as later work provides them. */
  maintenanceTasks?: Partial<Record<MaintenanceTask, (ctx: JobContext) => Promise<unknown>>>;
  /** Slack delivery of alerts; without it alerts are logged (slackAlertsFromConfig). */
  slackAlerts?: SlackAlertsDeps | null;
}

/**
 * The worker's handler map. The queues whose handlers live elsewhere (mailbox sync, campaign
 * ingest, negotiation steps, sending) come in as overrides; without one, a job on that queue
 * fails permanently and becomes a dead letter (visible, replayable) instead of vanishing.
 */
export function createHandlers(deps: HandlerDeps, overrides: Partial<HandlerMap> = {}): HandlerMap {
  const now = deps.now ?? (() => new Date());
  const maintenance: Handler<'maintenance'> = async ({ task }, ctx) => {
    if (task === 'delivery-sweep') return sweepDeliveries({ db: deps.db, queues: deps.queues, log: ctx.log, now });
    const run = deps.maintenanceTasks?.[task];
    if (run) return run(ctx);
    ctx.log.info('maintenance task not in this build', { task });
    return { skipped: task };
  };
  return {
    'gmail-notifications': overrides['gmail-notifications'] ?? missing('gmail-notifications'),
    'campaign-tasks': overrides['campaign-tasks'] ?? missing('campaign-tasks'),
    'negotiation-steps': overrides['negotiation-steps'] ?? missing('negotiation-steps'),
    'outbound-email': overrides['outbound-email'] ?? missing('outbound-email'),
    alerts: overrides.alerts ?? createAlertsHandler(deps.slackAlerts ?? null),
    maintenance: overrides.maintenance ?? maintenance,
  };
}

function missing<Q extends QueueName>(queue: Q): Handler<Q> {
  return async () => {
    throw new PermanentError(`no handler for ${queue} in this build`, 'no_handler');
  };
}
