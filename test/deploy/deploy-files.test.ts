import fs from 'node:fs';
import path from 'node:path';
import yaml from 'js-yaml';
import { z } from 'zod';

/**
 * No Docker engine runs on the build machines, so the deployment files are checked
 * statically against SPEC section 13 (their commands themselves run on the host in other
 * tests: `migrate deploy` in the suite's setup and the demo, the images' file sets and their
 * plain-node entry points in images.test.ts). docker-compose.yml and deploy/ are checked in
 * compose.test.ts, the CD workflow and deploy/deploy.sh in cd.test.ts, .env.example in env-example.test.ts.
 */
const ROOT = path.resolve(__dirname, '../..');
const read = (file: string) => fs.readFileSync(path.join(ROOT, file), 'utf8');

describe.each(['Dockerfile.api', 'Dockerfile.worker'])('%s', (file) => {
  const text = read(file);

  it('is multi-stage with production dependencies only, a non-root user and a healthcheck', () => {
    expect(text.match(/^FROM /gm)?.length).toBeGreaterThanOrEqual(2);
    expect(text).toMatch(/npm install --omit=dev/);
    expect(text).toMatch(/^USER node$/m);
    expect(text).toMatch(/^HEALTHCHECK /m);
    expect(text).toMatch(/^FROM node:24/m);
  });

  it('bakes no secret into a layer', () => {
    for (const line of text.split('\n').filter((l) => /^(ENV|ARG)\s/.test(l))) {
      expect(line).not.toMatch(/(TOKEN|SECRET|KEY|PASSWORD|DSN)\s*=/i);
    }
    expect(read('.dockerignore')).toMatch(/^\.env$/m);
  });

  // The full check of the CMD and the file set, started on plain node: test/deploy/images.test.ts.
  it('runs the compiled entry point with plain node, Sentry instrument first, no tsx', () => {
    const app = file === 'Dockerfile.api' ? 'api' : 'worker';
    const cmd = text.split('\n').find((l) => l.startsWith('CMD [')) ?? '';
    const heap = app === 'worker' ? '"--max-old-space-size=160", "--max-semi-space-size=8", ' : '"--max-old-space-size=96", "--max-semi-space-size=8", ';
    expect(cmd).toBe(`CMD ["node", ${heap}"--import", "./apps/${app}/dist/instrument.js", "apps/${app}/dist/main.js"]`);
    expect(text.split('\n').filter((l) => !l.startsWith('#')).join('\n')).not.toMatch(/tsx/);
  });
});

describe('Dockerfile.worker', () => {
  it('carries the migrations and the ops CLI the compose file runs from it', () => {
    expect(read('Dockerfile.worker')).toMatch(/image-files\.mjs \/image @parley\/worker @parley\/cli --with prisma --with prisma\.config\.ts/);
  });
});

describe('GitHub workflows', () => {
  it('CI typechecks, lints and tests with a Redis service on every push', () => {
    const ci = read('.github/workflows/ci.yml');
    expect(ci).toMatch(/^ {2}push:/m);
    expect(ci).toMatch(/image: redis/);
    for (const step of ['npm ci', 'npm run typecheck', 'npm run lint', 'npm test']) expect(ci).toContain(`run: ${step}`);
  });

  it('CI and .ci/run test on PostgreSQL too, with a server of their own', () => {
    const ci = read('.github/workflows/ci.yml');
    expect(ci).toMatch(/image: postgres:15/);
    expect(ci).toMatch(/TEST_POSTGRES_URL: postgresql:\/\/postgres:parley-ci@127\.0\.0\.1:5432\/postgres/);
    expect(ci).toMatch(/name: npm test on PostgreSQL\n\s+run: npm test\n\s+env:\n\s+TEST_DATABASE: postgres/);
    const run = read('.ci/run');
    expect(run).toMatch(/^TEST_DATABASE=postgres npm test$/m);
    // The server is found or installed before the tests, not discovered missing by them.
    expect(run.indexOf('apt-get install -y -qq postgresql')).toBeGreaterThan(-1);
    expect(run.indexOf('apt-get install -y -qq postgresql')).toBeLessThan(run.search(/^npm test$/m));
  });

  it('CI gives the browser tests a real browser and lets no install failure pass unnoticed', () => {
    const ci = read('.github/workflows/ci.yml');
    const runs = ci.split('\n').filter((l) => /^\s+(- )?run: /.test(l));
    for (const run of runs) expect(run).not.toMatch(/\|\||; *true\b/);
    // Ubuntu's chromium-browser is a snap stub that cannot run here.
    expect(ci).not.toContain('chromium-browser');
    expect(ci).toMatch(/CHROMIUM_PATH: \/usr\/bin\/google-chrome/);
    expect(ci).toContain('test -x "$CHROMIUM_PATH"');
  });

  it('.ci/run sets CI, so a test that cannot run fails there instead of skipping, and checks Chromium first', () => {
    const run = read('.ci/run');
    expect(run).toMatch(/^export CI=true$/m);
    expect(run.indexOf('[ ! -x "$CHROMIUM_PATH" ]')).toBeGreaterThan(-1);
    // The command itself (a line of its own), not a mention of it in a comment.
    expect(run.indexOf('[ ! -x "$CHROMIUM_PATH" ]')).toBeLessThan(run.search(/^npm test$/m));
    expect(run.search(/^npm test$/m)).toBeGreaterThan(-1);
  });
});

describe('deploy/slack-app-manifest.yml', () => {
  const manifest = z
    .object({
      features: z.object({ slash_commands: z.array(z.object({ command: z.string(), url: z.string() }).passthrough()) }).passthrough(),
      oauth_config: z.object({ scopes: z.object({ bot: z.array(z.string()) }) }),
      settings: z.object({ interactivity: z.object({ is_enabled: z.boolean(), request_url: z.string() }), socket_mode_enabled: z.boolean(), token_rotation_enabled: z.boolean() }).passthrough(),
    })
    .passthrough()
    .parse(yaml.load(read('deploy/slack-app-manifest.yml')));

  it("declares exactly the slash commands the API's Slack app answers, all sent to /slack/events", () => {
    const handled = /app\.command\(\/\^\\\/\(([a-z|]+)\)\$\//.exec(read('apps/api/src/slack/slack-app.ts'))?.[1]?.split('|') ?? [];
    expect(handled.length).toBeGreaterThan(0);
    expect(manifest.features.slash_commands.map((c) => c.command.slice(1)).sort()).toEqual([...handled].sort());
    for (const c of manifest.features.slash_commands) expect(c.url).toBe('https://parley.example.com/slack/events');
    expect(manifest.settings.interactivity).toEqual({ is_enabled: true, request_url: 'https://parley.example.com/slack/events' });
    // A rotating bot token would expire under SLACK_BOT_TOKEN.
    expect(manifest.settings.token_rotation_enabled).toBe(false);
  });

  it('asks for the bot scopes docs/slack.md lists, and no others', () => {
    const documented = ['chat:write', 'im:write', 'channels:history', 'groups:history', 'im:history', 'commands', 'usergroups:read'];
    const slackDoc = read('docs/slack.md');
    for (const scope of documented) expect(slackDoc).toContain(`\`${scope}\``);
    expect([...manifest.oauth_config.scopes.bot].sort()).toEqual([...documented].sort());
  });
});

describe('the production guide (docs/production.md, README, docs/operations.md)', () => {
  const docs = ['docs/production.md', 'README.md', 'docs/operations.md'];

  it('links only to files that exist', () => {
    for (const doc of docs) {
      for (const [, target = ''] of read(doc).matchAll(/\]\(([^)#\s]+)(?:#[^)]*)?\)/g)) {
        if (/^https?:/.test(target)) continue;
        const file = path.join(path.dirname(path.join(ROOT, doc)), target);
        expect({ doc, target, exists: fs.existsSync(file) }).toEqual({ doc, target, exists: true });
      }
    }
  });

  it('names only ops CLI commands that exist', () => {
    const cli = fs
      .readdirSync(path.join(ROOT, 'apps/cli/src/commands'))
      .map((f) => read(`apps/cli/src/commands/${f}`))
      .join('\n');
    const usages = [...cli.matchAll(/usage: '(parley [a-z -]+?)(?: [<[-]|')/g)].map((m) => m[1]);
    expect(usages.length).toBeGreaterThan(5);
    for (const doc of docs) {
      for (const [used = ''] of read(doc).matchAll(/\bparley (?:setup|negotiation|dead-letters) [a-z-]+|\bparley (?:backup|restore)\b/g)) {
        expect({ doc, used, known: usages.includes(used) }).toEqual({ doc, used, known: true });
      }
    }
  });
});
