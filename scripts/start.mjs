// `npm start`: the API and one worker against the services configured by env (.env is read
// when present), after applying migrations. SIGINT/SIGTERM are passed on; each process shuts
// down gracefully. In production, run them as separate containers (docker-compose.yml).
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { ensureDependencies, log, migrate, ROOT } from './bootstrap.mjs';

function loadDotEnv(file) {
  if (!fs.existsSync(file)) return {};
  const out = {};
  for (const raw of fs.readFileSync(file, 'utf8').split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const eq = line.indexOf('=');
    if (eq < 0) continue;
    const key = line.slice(0, eq).trim();
    let value = line.slice(eq + 1).trim();
    if (/^["']/.test(value)) value = value.slice(1, value.lastIndexOf(value[0]));
    else value = value.replace(/\s+#.*$/, '');
    if (value !== '') out[key] = value;
  }
  return out;
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
  spawn(process.execPath, ['--import', 'tsx', '--import', path.join(ROOT, instrument), path.join(ROOT, entry)], { cwd: ROOT, env, stdio: 'inherit' }),
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
