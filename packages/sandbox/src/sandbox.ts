import { startAnthropicSandbox, type AnthropicSandbox } from './anthropic';
import { startClickUpSandbox, type ClickUpSandbox } from './clickup';
import { startGoogleSandbox, type GoogleSandbox } from './google';
import { attachPersonas, type Persona, type PersonasHandle } from './personas';
import { createOidcSigner, createPubSubPusher, startCertsServer, type CertsServer, type PubSubPusher, type PushResult } from './pubsub';
import { startSentrySandbox, type SentrySandbox } from './sentry';
import { startSlackSandbox, type SlackSandbox, type SlackSandboxOptions } from './slack';

export interface SandboxOptions {
  mailbox?: string;
  /** How long a simulated influencer takes to answer. */
  personaDelayMs?: number;
  personas?: Record<string, Persona>;
  /** Options of the Slack Web API stand-in (e.g. `socketModeUrl`). */
  slack?: SlackSandboxOptions;
}

export interface PushOptions {
  /** Deliveries per notification before Pub/Sub gives up. @defaultValue 8 */
  maxAttempts?: number;
  /** First redelivery delay, doubled each time. @defaultValue 200 */
  backoffMs?: number;
}

export interface Sandbox {
  anthropic: AnthropicSandbox;
  google: GoogleSandbox;
  clickup: ClickUpSandbox;
  slack: SlackSandbox;
  certs: CertsServer;
  /** Sentry's envelope ingest; `env()` points SENTRY_DSN at it. */
  sentry: SentrySandbox;
  personas: PersonasHandle | null;
  /** Every Pub/Sub push delivered to the API so far (after `connectApi`). */
  pushes: () => PushResult[];
  /** Starts pushing Gmail notifications to the API, signed like Pub/Sub. */
  connectApi: (apiBaseUrl: string, options?: PushOptions) => PubSubPusher;
  /** Stops the automatic pushes `connectApi` started (pushes already under way finish). */
  disconnectApi: () => void;
  /**
   * A pusher signed like the automatic one but driven by hand: tests that choose the order,
   * the duplicates and the timing of notifications push `google.notifications()` themselves.
   */
  pusherFor: (apiBaseUrl: string, options?: PushOptions) => PubSubPusher;
  /** Resolves once every automatic push under way has been answered or given up. */
  pushesSettled: () => Promise<void>;
  /** The environment a Parley process needs to use every sandbox service (SLACK_APP_TOKEN only with `socketMode`). */
  env: (options?: { socketMode?: boolean }) => Record<string, string>;
  close: () => Promise<void>;
}

const AUDIENCE = 'https://parley.sandbox/webhooks/gmail';
const SERVICE_ACCOUNT = 'gmail-push@parley-sandbox.iam.gserviceaccount.com';
const CLICKUP_TOKEN = 'pk_sandbox_token';
const CLICKUP_SECRET = 'sandbox-clickup-webhook-secret';
const TOPIC = 'projects/parley-sandbox/topics/gmail';

/**
 * Starts every loopback stand-in (Anthropic, Google OAuth/Gmail/Sheets, ClickUp, Pub/Sub push
 * with OIDC certs) and wires Gmail's history to Pub/Sub pushes, as the real services are.
 */
export async function startSandbox(options: SandboxOptions = {}): Promise<Sandbox> {
  const signer = createOidcSigner();
  const [anthropic, google, clickup, certs, sentry, slack] = await Promise.all([
    startAnthropicSandbox(),
    startGoogleSandbox({ mailbox: options.mailbox ?? 'deals@parley.test' }),
    startClickUpSandbox({ token: CLICKUP_TOKEN, webhookSecret: CLICKUP_SECRET }),
    startCertsServer([signer]),
    startSentrySandbox(),
    startSlackSandbox(options.slack),
  ]);
  const personas = options.personas ? attachPersonas(google, { delayMs: options.personaDelayMs ?? 500, personas: options.personas }) : null;
  const results: PushResult[] = [];
  const inFlight = new Set<Promise<unknown>>();
  let unsubscribe: (() => void) | null = null;
  const pusherFor = (apiBaseUrl: string, push: PushOptions = {}) =>
    createPubSubPusher({
      endpoint: `${apiBaseUrl.replace(/\/$/, '')}/webhooks/gmail`,
      signer,
      audience: AUDIENCE,
      serviceAccount: SERVICE_ACCOUNT,
      maxAttempts: push.maxAttempts ?? 8,
      backoffMs: push.backoffMs ?? 200,
    });

  return {
    anthropic,
    google,
    clickup,
    slack,
    certs,
    sentry,
    personas,
    pushes: () => [...results],
    connectApi: (apiBaseUrl, push) => {
      const pusher = pusherFor(apiBaseUrl, push);
      unsubscribe?.();
      unsubscribe = google.onHistory((n) => {
        const p = pusher.push(n).then((r) => results.push(r), () => undefined);
        inFlight.add(p);
        void p.finally(() => inFlight.delete(p));
      });
      return pusher;
    },
    disconnectApi: () => {
      unsubscribe?.();
      unsubscribe = null;
    },
    pusherFor,
    pushesSettled: async () => {
      while (inFlight.size > 0) await Promise.allSettled([...inFlight]);
    },
    env: (envOptions = {}) => ({
      ...anthropic.env(),
      ...google.env(),
      GOOGLE_CERTS_URL: certs.url,
      GMAIL_PUBSUB_TOPIC: TOPIC,
      PUBSUB_AUDIENCE: AUDIENCE,
      PUBSUB_SERVICE_ACCOUNT: SERVICE_ACCOUNT,
      CLICKUP_API_URL: clickup.apiUrl,
      CLICKUP_API_TOKEN: CLICKUP_TOKEN,
      CLICKUP_WEBHOOK_SECRET: CLICKUP_SECRET,
      ...sentry.env(),
      ...slack.env(envOptions),
    }),
    close: async () => {
      unsubscribe?.();
      personas?.detach();
      await Promise.allSettled([...inFlight]);
      await Promise.all([anthropic.close(), google.close(), clickup.close(), certs.close(), sentry.close(), slack.close()]);
    },
  };
}
