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

  let app: WorkerApp;
  try {
    app = await startWorkerApp(config, options);
  } catch (error) {
    process.stderr.write(`worker failed to start: ${(error as Error).message}\n`);
    process.exit(1);
  }

  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) {
      app.log.warn('second signal, exiting without waiting for jobs', { signal });
      process.exit(1);
    }
    stopping = true;
    app.log.info('shutting down', { signal, graceMs: config.SHUTDOWN_GRACE_MS });
    // Whatever Redis and SQLite do, the process is gone by grace + cleanup. A send still in
    // flight then is not handed back: its lock expires, as when the grace period ends normally.
    shutdownDeadline(config.SHUTDOWN_GRACE_MS, () => {
      app.log.error('shutdown deadline passed; exiting with work still open', { open: app.stillOpen(), graceMs: config.SHUTDOWN_GRACE_MS, cleanupMs: SHUTDOWN_CLEANUP_MS });
      process.exit(1);
    });
    app.close(config.SHUTDOWN_GRACE_MS).then(
      (outcome) => {
        app.log.info('worker stopped', outcome);
        process.exit(0);
      },
      (error: unknown) => {
        app.log.error('shutdown failed', { error: (error as Error).message });
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  return app;
}
