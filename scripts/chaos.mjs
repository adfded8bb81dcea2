// `npm run chaos`: the reliability suite at full scale (CHAOS_SCALE=full): the chaos scenarios
// in test/chaos and the poison-mail campaign, one file at a time. Each scenario writes its
// figures to tmp/chaos/<scenario>.full.json; this script gathers them, with the run's duration,
// the Node version and the machine, into tmp/chaos/summary.full.json (copied into
// docs/reliability.md). Extra args go to jest; a path among them replaces the default set.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ensureDependencies, ensureRedis, log, ROOT } from './bootstrap.mjs';

const scale = process.env.CHAOS_SCALE ?? 'full';
const outDir = path.join(ROOT, 'tmp', 'chaos');
const args = process.argv.slice(2);
const defaults = ['test/chaos', 'test/e2e/poison-mail.e2e.test.ts', 'test/hosts'].filter((p) => fs.existsSync(path.join(ROOT, p)));
const paths = args.some((a) => !a.startsWith('-')) ? [] : defaults;

ensureDependencies();
const redis = await ensureRedis();
fs.mkdirSync(outDir, { recursive: true });
for (const f of fs.readdirSync(outDir)) if (f.endsWith(`.${scale}.json`)) fs.rmSync(path.join(outDir, f));

log(`running the reliability suite (CHAOS_SCALE=${scale}): ${[...paths, ...args].join(' ')}`);
const started = Date.now();
// In band: one scenario at a time, so each one's figures are its own and the machine is not
// asked to run two API/worker fleets at once.
const jestArgs = [...paths, ...args, '--runInBand'];
const result = spawnSync(process.execPath, [path.join(ROOT, 'node_modules/jest/bin/jest.js'), ...jestArgs], {
  cwd: ROOT,
  stdio: 'inherit',
  env: { ...process.env, REDIS_URL: redis.url, CHAOS_SCALE: scale },
});
redis.stop();

const scenarios = Object.fromEntries(
  fs
    .readdirSync(outDir)
    .filter((f) => f.endsWith(`.${scale}.json`) && !f.startsWith('summary.'))
    .map((f) => {
      const { machine: _machine, ...figures } = JSON.parse(fs.readFileSync(path.join(outDir, f), 'utf8'));
      return [f.replace(`.${scale}.json`, ''), figures];
    }),
);
const cpus = os.cpus();
const summary = {
  scale,
  passed: result.status === 0,
  durationMs: Date.now() - started,
  finishedAt: new Date().toISOString(),
  node: process.version,
  machine: { platform: `${os.type()} ${os.release()} ${os.arch()}`, cpus: cpus.length, cpuModel: cpus[0]?.model.trim() ?? 'unknown', memoryGb: Math.round((os.totalmem() / 1024 ** 3) * 10) / 10, loadAverageAtEnd: os.loadavg() },
  files: [...paths, ...args],
  scenarios,
};
const file = path.join(outDir, `summary.${scale}.json`);
fs.writeFileSync(file, `${JSON.stringify(summary, null, 2)}\n`);
log(`${result.status === 0 ? 'passed' : 'FAILED'} in ${Math.round(summary.durationMs / 1000)} s; figures in ${path.relative(ROOT, file)}`);
process.exit(result.status ?? 1);
