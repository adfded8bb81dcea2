// `npm start`: the API and one worker against the services configured by env (.env is read
// when present), after applying migrations. SIGINT/SIGTERM are passed on; each process shuts
// down gracefully. In production, run them as separate containers (docker-compose.yml).
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { parseEnv } from 'node:util';
import { ensureDependencies, log, migrate, ROOT } from './bootstrap.mjs';

/**
 * .env read by Node's own parser (the one behind `node --env-file`), so quotes, `export` and
 * `#` comments mean what Node documents. Empty values mean unset (as for the config schema);
 * variables already in the environment win.
 */
function loadDotEnv(file) {
  if (!fs.existsSync(file)) return {};
  return Object.fromEntries(Object.entries(parseEnv(fs.readFileSync(file, 'utf8'))).filter(([, value]) => value !== ''));
}

ensureDependencies();
const env = { ...loadDotEnv(path.join(ROOT, '.env')), ...process.env };
migrate(env.DATABASE_URL ?? 'file:./data/parley.db');
// Each entry after its Sentry instrument, which must load before anything it instruments
// (the same pairs as INSTRUMENTS in test/support/processes.ts).
const entries = [
  ['apps/api/src/instrument.ts', 'apps/api/src/main.ts'],
  ['apps/worker/src/instrument.ts', 'apps/worker/src/main.ts'],
];
const children = entries.map(([instrument, entry]) =>
  spawn(process.execPath, ['--conditions=@parley/source', '--import', 'tsx', '--import', path.join(ROOT, instrument), path.join(ROOT, entry)], { cwd: ROOT, env, stdio: 'inherit' }),
);
let exiting = false;
for (const child of children) {
  child.on('exit', (code) => {
    if (exiting) return;
    exiting = true;
    log(`a process exited (${code}); stopping the other`);
    for (const c of children) c.kill('SIGTERM');
    process.exitCode = code ?? 1;
  });
}
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    exiting = true;
    for (const c of children) c.kill(signal);
  });
}
