import { z } from 'zod';
import { requireVars } from '@parley/config';
import { optionValues, type Command } from '../command';
import { assertWritable, setEnvVar } from '../env-file';
import { CommandError, EXIT, UsageError } from '../errors';

/** The events the ingress acts on (README: a campaign starts on any of them). */
const EVENTS = ['taskCreated', 'taskUpdated', 'taskStatusUpdated'];
const TIMEOUT_MS = 15_000;

// Create Webhook answers { id, webhook: { id, ..., secret } }; only these fields are read.
const createdSchema = z.object({ id: z.string().min(1), webhook: z.object({ secret: z.string().min(16) }) });
const errorSchema = z.object({ err: z.string().optional(), ECODE: z.string().optional() });

const options = z.object({
  endpoint: z.string({ message: 'is required: the public URL of POST /webhooks/clickup, e.g. https://parley.example.com/webhooks/clickup' }),
  'env-file': z.string().min(1).default('.env'),
  team: z
    .string()
    .regex(/^\d{1,20}$/, { message: 'must be the numeric workspace (team) id from the ClickUp URL, e.g. 9015000001' })
    .optional(),
});

function endpointUrl(value: string, usage: string): URL {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new UsageError(`--endpoint: not a URL: ${JSON.stringify(value)}`, usage);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new UsageError(`--endpoint: must be an https:// URL (got ${url.protocol})`, usage);
  if (url.username || url.password) throw new UsageError('--endpoint: must not carry credentials', usage);
  return url;
}

export const setupClickUpWebhook: Command = {
  path: ['setup', 'clickup-webhook'],
  usage: 'parley setup clickup-webhook --endpoint URL [--team ID] [--env-file PATH]',
  summary: 'register the ClickUp webhook and store its signing secret',
  help: [
    'Creates a webhook in the ClickUp workspace (POST /team/{team_id}/webhook) that sends',
    `${EVENTS.join(', ')} to URL (the API's POST /webhooks/clickup), and writes the secret ClickUp signs`,
    'deliveries with into the env file as CLICKUP_WEBHOOK_SECRET (replacing an earlier value). The',
    'secret is never printed. Restart the API afterwards so it verifies X-Signature with it.',
    '',
    '  --endpoint URL     where ClickUp posts (https; http only for a local test)',
    '  --team ID          the workspace id (the number after app.clickup.com/ in its URL); default CLICKUP_TEAM_ID',
    '  --env-file PATH    the dotenv file to update (default .env; created readable by you only)',
    '',
    'Needs CLICKUP_API_TOKEN (and CLICKUP_API_URL for another API root).',
  ].join('\n'),
  options: { endpoint: { type: 'string' }, team: { type: 'string' }, 'env-file': { type: 'string' } },
  positionals: [],
  async run(ctx, { values }) {
    const opts = optionValues(this, options, { team: ctx.env.CLICKUP_TEAM_ID?.trim() || undefined, ...values });
    const endpoint = endpointUrl(opts.endpoint, this.usage);
    if (opts.team === undefined) throw new UsageError('--team: required (or set CLICKUP_TEAM_ID): the numeric workspace id from the ClickUp URL', this.usage);
    const config = ctx.settings();
    const { CLICKUP_API_TOKEN } = requireVars(config, 'registering the ClickUp webhook', ['CLICKUP_API_TOKEN']);
    if (endpoint.protocol === 'http:') ctx.out.note('warning: the endpoint is plain http; ClickUp deliveries carry campaign data, use https outside a test.');
    try {
      assertWritable(opts['env-file']);
    } catch (error) {
      // Checked first: a webhook whose secret could not be stored would have to be deleted by hand.
      throw new CommandError(`cannot write the env file ${opts['env-file']}: ${(error as Error).message}; nothing was registered`);
    }

    const url = `${config.CLICKUP_API_URL.replace(/\/+$/, '')}/team/${encodeURIComponent(opts.team)}/webhook`;
    let response: Response;
    try {
      response = await fetch(url, {
        method: 'POST',
        headers: { Authorization: CLICKUP_API_TOKEN, 'Content-Type': 'application/json', Accept: 'application/json' },
        body: JSON.stringify({ endpoint: endpoint.toString(), events: EVENTS }),
        signal: AbortSignal.timeout(TIMEOUT_MS),
      });
    } catch (error) {
      // fetch says only "fetch failed"; the reason (refused, DNS, timeout) is its cause.
      const cause = (error as { cause?: unknown }).cause;
      const why = cause instanceof Error ? `${(error as Error).message}: ${cause.message}` : (error as Error).message;
      throw new CommandError(`ClickUp did not answer at ${config.CLICKUP_API_URL}: ${why}`);
    }
    const text = await response.text();
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      body = undefined;
    }
    if (!response.ok) {
      const err = errorSchema.safeParse(body);
      const what = err.success && err.data.err ? `${err.data.err}${err.data.ECODE ? ` (${err.data.ECODE})` : ''}` : `HTTP ${response.status}`;
      const hint = response.status === 401 ? '; check CLICKUP_API_TOKEN (a personal token pk_…) and that it belongs to that workspace' : '';
      throw new CommandError(`ClickUp refused the webhook: ${what}${hint}`);
    }
    const created = createdSchema.safeParse(body);
    if (!created.success) throw new CommandError('ClickUp answered without a webhook id and secret; check CLICKUP_API_URL points at the API v2 root');

    const how = setEnvVar(opts['env-file'], 'CLICKUP_WEBHOOK_SECRET', created.data.webhook.secret);
    ctx.out.line(`ClickUp webhook ${created.data.id} registered for ${endpoint.toString()} (${EVENTS.join(', ')}).`);
    ctx.out.line(`CLICKUP_WEBHOOK_SECRET ${how === 'replaced' ? 'replaced' : 'written'} in ${opts['env-file']}; restart the API to use it.`);
    return EXIT.ok;
  },
};
