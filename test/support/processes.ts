import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { imageNodeArgs } from '../deploy/images.dockerfile';

export const ROOT = path.resolve(__dirname, '../..');

export interface Spawned {
  child: ChildProcess;
  output: () => string;
  /** Resolves with the exit code (or the signal name) once the process ends. */
  exited: Promise<number | string>;
  /** Resolves when a line matching `pattern` appears on stdout or stderr. */
  waitForLine: (pattern: RegExp, timeoutMs?: number) => Promise<string>;
}

/**
 * Each process entry point and the file that starts Sentry in it. The instrument is imported
 * after tsx (which it needs) and before the entry, so the SDK runs before any module it
 * instruments. package.json (start:api, start:worker), scripts/start.mjs and the Dockerfiles
 * start the same files the same way.
 */
export const INSTRUMENTS: Readonly<Record<string, string>> = {
  'apps/api/src/main.ts': 'apps/api/src/instrument.ts',
  'apps/worker/src/main.ts': 'apps/worker/src/instrument.ts',
};

/**
 * The Node arguments that run `entry` (relative to the repository root) as production does,
 * but from the sources: `--conditions=@parley/source` makes every @parley package resolve to
 * its src/ (docs/build.md), so a test never runs a stale dist/.
 */
export function nodeArgs(entry: string, root = ROOT): string[] {
  if (process.env.PARLEY_PROCESSES === 'compiled') return compiledArgs(entry, processesRoot());
  const instrument = INSTRUMENTS[path.relative(root, path.resolve(root, entry)).split(path.sep).join('/')];
  return ['--conditions=@parley/source', '--import', 'tsx', ...(instrument ? ['--import', path.resolve(root, instrument)] : []), path.resolve(root, entry)];
}

/**
 * The API and worker mains as their images run them: the runtime CMD of Dockerfile.api /
 * Dockerfile.worker on plain Node (compiled dist/ files, the instrument first, the heap limit).
 * Used when PARLEY_PROCESSES is `compiled` (the campaign bench sets it after building), so memory
 * and CPU are measured without tsx's loader; it needs `npm run build` first.
 */
function compiledArgs(entry: string, root: string): string[] {
  const relative = path.relative(root, path.resolve(root, entry)).split(path.sep).join('/');
  const app = /^apps\/(api|worker)\/src\/main\.ts$/.exec(relative)?.[1] as 'api' | 'worker' | undefined;
  if (!app) throw new Error(`no image runs ${relative}`);
  // The CMD of that checkout's own image (an older version's ran its sources through tsx).
  return imageNodeArgs(app, root);
}

/**
 * Where the processes run: this checkout, or with compiled processes PARLEY_PROCESSES_ROOT,
 * another built checkout of the same schema (the campaign bench runs an older version's API and
 * workers against this version's stand-ins with it, to compare the two on the same stand-ins).
 */
function processesRoot(): string {
  const other = process.env.PARLEY_PROCESSES_ROOT;
  if (other === undefined || other === '') return ROOT;
  if (process.env.PARLEY_PROCESSES !== 'compiled') throw new Error('PARLEY_PROCESSES_ROOT needs compiled processes (PARLEY_PROCESSES=compiled)');
  return path.resolve(other);
}

/**
 * Runs a TypeScript entry point in its own Node process with tsx's loader (`node --import tsx`,
 * plus the Sentry instrument for the API and worker mains), like production does. `child.pid`
 * is the process itself (not a launcher), so a SIGKILL lands.
 */
export function spawnTs(entry: string, env: Record<string, string | undefined>, args: string[] = []): Spawned {
  const child = spawn(process.execPath, [...nodeArgs(entry), ...args], {
    cwd: processesRoot(),
    env: { PATH: process.env.PATH, HOME: process.env.HOME, NODE_ENV: 'test', ...env } as NodeJS.ProcessEnv,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return { child, ...watchOutput(child) };
}

/**
 * Collects a child's stdout and stderr and waits for lines in them. `label` names the process
 * in timeout messages (a host of the multi-host tests).
 */
export function watchOutput(child: ChildProcess, label = 'process'): Omit<Spawned, 'child'> {
  let buffer = '';
  const listeners = new Set<() => void>();
  const onData = (chunk: Buffer) => {
    buffer += chunk.toString();
    for (const l of listeners) l();
  };
  child.stdout?.on('data', onData);
  child.stderr?.on('data', onData);
  const exited = new Promise<number | string>((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal ?? -1)));
  return {
    output: () => buffer,
    exited,
    waitForLine: (pattern, timeoutMs = 20_000) =>
      new Promise((resolve, reject) => {
        // Where the lines not yet looked at begin: each chunk is searched once (with the line it
        // completes), not the whole output again, which grew quadratic with a chatty process.
        let from = 0;
        const check = () => {
          const line = buffer
            .slice(from)
            .split('\n')
            .find((l) => pattern.test(l));
          if (line !== undefined) {
            listeners.delete(check);
            clearTimeout(timer);
            resolve(line);
            return;
          }
          from = buffer.lastIndexOf('\n') + 1;
        };
        const timer = setTimeout(() => {
          listeners.delete(check);
          reject(new Error(`${label}: timed out waiting for ${pattern} in output:\n${buffer.slice(-3000)}`));
        }, timeoutMs);
        listeners.add(check);
        void exited.then(() => {
          if (listeners.has(check)) {
            listeners.delete(check);
            clearTimeout(timer);
            reject(new Error(`${label} exited before ${pattern}; output:\n${buffer.slice(-3000)}`));
          }
        });
        check();
      }),
  };
}
