// `npm run demo`: bootstrap (dependencies, Redis), then the demo itself (scripts/demo.ts).
import { spawn } from 'node:child_process';
import path from 'node:path';
import { ensureDependencies, ensureRedis, ROOT } from './bootstrap.mjs';

ensureDependencies();
const redis = await ensureRedis();
const child = spawn(process.execPath, ['--conditions=@parley/source', '--import', 'tsx', path.join(ROOT, 'scripts/demo.ts'), ...process.argv.slice(2)], {
  cwd: ROOT,
  stdio: 'inherit',
  env: { ...process.env, REDIS_URL: redis.url },
});
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => child.kill(signal));
child.on('exit', (code) => {
  redis.stop();
  process.exit(code ?? 1);
});
