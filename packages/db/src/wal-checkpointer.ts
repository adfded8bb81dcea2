import { Worker } from 'node:worker_threads';
import { databaseFileOf, sqlOf, type Db } from './client';

/**
 * SQLite in WAL mode copies the log back into the database file (a checkpoint) when a commit
 * leaves the log past `wal_autocheckpoint` pages (1000 by default), inside that commit, on the
 * thread that committed: better-sqlite3 is synchronous, so the event loop of the API or of a
 * worker stood still for the copy and its two fsyncs. Under the campaign bench a worker's
 * commits spent 0.45-0.63 s of a 10 s campaign this way (about 50 checkpoints of 5-18 ms).
 *
 * A thread of the process checkpoints instead, every `everyMs`, on a connection of its own:
 * PASSIVE, so it never waits for a reader or a writer and never takes the write lock, and
 * every transaction goes on meanwhile. The process's own connection keeps an automatic
 * checkpoint only as a backstop, at `BACKSTOP_PAGES`, for a log the thread cannot keep short
 * (a long reader pinning it, or the thread gone).
 */

/** The backstop: about 40 MB of log with SQLite's 4 KiB pages. */
export const BACKSTOP_PAGES = 10_000;

export interface CheckpointResult {
  /** Frames in the log, and how many of them are now in the database file. */
  logFrames: number;
  checkpointedFrames: number;
}

export interface WalCheckpointer {
  /** Resolves with the next checkpoint the thread completes (tests and diagnostics). */
  next(): Promise<CheckpointResult>;
  /** Checkpoints completed, and the last error the thread met (it keeps going after one). */
  stats(): { checkpoints: number; lastError: string | null };
  stop(): Promise<void>;
}

// Runs in the thread (eval'd, so it works from the sources as from dist/): its own connection,
// no busy wait (a PASSIVE checkpoint is refused at once when another one runs), a checkpoint
// every `everyMs`, its outcome posted back.
const THREAD = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
const db = new Database(workerData.file, { fileMustExist: true, timeout: 0 });
const tick = () => {
  try {
    const [row] = db.pragma('wal_checkpoint(PASSIVE)');
    parentPort.postMessage({ ok: true, logFrames: row.log, checkpointedFrames: row.checkpointed });
  } catch (error) {
    parentPort.postMessage({ ok: false, error: String(error && error.message || error) });
  }
};
const timer = setInterval(tick, workerData.everyMs);
parentPort.on('message', (m) => { if (m === 'stop') { clearInterval(timer); db.close(); parentPort.close(); } });
`;

interface ThreadMessage {
  ok: boolean;
  logFrames?: number;
  checkpointedFrames?: number;
  error?: string;
}

/**
 * Starts the checkpoint thread for a SQLite database opened by openDatabase, and raises its
 * connection's automatic checkpoint to the backstop. Null for PostgreSQL, for an in-memory
 * database, and when `everyMs` is 0 (SQLite's own automatic checkpoint then stays as it is).
 */
export async function startWalCheckpointer(db: Db, everyMs: number, onProblem: (problem: string) => void = () => undefined): Promise<WalCheckpointer | null> {
  const file = databaseFileOf(db);
  if (!file || file === ':memory:' || everyMs <= 0) return null;
  await sqlOf(db).query(`PRAGMA wal_autocheckpoint = ${BACKSTOP_PAGES}`);
  const thread = new Worker(THREAD, { eval: true, workerData: { driver: require.resolve('better-sqlite3'), file, everyMs } });
  // The thread never keeps the process alive; stop() ends it at shutdown.
  thread.unref();
  let checkpoints = 0;
  let lastError: string | null = null;
  let stopping = false;
  // Said at once, then at most once a minute while it lasts (a checkpoint is tried every second).
  let saidAt = -Infinity;
  const problem = (what: string) => {
    lastError = what;
    if (Date.now() - saidAt < 60_000) return;
    saidAt = Date.now();
    onProblem(what);
  };
  let waiters: ((r: CheckpointResult) => void)[] = [];
  thread.on('message', (m: ThreadMessage) => {
    if (!m.ok) {
      problem(`checkpoint failed: ${m.error ?? 'unknown error'}`);
      return;
    }
    checkpoints += 1;
    const result = { logFrames: m.logFrames ?? 0, checkpointedFrames: m.checkpointedFrames ?? 0 };
    const ready = waiters;
    waiters = [];
    for (const w of ready) w(result);
  });
  thread.on('error', (error) => problem(`checkpoint thread failed: ${error.message}`));
  const ended = new Promise<void>((resolve) =>
    thread.once('exit', (code) => {
      // Commits checkpoint again by themselves, past the backstop only.
      if (!stopping) problem(`checkpoint thread ended (exit code ${code}); commits checkpoint past ${BACKSTOP_PAGES} pages`);
      resolve();
    }),
  );
  return {
    next: () => new Promise((resolve) => waiters.push(resolve)),
    stats: () => ({ checkpoints, lastError }),
    stop: async () => {
      stopping = true;
      thread.postMessage('stop');
      // A thread stuck in a checkpoint is ended anyway after a moment.
      const timer = setTimeout(() => void thread.terminate(), 2000);
      await ended;
      clearTimeout(timer);
    },
  };
}
