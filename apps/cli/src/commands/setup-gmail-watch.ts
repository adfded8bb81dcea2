import { requireVars } from '@parley/config';
import type { Command } from '../command';
import { CommandError, EXIT } from '../errors';

const DAY_MS = 86_400_000;

export const setupGmailWatch: Command = {
  path: ['setup', 'gmail-watch'],
  usage: 'parley setup gmail-watch',
  summary: 'register the Gmail watch (users.watch) and print its expiration',
  help: [
    'Calls Gmail users.watch for GMAIL_MAILBOX on GMAIL_PUBSUB_TOPIC (label INBOX) with the same client',
    'the worker uses, and records the expiration (and, on a first watch, the history cursor) where the',
    'worker’s daily renewal reads it. Gmail then pushes a notification to the topic for every change.',
    'Run it after creating the topic and its push subscription; the workers renew it from then on.',
    '',
    'Needs DATABASE_URL, GMAIL_MAILBOX, GMAIL_PUBSUB_TOPIC and Google OAuth credentials',
    '(GOOGLE_CLIENT_ID, GOOGLE_CLIENT_SECRET, GOOGLE_REFRESH_TOKEN, or GOOGLE_TOKEN_JSON).',
  ].join('\n'),
  options: {},
  positionals: [],
  async run(ctx) {
    const config = ctx.settings();
    const { GMAIL_MAILBOX, GMAIL_PUBSUB_TOPIC } = requireVars(config, 'setting up the Gmail watch', ['GMAIL_MAILBOX', 'GMAIL_PUBSUB_TOPIC']);
    const [{ withTx }, { createGmailClient, createGoogleAuth }] = await Promise.all([import('@parley/db'), import('@parley/google')]);
    const auth = createGoogleAuth(config);
    const gmail = createGmailClient({ auth, ...(config.GOOGLE_API_ROOT_URL ? { rootUrl: config.GOOGLE_API_ROOT_URL } : {}) });
    const db = await ctx.db();
    let watch: { historyId: string; expiration: Date };
    try {
      watch = await gmail.watch(GMAIL_PUBSUB_TOPIC);
    } catch (error) {
      throw new CommandError(`Gmail refused the watch: ${(error as Error).message}`);
    }
    // The same record ensureGmailWatch keeps: the renewal schedule reads this expiration, and
    // a mailbox without a cursor starts its history from this watch.
    const state = await db.mailboxSync.findUnique({ where: { mailbox: GMAIL_MAILBOX } });
    await withTx(db, (tx) =>
      tx.mailboxSync.upsert({
        where: { mailbox: GMAIL_MAILBOX },
        create: { mailbox: GMAIL_MAILBOX, watchExpiration: watch.expiration, historyCursor: watch.historyId },
        update: { watchExpiration: watch.expiration, ...(state?.historyCursor ? {} : { historyCursor: watch.historyId }) },
      }),
    );
    const days = (watch.expiration.getTime() - ctx.now().getTime()) / DAY_MS;
    ctx.out.line(`Gmail watch registered on ${GMAIL_PUBSUB_TOPIC} (history id ${watch.historyId}).`);
    ctx.out.line(`Expires ${watch.expiration.toISOString()} (in ${days.toFixed(1)} days); the workers renew it a day before.`);
    return EXIT.ok;
  },
};
