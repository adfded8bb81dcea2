import type { Handler } from '@parley/queue';

/**
 * Alerts are logged in this build; Slack delivery plugs in here later. Only the title, the
 * kind and the ids are logged: the text can quote an influencer's email.
 */
export function createAlertsHandler(): Handler<'alerts'> {
  return async (alert, ctx) => {
    const level = alert.kind === 'dead_letter' || alert.kind === 'escalation' ? 'warn' : 'info';
    ctx.log.log(level, 'alert', {
      alertId: alert.alertId,
      kind: alert.kind,
      title: alert.title,
      negotiationId: alert.negotiationId,
      deadLetterId: alert.deadLetterId,
      campaignId: alert.campaignId,
    });
    return { delivered: 'log' };
  };
}
