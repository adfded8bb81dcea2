import type { Db } from '@parley/db';
import type { Logger } from '@parley/logging';
import type { Handler, HandlerMap, JobContext, JobData, Queues } from '@parley/queue';
import type { SlackAlertsDeps } from './alerts-delivery';
import { createAlertsHandler } from './alerts.handler';
import { sweepDeliveries } from './delivery-sweep.handler';

export type MaintenanceTask = JobData<'maintenance'>['task'];

/** The queues whose handlers talk to the outside world; the engine's wiring builds them. */
export type IntegrationQueue = 'gmail-notifications' | 'campaign-tasks' | 'negotiation-steps' | 'outbound-email';
export type IntegrationHandlers = Pick<HandlerMap, IntegrationQueue>;

export interface HandlerDeps {
  db: Db;
  queues: Queues;
  log: Logger;
  now?: () => Date;
  /** Maintenance tasks other than the delivery sweep (the engine's, from its wiring). */
  maintenanceTasks?: Partial<Record<MaintenanceTask, (ctx: JobContext) => Promise<unknown>>>;
  /** Slack delivery of alerts; without it alerts are logged (slackAlertsFromConfig). */
  slackAlerts?: SlackAlertsDeps | null;
}

/**
 * The worker's handler map: the integrations' handlers as given, alerts and maintenance built
 * here. Every queue has its handler by type: leaving one out does not compile.
 */
export function createHandlers(deps: HandlerDeps, integrations: IntegrationHandlers): HandlerMap {
  const now = deps.now ?? (() => new Date());
  const maintenance: Handler<'maintenance'> = async ({ task }, ctx) => {
    if (task === 'delivery-sweep') return sweepDeliveries({ db: deps.db, queues: deps.queues, log: ctx.log, now });
    const run = deps.maintenanceTasks?.[task];
    if (run) return run(ctx);
    // Scheduled only for the tasks the wiring provides (scheduleMaintenance); a job left from
    // an older deploy's schedule is acknowledged, not failed.
    ctx.log.info('maintenance task not provided by this wiring', { task });
    return { skipped: task };
  };
  return {
    'gmail-notifications': integrations['gmail-notifications'],
    'campaign-tasks': integrations['campaign-tasks'],
    'negotiation-steps': integrations['negotiation-steps'],
    'outbound-email': integrations['outbound-email'],
    alerts: createAlertsHandler(deps.slackAlerts ?? null),
    maintenance,
  };
}
