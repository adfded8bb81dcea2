import { ConfigError, parseEnv, SHUTDOWN_CLEANUP_MS, shutdownDeadline } from '@parley/config';
import { startWorkerApp, type WorkerApp, type WorkerAppOptions } from './worker-app';

/**
 * Runs a worker process: validates the environment (every problem reported at once, exit 1),
 * starts the app, and on SIGTERM/SIGINT runs the shutdown sequence and exits 0; past
 * SHUTDOWN_GRACE_MS + SHUTDOWN_CLEANUP_MS it exits 1 naming what was still open. A second
 * signal exits at once; the jobs still running then return to the queue when their locks
 * expire (handlers are idempotent).
 */
export async function runWorker(env: NodeJS.ProcessEnv, options: WorkerAppOptions): Promise<WorkerApp | undefined> {
  let config;
  try {
    config = parseEnv(env, 'worker');
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      process.exitCode = 1;
      return undefined;
    }
    throw error;
  }

  // The handlers are in place before the start, so a signal during it (the worker already
  // logged itself ready, or is still connecting) is a clean stop once the app exists, never
  // the default action that kills the process with its jobs.
  let app: WorkerApp | undefined;
  let pending: NodeJS.Signals | undefined;
  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    const running = app;
    if (!running) {
      pending ??= signal;
      return;
    }
    if (stopping) {
      running.log.warn('second signal, exiting without waiting for jobs', { signal });
      process.exit(1);
    }
    stopping = true;
    running.log.info('shutting down', { signal, graceMs: config.SHUTDOWN_GRACE_MS });
    // Whatever Redis and SQLite do, the process is gone by grace + cleanup. A send still in
    // flight then is not handed back: its lock expires, as when the grace period ends normally.
    shutdownDeadline(config.SHUTDOWN_GRACE_MS, () => {
      running.log.error('shutdown deadline passed; exiting with work still open', { open: running.stillOpen(), graceMs: config.SHUTDOWN_GRACE_MS, cleanupMs: SHUTDOWN_CLEANUP_MS });
      process.exit(1);
    });
    running.close(config.SHUTDOWN_GRACE_MS).then(
      (outcome) => {
        running.log.info('worker stopped', outcome);
        process.exit(0);
      },
      (error: unknown) => {
        running.log.error('shutdown failed', { error: (error as Error).message });
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  try {
    app = await startWorkerApp(config, options);
  } catch (error) {
    process.stderr.write(`worker failed to start: ${(error as Error).message}\n`);
    process.exit(1);
  }
  if (pending) stop(pending);
  return app;
}
