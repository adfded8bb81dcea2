import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { heartbeatKey } from '@parley/queue';
import { inCi } from '../support/browser';
import { dropPostgresDatabase } from '../support/db';
import { dropPrefix, freePort, redisUrl, uniquePrefix } from '../support/redis';
import { postgresReachable, postgresUrl, TEST_DB_PREFIX } from '../support/test-database';
import { waitFor } from '../support/wait';
import { cmdOf, envOf, imageRecipe, parseDockerfile, productionClosure, ROOT, workspacesOf, type ImageRecipe } from './images.dockerfile';

/**
 * The runtime images, proven without a Docker engine. Always: each Dockerfile is read as data
 * (its runtime CMD, the file set its build stage lays out, the production dependencies that
 * file set installs from package-lock.json). With PARLEY_IMAGE_TESTS=full (`npm run
 * test:images`, several minutes: two production installs, each compiling better-sqlite3):
 * `npm run build`, then each image's file set is built on the host by the Dockerfile's own
 * commands and started with its CMD on plain node against the test Redis and a temp SQLite
 * file, until the worker beats its heartbeat and the API's readiness answers 200.
 */
const FULL = process.env.PARLEY_IMAGE_TESTS === 'full';

// Both heaps are bounded (docs/benchmarks.md): the worker's (peak RSS 370 -> 220-223 MiB under
// a campaign, old generation capped and smaller semi-spaces) and the API's (peak RSS under the
// ingress bench 280-300 -> 170-190 MiB, a few percent fewer webhooks/s).
const IMAGES = [
  { file: 'Dockerfile.api', app: 'api', nodeFlags: ['--max-old-space-size=96', '--max-semi-space-size=8'] },
  { file: 'Dockerfile.worker', app: 'worker', nodeFlags: ['--max-old-space-size=160', '--max-semi-space-size=8'] },
] as const;

const recipeOf = (file: string): ImageRecipe => imageRecipe(parseDockerfile(fs.readFileSync(path.join(ROOT, file), 'utf8')));

/** Development tools that must never reach a runtime image. */
const DEV_ONLY = ['tsx', 'typescript', 'esbuild', 'jest', '@swc/core', 'turbo', 'eslint', 'playwright-core'];

describe.each(IMAGES)('$file', ({ file, app, nodeFlags }) => {
  const recipe = recipeOf(file);
  const workspaces = workspacesOf(recipe.imageFilesArgs);
  const closure = productionClosure(workspaces);

  it('runs the compiled entry point on plain node, Sentry instrument first, on Node 24', () => {
    expect(cmdOf(recipe.runtime)).toEqual(['node', ...nodeFlags, '--import', `./apps/${app}/dist/instrument.js`, `apps/${app}/dist/main.js`]);
    expect(recipe.runtime.from).toMatch(/^node:24/);
    // The files the CMD names are what `tsc -b` emits for these sources (rootDir src, outDir dist).
    const build = JSON.parse(fs.readFileSync(path.join(ROOT, `apps/${app}/tsconfig.build.json`), 'utf8')) as { compilerOptions: { rootDir: string; outDir: string } };
    expect(build.compilerOptions).toMatchObject({ rootDir: 'src', outDir: 'dist' });
    for (const entry of ['instrument', 'main']) expect(fs.existsSync(path.join(ROOT, `apps/${app}/src/${entry}.ts`))).toBe(true);
  });

  it('copies only the file set its build stage laid out, installed for production', () => {
    expect(recipe.copy).toEqual({ from: 'build', source: recipe.outDir, dest: './' });
    expect(recipe.commands.join(' && ')).toMatch(/^npm install --omit=dev /);
    expect(workspaces).toContain(`apps/${app}`);
    expect(workspaces).not.toContain('packages/sandbox');
    for (const dev of DEV_ONLY) expect(closure.has(dev)).toBe(false);
  });

  if (app === 'api') {
    it('holds neither the Gmail/Sheets client nor the Anthropic SDK', () => {
      for (const pkg of ['packages/engine', 'packages/google', 'packages/llm']) expect(workspaces).not.toContain(pkg);
      for (const dep of ['googleapis', '@anthropic-ai/sdk', 'prisma']) expect(closure.has(dep)).toBe(false);
    });
  } else {
    it('also carries the migrations, the prisma CLI and the ops CLI', () => {
      expect(recipe.imageFilesArgs).toEqual(expect.arrayContaining(['@parley/cli', '--with', 'prisma', 'prisma.config.ts']));
      expect(workspaces).toContain('apps/cli');
      expect(closure.has('prisma')).toBe(true);
    });
  }
});

interface FileSet {
  dir: string;
  recipe: ImageRecipe;
  bytes: number;
}

/** An empty PostgreSQL database for the image's migration; outside CI, none (with a warning) where no server answers. */
function emptyPostgresDatabase(): { url: string; drop: () => void } | undefined {
  if (!postgresReachable()) {
    if (inCi()) throw new Error('no PostgreSQL answers at TEST_POSTGRES_URL: the image migration on PostgreSQL cannot be checked');
    console.warn('images: PostgreSQL migration not checked, no server at TEST_POSTGRES_URL');
    return undefined;
  }
  const url = postgresUrl(`${TEST_DB_PREFIX}${Date.now().toString(36)}_img_${process.pid}`);
  execFileSync(process.execPath, [path.join(ROOT, 'test/support/pg-admin.js'), 'create', new URL(url).pathname.slice(1)], { stdio: 'pipe' });
  return { url, drop: () => dropPostgresDatabase(url) };
}

function sh(command: string, cwd: string, env: NodeJS.ProcessEnv = process.env): string {
  return execFileSync('sh', ['-c', command], { cwd, env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 * 1024 * 1024 });
}

/** Lays out and installs one image's file set on the host, by the Dockerfile's own commands. */
function buildFileSet(file: string, into: string): FileSet {
  const recipe = recipeOf(file);
  execFileSync(process.execPath, [path.join(ROOT, 'scripts/image-files.mjs'), into, ...recipe.imageFilesArgs], { cwd: ROOT, stdio: 'pipe' });
  // Offline from the local npm cache; the commands themselves are the Dockerfile's, verbatim.
  for (const command of recipe.commands) sh(command, into, { ...process.env, npm_config_prefer_offline: 'true' });
  const bytes = Number(sh('du -sb .', into).split(/\s+/)[0]);
  return { dir: into, recipe, bytes };
}

interface Started {
  child: ChildProcess;
  output: () => string;
  stop: () => Promise<void>;
}

function startCmd(set: FileSet, env: Record<string, string>): Started {
  const [command = '', ...args] = cmdOf(set.recipe.runtime);
  const child = spawn(command === 'node' ? process.execPath : command, args, {
    cwd: set.dir,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, ...envOf(set.recipe.runtime), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout?.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr?.on('data', (c: Buffer) => (out += c.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    child,
    output: () => out,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}

// Several minutes (two production installs that compile better-sqlite3): `npm run test:images`, which .ci/run runs after the suite.
(FULL ? describe : describe.skip)('file sets started with plain node (PARLEY_IMAGE_TESTS=full; npm run test:images, run by .ci/run)', () => {
  let work = '';
  const prefix = uniquePrefix('images');
  const sets: Record<string, FileSet> = {};
  const started: Started[] = [];
  let redis: Redis | undefined;

  beforeAll(() => {
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'parley-images-'));
    sh('npm run build', ROOT);
    for (const { file, app } of IMAGES) sets[app] = buildFileSet(file, path.join(work, app));
  }, 1_500_000);

  afterAll(async () => {
    await Promise.all(started.map((s) => s.stop()));
    redis?.disconnect();
    await dropPrefix(redisUrl(), prefix);
    if (work) fs.rmSync(work, { recursive: true, force: true });
  });

  it('holds no TypeScript sources, dev tools or sandbox, and no missing production dependency', () => {
    for (const { app } of IMAGES) {
      const set = sets[app];
      if (!set) throw new Error(`no file set for ${app}`);
      for (const dev of DEV_ONLY) expect(fs.existsSync(path.join(set.dir, 'node_modules', dev))).toBe(false);
      expect(fs.existsSync(path.join(set.dir, 'packages/sandbox'))).toBe(false);
      expect(sh('find apps packages -name src -type d', set.dir).trim()).toBe('');
      // `npm ls` fails on a missing or invalid dependency of what the file set declares.
      sh('npm ls --omit=dev --all > /dev/null', set.dir);
      console.log(`${app} image file set: ${(set.bytes / 1024 / 1024).toFixed(0)} MiB`);
    }
    expect(fs.existsSync(path.join(sets.api?.dir ?? '', 'node_modules/googleapis'))).toBe(false);
    expect(fs.existsSync(path.join(sets.api?.dir ?? '', 'node_modules/@anthropic-ai/sdk'))).toBe(false);
  });

  it('migrates with the worker image, backs up with its CLI, and both apps pass readiness', async () => {
    const worker = sets.worker;
    const api = sets.api;
    if (!worker || !api) throw new Error('file sets missing');
    const data = path.join(work, 'data');
    fs.mkdirSync(data);
    const database = `file:${path.join(data, 'parley.db')}`;
    // The compose file's one-shot migration and its backup service, from the worker image.
    sh('node apps/cli/dist/main.js db migrate', worker.dir, { PATH: process.env.PATH, HOME: process.env.HOME, DATABASE_URL: database });
    // The same command migrates PostgreSQL from the image (its own migrations and the pg driver).
    const pg = emptyPostgresDatabase();
    if (pg) {
      try {
        const out = sh('node apps/cli/dist/main.js db migrate', worker.dir, { PATH: process.env.PATH, HOME: process.env.HOME, DATABASE_URL: pg.url });
        expect(out).toMatch(/PostgreSQL migrations: \d+ applied/);
      } finally {
        pg.drop();
      }
    }
    sh(`node apps/cli/dist/main.js backup --to ${path.join(work, 'backups')}`, worker.dir, { PATH: process.env.PATH, HOME: process.env.HOME, DATABASE_URL: database });
    expect(fs.readdirSync(path.join(work, 'backups')).length).toBe(1);

    const alive = path.join(work, 'worker-alive');
    const common = { DATABASE_URL: database, REDIS_URL: redisUrl(), QUEUE_PREFIX: prefix };
    // The integrations point at a closed loopback port: the worker starts, logs the failed
    // Gmail watch and keeps going (the maintenance task retries it).
    const closed = `http://127.0.0.1:${await freePort()}`;
    const w = startCmd(worker, {
      ...common,
      PARLEY_ALIVE_FILE: alive,
      ANTHROPIC_API_KEY: 'sk-image-test',
      ANTHROPIC_BASE_URL: closed,
      GMAIL_MAILBOX: 'deals@brand.test',
      GMAIL_PUBSUB_TOPIC: 'projects/p/topics/t',
      GOOGLE_TOKEN_JSON: JSON.stringify({ client_id: 'a', client_secret: 'b', refresh_token: 'c' }),
      GOOGLE_API_ROOT_URL: closed,
      CLICKUP_API_TOKEN: 'pk_image_test',
      CLICKUP_API_URL: closed,
    });
    started.push(w);
    await waitFor('the worker alive file', () => fs.existsSync(alive), 60_000, 200).catch((e: unknown) => {
      throw new Error(`${(e as Error).message}\n${w.output().slice(-3000)}`);
    });
    redis = new Redis(redisUrl(), { lazyConnect: true, maxRetriesPerRequest: 1 });
    await waitFor('a worker heartbeat', async () => (await redis?.zcard(heartbeatKey(prefix))) ?? 0, 30_000, 200);
    expect(w.output()).toContain('worker ready');

    const port = await freePort();
    const a = startCmd(api, {
      ...common,
      PORT: String(port),
      PUBSUB_AUDIENCE: 'https://parley.example/webhooks/gmail',
      PUBSUB_SERVICE_ACCOUNT: 'push@project.iam.gserviceaccount.com',
      CLICKUP_WEBHOOK_SECRET: 'image-test-clickup-secret',
      METRICS_TOKEN: 'f3a91c07d24e6b58a0c9e1d7b3f5a2c4',
    });
    started.push(a);
    const status = await waitFor(
      'API readiness 200',
      async () => {
        const res = await fetch(`http://127.0.0.1:${port}/health/readiness`);
        return res.status === 200 ? res.status : undefined;
      },
      60_000,
      200,
    ).catch((e: unknown) => {
      throw new Error(`${(e as Error).message}\n${a.output().slice(-3000)}`);
    });
    expect(status).toBe(200);
    // Nothing in either process went through tsx: the command has no loader and the file set has none to load.
    for (const set of [worker, api]) expect(cmdOf(set.recipe.runtime).join(' ')).not.toMatch(/tsx/);
  }, 180_000);
});
