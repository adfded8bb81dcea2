// `npm test`: bootstrap (dependencies, Redis), then the whole jest suite. Extra args go to jest.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { ensureDependencies, ensureRedis, log, ROOT } from './bootstrap.mjs';

ensureDependencies();
const redis = await ensureRedis();
log('running the test suite');
const result = spawnSync(process.execPath, [path.join(ROOT, 'node_modules/jest/bin/jest.js'), ...process.argv.slice(2)], {
  cwd: ROOT,
  stdio: 'inherit',
  env: { ...process.env, REDIS_URL: redis.url },
});
redis.stop();
process.exit(result.status ?? 1);
