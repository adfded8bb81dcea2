import express, { Router, type Express, type Request, type RequestHandler, type Response } from 'express';
import { z } from 'zod';
import type { Db } from '@parley/db';
import type { Logger } from '@parley/logging';
import { createMetrics, type Metrics } from '@parley/metrics';
import { replayDeadLetter, ReplayError, type Queues, type RedisConnection } from '@parley/queue';
import { ctx } from '../request-context.middleware';
import { adminAuth, adminLocals, csrfTokens, sameOriginOnly, type CsrfTokens } from './admin-auth.middleware';
import { listDeadLetters } from './dead-letters.service';
import { deadLettersPage } from './dead-letters.view';
import { html, layout } from './html';
import { queueBoard } from './queue-board';
import { SEARCH_MAX_QUERY, searchNegotiations } from './search.service';
import { searchPage } from './search.view';
import { findStuck } from './stuck.service';
import { stuckPage, type Notice } from './stuck.view';
import { stuckThresholds, type ThresholdOverrides } from './thresholds';
import { negotiationTimeline, TimelineNotFound } from './timeline.service';
import { timelinePage } from './timeline.view';
import { dashboardTakeover, TAKEOVER_OUTCOMES, takeoverNotice, type TakeoverOutcome } from './takeover.actions';

export const ADMIN_BASE = '/admin';

export interface AdminDeps {
  /** ADMIN_TOKEN. Unset: nothing is mounted and /admin answers 404. */
  token: string | undefined;
  db: Db;
  queues: Queues;
  /** The producer connection the queues use (lock and heartbeat lookups). */
  redis: RedisConnection;
  /** QUEUE_PREFIX (worker heartbeats live under it). */
  prefix: string;
  log: Logger;
  /** FOLLOW_UP_AFTER in milliseconds. */
  followUpAfterMs: number;
  /** Overrides of the documented defaults (docs/dashboard.md). */
  thresholds?: Omit<ThresholdOverrides, 'followUpAfterMs'>;
  /** @defaultValue () => new Date() */
  now?: () => Date;
  /** The API's metrics (claim and resume go through the engine, which may count). @defaultValue a private registry */
  metrics?: Metrics;
}

// Our pages carry no script: only inline style and same-origin form posts are allowed.
const PAGE_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

const noStore: RequestHandler = (_req, res, next) => {
  res.setHeader('Cache-Control', 'no-store');
  res.setHeader('X-Frame-Options', 'DENY');
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.setHeader('Referrer-Policy', 'same-origin');
  next();
};

function wantsJson(req: Request): boolean {
  return req.accepts(['html', 'json']) === 'json';
}

function sendPage(res: Response, status: number, page: string): void {
  res.setHeader('Content-Security-Policy', PAGE_CSP);
  res.status(status).type('html').send(page);
}

const noticeQuery = z.object({ notice: z.enum(['replayed', 'already', 'missing', 'failed', 'discarded']), dl: z.string().min(1).max(200) });

/** The notice after a replay, rebuilt from the stored row: nothing from the URL is echoed but an id. */
async function noticeFrom(req: Request, db: Db): Promise<Notice | undefined> {
  const parsed = noticeQuery.safeParse(req.query);
  if (!parsed.success) return undefined;
  const { notice, dl } = parsed.data;
  if (notice === 'missing') return { tone: 'error', text: `No dead letter ${dl}.` };
  if (notice === 'failed') return { tone: 'error', text: `Dead letter ${dl} could not be replayed (Redis unreachable?); nothing changed. Try again.` };
  const row = await db.deadLetter.findUnique({ where: { id: dl } });
  if (notice === 'discarded' && row?.discardedAt) return { tone: 'error', text: `Dead letter ${row.id} was discarded${row.resolvedBy ? ` by ${row.resolvedBy}` : ''}; it is not replayed.` };
  if (!row?.replayJobId) return undefined;
  const what = `Dead letter ${row.id} (${row.queue} job ${row.jobId})`;
  return notice === 'replayed'
    ? { tone: 'notice', text: `${what} replayed: it is back on ${row.queue} as job ${row.replayJobId}.` }
    : { tone: 'notice', text: `${what} was already replayed as job ${row.replayJobId}; nothing was added.` };
}

const BACK = /^\/admin(\/[A-Za-z0-9._~%-]+)*\/?$/;

/** Where a form post returns to: an /admin path only, never another site. */
function backTo(value: unknown): string {
  return typeof value === 'string' && BACK.test(value) ? value : `${ADMIN_BASE}/dead-letters`;
}

const replayBody = z.object({ csrf: z.string().optional(), back: z.string().optional() });
type FormBody = z.infer<typeof replayBody>;

function formOf(req: Request): FormBody {
  const body = replayBody.safeParse(req.body ?? {});
  return body.success ? body.data : {};
}

/**
 * A bearer header is never attached by a browser on its own; Basic credentials are, so a
 * Basic-authenticated post must also carry the token of a page we served. Answers 403 itself.
 */
function formAllowed(req: Request, res: Response, form: FormBody, csrf: CsrfTokens, now: Date, what: Record<string, string>): boolean {
  if (adminLocals(res).adminAuth !== 'basic' || csrf.verify(form.csrf, now.getTime())) return true;
  ctx(res).log.warn('admin post refused', { reason: 'missing or invalid form token', ...what });
  res.status(403);
  if (wantsJson(req)) res.json({ error: 'form token missing or expired; reload the page', requestId: ctx(res).requestId });
  else sendPage(res, 403, layout('Refused', html`<p class="error">The form has expired or did not come from this dashboard. <a href="${backTo(form.back)}">Reload the page</a> and try again.</p>`));
  return false;
}

function takeoverHandler(deps: AdminDeps & { now: () => Date }, csrf: CsrfTokens, what: 'claim' | 'resume'): RequestHandler {
  const core = { db: deps.db, queues: deps.queues, log: deps.log, now: deps.now, metrics: deps.metrics ?? createMetrics() };
  return async (req, res) => {
    const id = String(req.params.id);
    if (!formAllowed(req, res, formOf(req), csrf, deps.now(), { action: what, negotiationId: id })) return;
    const outcome = await dashboardTakeover(core, id, what);
    ctx(res).log.info(`negotiation ${what} from the dashboard`, { negotiationId: id, outcome });
    if (wantsJson(req)) {
      const status = outcome === 'missing' ? 404 : outcome.endsWith('_refused') ? 409 : 200;
      const n = await deps.db.negotiation.findUnique({ where: { id }, select: { state: true, claimedBy: true } });
      res.status(status).json({ negotiationId: id, outcome, state: n?.state ?? null, claimedBy: n?.claimedBy ?? null });
      return;
    }
    res.redirect(303, `${ADMIN_BASE}/negotiations/${encodeURIComponent(id)}?done=${outcome}`);
  };
}

const doneQuery = z.object({ done: z.enum(TAKEOVER_OUTCOMES as [TakeoverOutcome, ...TakeoverOutcome[]]) });
const searchBody = z.object({ q: z.string().max(SEARCH_MAX_QUERY * 2).default('') });

class DiscardedError extends Error {
  override name = 'DiscardedError';
}

function replayHandler(deps: AdminDeps & { now: () => Date }, csrf: CsrfTokens): RequestHandler {
  return async (req, res) => {
    const id = String(req.params.id);
    const form = formOf(req);
    if (!formAllowed(req, res, form, csrf, deps.now(), { action: 'replay', deadLetterId: id })) return;
    let outcome: 'replayed' | 'already' | 'missing' | 'failed' | 'discarded';
    let jobId: string | undefined;
    try {
      // Discarded from Slack means "do not run this again": the dashboard keeps to it.
      const discarded = await deps.db.deadLetter.findFirst({ where: { id, discardedAt: { not: null } }, select: { id: true } });
      if (discarded) throw new DiscardedError();
      const result = await replayDeadLetter(deps, id);
      outcome = result.alreadyReplayed ? 'already' : 'replayed';
      jobId = result.jobId;
      ctx(res).log.info('dead letter replayed from the dashboard', { deadLetterId: id, jobId, alreadyReplayed: result.alreadyReplayed });
    } catch (error) {
      if (!(error instanceof ReplayError) && !(error instanceof DiscardedError)) ctx(res).log.error('dead letter replay failed', { deadLetterId: id, error: (error as Error).message });
      outcome = error instanceof DiscardedError ? 'discarded' : error instanceof ReplayError ? 'missing' : 'failed';
    }
    if (wantsJson(req)) {
      const status = outcome === 'missing' ? 404 : outcome === 'failed' ? 503 : outcome === 'discarded' ? 409 : 200;
      res.status(status).json({ deadLetterId: id, outcome, ...(jobId ? { jobId } : {}) });
      return;
    }
    res.redirect(303, `${backTo(form.back)}?notice=${outcome}&dl=${encodeURIComponent(id)}`);
  };
}

/** The operator dashboard: stuck negotiations, timelines, dead letters with replay, bull-board. */
export function adminRouter(deps: AdminDeps & { token: string }): Router {
  const now = deps.now ?? (() => new Date());
  const full = { ...deps, now };
  const thresholds = stuckThresholds({ ...deps.thresholds, followUpAfterMs: deps.followUpAfterMs });
  const csrf = csrfTokens(deps.token);
  const router = Router();
  router.use(adminAuth(deps.token), sameOriginOnly(), noStore);
  router.use('/queues', queueBoard(deps.queues, `${ADMIN_BASE}/queues`));

  router.get('/', async (req, res) => {
    const report = await findStuck({ ...full, thresholds });
    if (wantsJson(req)) {
      res.json(report);
      return;
    }
    sendPage(res, 200, stuckPage(report, csrf.issue(now().getTime()), await noticeFrom(req, deps.db)));
  });

  router.get('/negotiations/:id', async (req, res) => {
    try {
      const timeline = await negotiationTimeline(deps, String(req.params.id));
      if (wantsJson(req)) {
        res.json(timeline);
        return;
      }
      const done = doneQuery.safeParse(req.query);
      const notice = done.success ? await takeoverNotice(deps.db, timeline.negotiation.id, done.data.done) : await noticeFrom(req, deps.db);
      sendPage(res, 200, timelinePage(timeline, csrf.issue(now().getTime()), notice));
    } catch (error) {
      if (!(error instanceof TimelineNotFound)) throw error;
      if (wantsJson(req)) res.status(404).json({ error: 'no such negotiation', requestId: ctx(res).requestId });
      else sendPage(res, 404, layout('Not found', html`<p class="error">No negotiation has the id or Gmail thread id <code>${String(req.params.id)}</code>.</p>`));
    }
  });

  router.get('/dead-letters', async (req, res) => {
    const list = await listDeadLetters(deps.db, deps.queues);
    if (wantsJson(req)) {
      res.json(list);
      return;
    }
    sendPage(res, 200, deadLettersPage(list, csrf.issue(now().getTime()), await noticeFrom(req, deps.db)));
  });

  const forms = [express.urlencoded({ extended: false, limit: '16kb' }), express.json({ limit: '16kb' })];
  router.post('/dead-letters/:id/replay', ...forms, replayHandler(full, csrf));
  router.post('/negotiations/:id/claim', ...forms, takeoverHandler(full, csrf, 'claim'));
  router.post('/negotiations/:id/resume', ...forms, takeoverHandler(full, csrf, 'resume'));

  router.get('/search', (_req, res) => {
    sendPage(res, 200, searchPage(undefined));
  });
  // A post, not a query string: the query may be an email address (it must not reach access logs).
  router.post('/search', ...forms, async (req, res) => {
    const body = searchBody.safeParse(req.body ?? {});
    const result = await searchNegotiations(deps.db, body.success ? body.data.q : '');
    if (wantsJson(req)) {
      res.json(result);
      return;
    }
    sendPage(res, 200, searchPage(result));
  });
  return router;
}

/**
 * Mounts the dashboard under /admin when ADMIN_TOKEN is set. Without it nothing is mounted,
 * so /admin falls through to the API's 404: an unconfigured dashboard does not exist.
 */
export function mountAdmin(app: Express, deps: AdminDeps): boolean {
  const { token } = deps;
  if (!token) {
    deps.log.info('admin dashboard disabled: ADMIN_TOKEN is not set');
    return false;
  }
  app.use(ADMIN_BASE, adminRouter({ ...deps, token }));
  return true;
}
