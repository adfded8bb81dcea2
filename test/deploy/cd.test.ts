import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import yaml from 'js-yaml';
import { z } from 'zod';

/**
 * The CD workflow and deploy/deploy.sh. The workflow is checked as data (it cannot deploy what
 * `ci` did not pass) and its CI gate's script runs here against a stub `gh`; deploy.sh runs for
 * real with stub `docker` and `curl` executables first on PATH, which record their arguments.
 */
const ROOT = path.resolve(__dirname, '../..');
const DEPLOY_SH = path.join(ROOT, 'deploy/deploy.sh');

const stepSchema = z.object({ name: z.string().optional(), uses: z.string().optional(), run: z.string().optional(), env: z.record(z.string(), z.string()).optional(), if: z.string().optional(), 'continue-on-error': z.unknown().optional() }).passthrough();
const jobSchema = z
  .object({
    needs: z.union([z.string(), z.array(z.string())]).optional(),
    if: z.string().optional(),
    'continue-on-error': z.unknown().optional(),
    environment: z.string().optional(),
    steps: z.array(stepSchema),
  })
  .passthrough();
const workflow = z
  .object({
    on: z.object({ push: z.object({ tags: z.array(z.string()) }).strict(), workflow_dispatch: z.null() }).strict(),
    permissions: z.record(z.string(), z.string()),
    jobs: z.record(z.string(), jobSchema),
  })
  .passthrough()
  .parse(yaml.load(fs.readFileSync(path.join(ROOT, '.github/workflows/cd.yml'), 'utf8')));
const needsOf = (job: string): string[] => {
  const needs = workflow.jobs[job]?.needs ?? [];
  return typeof needs === 'string' ? [needs] : needs;
};
const upstream = (job: string): Set<string> => new Set(needsOf(job).flatMap((n) => [n, ...upstream(n)]));
const GATE = 'ci-passed';
const gateStep = () => {
  const step = workflow.jobs[GATE]?.steps.find((s) => s.run?.includes('actions/workflows/ci.yml/runs'));
  if (!step?.run) throw new Error('the ci-passed job has no step asking for the ci runs');
  return { ...step, run: step.run };
};

function run(command: string, args: string[], env: Record<string, string>, stdin = ''): Promise<{ code: number; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env: env as NodeJS.ProcessEnv, stdio: ['pipe', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (c: Buffer) => (output += c.toString()));
    child.stderr.on('data', (c: Buffer) => (output += c.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, output }));
    // A script that exits before reading its stdin closes the pipe: not an error of the test.
    child.stdin.on('error', () => undefined);
    child.stdin.end(stdin);
  });
}

function stub(dir: string, name: string, body: string): void {
  fs.writeFileSync(path.join(dir, name), `#!/usr/bin/env bash\n${body}\n`, { mode: 0o755 });
}

describe('cd.yml', () => {
  it('runs only on a version tag or by hand, never on a branch push', () => {
    expect(workflow.on.push.tags).toEqual(['v*.*.*']);
    expect(workflow.on.workflow_dispatch).toBeNull();
    expect(workflow.permissions.actions).toBe('read');
  });

  it('cannot build, push or deploy without the CI gate: every job needs it, and nothing bypasses it', () => {
    for (const job of Object.keys(workflow.jobs)) {
      if (job === GATE) continue;
      expect({ job, gated: upstream(job).has(GATE) }).toEqual({ job, gated: true });
    }
    expect(upstream('deploy')).toEqual(new Set([GATE, 'images']));
    // A job or step that runs whatever its needs did, or passes whatever it did, would open the gate.
    for (const [name, job] of Object.entries(workflow.jobs)) {
      for (const item of [job, ...job.steps]) {
        expect({ name, if: item.if ?? '' }).toEqual({ name, if: expect.not.stringMatching(/always\(\)|failure\(\)|cancelled\(\)/) });
        expect({ name, continueOnError: item['continue-on-error'] ?? false }).toEqual({ name, continueOnError: false });
      }
    }
    expect(gateStep().run).toContain('head_sha=$GITHUB_SHA');
  });

  it('ships the compose file and deploy/ to the VM and runs deploy.sh there with the version, the token on stdin', () => {
    const deploy = workflow.jobs.deploy;
    expect(deploy?.environment).toBe('production');
    const runs = deploy?.steps.map((s) => s.run ?? '').join('\n') ?? '';
    expect(runs).toMatch(/scp .*-r docker-compose\.yml deploy "\$TARGET:\$DEPLOY_DIR\/"/);
    expect(runs).toMatch(/printf '%s' "\$GHCR_TOKEN" \| ssh /);
    expect(runs).toContain("bash deploy/deploy.sh '$VERSION'");
    expect(runs).not.toMatch(/GHCR_TOKEN='?\$GHCR_TOKEN/);
    const pushed = JSON.stringify(workflow.jobs.images?.steps ?? []);
    expect(pushed).toContain('docker/build-push-action');
    expect(pushed).toContain('ghcr.io/${{ needs.ci-passed.outputs.owner }}/parley-${{ matrix.app }}:${{ needs.ci-passed.outputs.version }}');
    // The VM's host key is pinned, not accepted blindly.
    expect(runs).toContain('~/.ssh/known_hosts');
    expect(runs).not.toMatch(/StrictHostKeyChecking=no/);
  });

  describe("the gate's script (against a stub gh)", () => {
    let dir: string;
    beforeAll(() => {
      dir = fs.mkdtempSync(path.join(os.tmpdir(), 'parley-cd-gate-'));
      // Answers what the test says the ci runs of that commit add up to, and records the call.
      stub(dir, 'gh', 'printf "%s\\n" "$*" >>"$GH_CALLS"\nprintf "%s\\n" "$STUB_VERDICT"');
    });
    afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

    const runGate = (verdict: string) =>
      run('bash', ['-c', gateStep().run], {
        PATH: `${dir}:${process.env.PATH ?? ''}`,
        GH_CALLS: path.join(dir, `calls-${verdict}`),
        STUB_VERDICT: verdict,
        GITHUB_REPOSITORY: 'acme/parley',
        GITHUB_SHA: '0123456789abcdef0123456789abcdef01234567',
        CI_WAIT_SECONDS: '0',
      });

    it('passes when ci succeeded on the commit', async () => {
      const result = await runGate('success');
      expect(result).toEqual({ code: 0, output: expect.stringContaining('ci passed') });
      expect(fs.readFileSync(path.join(dir, 'calls-success'), 'utf8')).toContain('api repos/acme/parley/actions/workflows/ci.yml/runs?head_sha=0123456789abcdef0123456789abcdef01234567');
    });

    it('stops the deploy when ci failed, never ran, or is still running past the wait', async () => {
      for (const verdict of ['failed', 'running', '']) {
        const result = await runGate(verdict);
        expect({ verdict, code: result.code }).toEqual({ verdict, code: 1 });
        expect(result.output).toMatch(/not deploying/);
      }
    });
  });
});

describe('deploy/deploy.sh (stub docker and curl)', () => {
  let root: string;
  let bin: string;
  let seq = 0;

  beforeAll(() => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'parley-deploy-'));
    bin = path.join(root, 'bin');
    fs.mkdirSync(bin);
    // docker: records each call with the PARLEY_VERSION compose would see; `compose up` makes that
    // version the running one; `login` records the user and the length of the token on stdin.
    stub(
      bin,
      'docker',
      [
        'if [ "$1" = login ]; then token="$(cat)"; printf "login %s token-length=%s\\n" "$*" "${#token}" >>"$STUB_LOG"; exit 0; fi',
        'printf "PARLEY_VERSION=%s docker %s\\n" "${PARLEY_VERSION-}" "$*" >>"$STUB_LOG"',
        'if [ "$1 $2" = "compose up" ]; then printf "%s" "$PARLEY_VERSION" >"$STUB_STATE/running"; printf "%s" "${GHCR_OWNER-}" >"$STUB_STATE/owner"; fi',
      ].join('\n'),
    );
    // curl: the readiness gate; fails (as curl --fail does on a 503) while the running version is
    // the one the test marked bad.
    stub(
      bin,
      'curl',
      [
        'running="$(cat "$STUB_STATE/running" 2>/dev/null)"',
        'printf "curl %s (running %s)\\n" "$*" "$running" >>"$STUB_LOG"',
        'if [ -n "${FAIL_VERSION-}" ] && [ "$running" = "$FAIL_VERSION" ]; then echo "curl: (22) The requested URL returned error: 503" >&2; exit 22; fi',
      ].join('\n'),
    );
    // ssh runs the remote command here, on the same stdin; scp copies into the target path.
    stub(bin, 'ssh', ['while [ $# -gt 0 ]; do case "$1" in -i) shift 2 ;; -*) shift ;; *) break ;; esac; done', 'printf "ssh %s\\n" "$1" >>"$STUB_LOG"', 'shift', 'exec bash -c "$*"'].join('\n'));
    stub(
      bin,
      'scp',
      [
        'files=()',
        'while [ $# -gt 0 ]; do case "$1" in -i) shift 2 ;; -r) shift ;; *) files+=("$1"); shift ;; esac; done',
        'target="${files[-1]}"',
        'printf "scp %s\\n" "${files[*]}" >>"$STUB_LOG"',
        'for f in "${files[@]:0:${#files[@]}-1}"; do cp -R "$f" "${target#*:}"; done',
      ].join('\n'),
    );
  });
  afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

  /** A fresh VM directory: the compose file, deploy/ (this repository's script) and a .env. */
  function vm(): string {
    seq += 1;
    const dir = path.join(root, `vm-${seq}`);
    fs.mkdirSync(path.join(dir, 'deploy'), { recursive: true });
    fs.copyFileSync(path.join(ROOT, 'docker-compose.yml'), path.join(dir, 'docker-compose.yml'));
    fs.copyFileSync(DEPLOY_SH, path.join(dir, 'deploy/deploy.sh'));
    for (const config of ['caddy', 'prometheus', 'grafana']) fs.cpSync(path.join(ROOT, 'deploy', config), path.join(dir, 'deploy', config), { recursive: true });
    fs.writeFileSync(path.join(dir, '.env'), 'NODE_ENV=production\nPARLEY_DOMAIN=parley.example.test\nPARLEY_VERSION=\nGHCR_OWNER=acme\n', { mode: 0o600 });
    fs.mkdirSync(path.join(dir, 'stub'));
    return dir;
  }

  async function deploy(dir: string, version: string, extra: Record<string, string> = {}, stdin = '') {
    const log = path.join(dir, 'stub/log');
    fs.writeFileSync(log, '');
    const result = await run('bash', [path.join(dir, 'deploy/deploy.sh'), version], {
      PATH: `${bin}:${process.env.PATH ?? ''}`,
      STUB_LOG: log,
      STUB_STATE: path.join(dir, 'stub'),
      HEALTH_RETRIES: '3',
      HEALTH_INTERVAL: '0',
      ...extra,
    }, stdin);
    const calls = fs.readFileSync(log, 'utf8').trim().split('\n').filter(Boolean);
    const state = (file: string) => (fs.existsSync(path.join(dir, '.deploy', file)) ? fs.readFileSync(path.join(dir, '.deploy', file), 'utf8').trim() : null);
    return { ...result, calls, current: state('current-version'), previous: state('previous-version'), history: state('history.log') ?? '', env: fs.readFileSync(path.join(dir, '.env'), 'utf8') };
  }

  it('a good deploy pulls and starts the new version, passes the gate through the proxy and records it', async () => {
    const dir = vm();
    const first = await deploy(dir, 'v1.0.0');
    expect(first.code).toBe(0);
    expect(first.calls).toEqual([
      'PARLEY_VERSION=v1.0.0 docker compose pull --quiet api worker migrate backup',
      'PARLEY_VERSION=v1.0.0 docker compose up -d --remove-orphans',
      // Caddy reads its file at start only; nothing says which file it runs yet.
      'PARLEY_VERSION=v1.0.0 docker compose restart caddy',
      expect.stringMatching(/^curl --fail .*https:\/\/parley\.example\.test\/health\/readiness \(running v1\.0\.0\)$/),
    ]);
    expect(first.current).toBe('v1.0.0');
    expect(first.previous).toBeNull();
    expect(first.env).toMatch(/^PARLEY_VERSION=v1\.0\.0$/m);
    expect(first.env.match(/^PARLEY_VERSION=/gm)).toHaveLength(1);
    expect(first.env).toMatch(/^PARLEY_DOMAIN=parley\.example\.test$/m);
    expect(fs.statSync(path.join(dir, '.env')).mode & 0o777).toBe(0o600);

    const second = await deploy(dir, 'v1.1.0');
    expect(second.code).toBe(0);
    expect(second.calls.filter((c) => c.includes('restart'))).toEqual([]);
    expect({ current: second.current, previous: second.previous }).toEqual({ current: 'v1.1.0', previous: 'v1.0.0' });
    expect(second.history.split('\n').map((l) => l.replace(/^\S+ /, ''))).toEqual(['deployed v1.0.0', 'deployed v1.1.0']);
  });

  it('a failed gate rolls back to the previous version, its compose files and Caddy config included, and exits non-zero', async () => {
    const dir = vm();
    expect((await deploy(dir, 'v1.1.0')).code).toBe(0);
    const files = ['docker-compose.yml', 'deploy/caddy/Caddyfile', 'deploy/prometheus/prometheus.yml'];
    const good = files.map((f) => fs.readFileSync(path.join(dir, f), 'utf8'));
    // The new release ships changed files (as the CD workflow's scp does before running the script).
    for (const f of files) fs.appendFileSync(path.join(dir, f), '# changed by v1.2.0\n');
    const bad = await deploy(dir, 'v1.2.0', { FAIL_VERSION: 'v1.2.0' });
    expect(bad.code).toBe(1);
    const changes = bad.calls.filter((c) => c.includes('compose up') || c.includes('compose restart'));
    expect(changes).toEqual([
      'PARLEY_VERSION=v1.2.0 docker compose up -d --remove-orphans',
      'PARLEY_VERSION=v1.2.0 docker compose restart caddy',
      'PARLEY_VERSION=v1.1.0 docker compose up -d --remove-orphans',
      'PARLEY_VERSION=v1.1.0 docker compose restart caddy',
    ]);
    expect(files.map((f) => fs.readFileSync(path.join(dir, f), 'utf8'))).toEqual(good);
    expect(fs.existsSync(path.join(dir, 'deploy/deploy.sh'))).toBe(true);
    // Every probe of the bad version failed before the rollback; the rolled-back one passed at once.
    expect(bad.calls.filter((c) => c.startsWith('curl') && c.endsWith('(running v1.2.0)'))).toHaveLength(3);
    expect(bad.calls.at(-1)).toMatch(/^curl .*\(running v1\.1\.0\)$/);
    expect({ current: bad.current, previous: bad.previous }).toEqual({ current: 'v1.1.0', previous: null });
    expect(bad.env).toMatch(/^PARLEY_VERSION=v1\.1\.0$/m);
    expect(bad.history).toMatch(/failed v1\.2\.0\n.*rolled back to v1\.1\.0$/);
    expect(bad.output).toMatch(/rolled back: v1\.1\.0 is ready/);
  });

  it('a failed first deploy has nothing to roll back to: it says so and exits non-zero', async () => {
    const dir = vm();
    const result = await deploy(dir, 'v1.0.0', { FAIL_VERSION: 'v1.0.0' });
    expect(result.code).toBe(1);
    expect(result.calls.filter((c) => c.includes('compose up'))).toHaveLength(1);
    expect(result.current).toBeNull();
    expect(result.output).toMatch(/no previous version to roll back to/);
  });

  it('logs in to ghcr.io with the token on stdin, never on the command line', async () => {
    const dir = vm();
    const token = 'ghp_unitTestTokenValue0123456789';
    const result = await deploy(dir, 'v2.0.0', { GHCR_USER: 'deploy-bot', GHCR_TOKEN: token });
    expect(result.code).toBe(0);
    expect(result.calls[0]).toBe(`login login ghcr.io --username deploy-bot --password-stdin token-length=${token.length}`);
    expect(result.calls.join('\n')).not.toContain(token);
    expect(result.output).not.toContain(token);
  });

  it('refuses a version that is not an image tag, before touching anything', async () => {
    const dir = vm();
    for (const version of ['', 'v1.0.0; rm -rf /', '../v1', '-rm']) {
      const result = await deploy(dir, version);
      expect({ version, code: result.code, calls: result.calls }).toEqual({ version, code: 2, calls: [] });
    }
    expect(fs.existsSync(path.join(dir, '.deploy/current-version'))).toBe(false);
  });

  it("the workflow's deploy steps, run with stub ssh and scp, ship the files and roll the version out on the VM", async () => {
    const dir = path.join(root, 'vm-from-workflow');
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, '.env'), 'PARLEY_DOMAIN=parley.example.test\n', { mode: 0o600 });
    const log = path.join(root, 'workflow-log');
    fs.writeFileSync(log, '');
    const stepEnv = {
      PATH: `${bin}:${process.env.PATH ?? ''}`,
      STUB_LOG: log,
      STUB_STATE: root,
      HEALTH_RETRIES: '2',
      HEALTH_INTERVAL: '0',
      TARGET: 'deploy@vm.example.test',
      DEPLOY_DIR: dir,
      VERSION: 'v3.1.4',
      GHCR_OWNER: 'acme',
      GHCR_USER: 'deploy-bot',
      GHCR_TOKEN: 'ghp_workflowStepToken0123456789',
    };
    const steps = workflow.jobs.deploy?.steps ?? [];
    for (const name of ['Ship docker-compose.yml and deploy/ to the VM', 'Roll out, gate on readiness through the proxy, roll back on failure']) {
      const script = steps.find((st) => st.name === name)?.run;
      if (!script) throw new Error(`no step ${name}`);
      // As Actions runs a step: bash -e -o pipefail, in the checkout.
      const result = await new Promise<{ code: number; output: string }>((resolve, reject) => {
        const child = spawn('bash', ['--noprofile', '--norc', '-eo', 'pipefail', '-c', script], { cwd: ROOT, env: stepEnv as NodeJS.ProcessEnv });
        let output = '';
        child.stdout.on('data', (c: Buffer) => (output += c.toString()));
        child.stderr.on('data', (c: Buffer) => (output += c.toString()));
        child.on('error', reject);
        child.on('close', (code) => resolve({ code: code ?? -1, output }));
      });
      expect({ name, ...result }).toEqual({ name, code: 0, output: expect.any(String) });
    }
    expect(fs.readFileSync(path.join(dir, 'docker-compose.yml'), 'utf8')).toBe(fs.readFileSync(path.join(ROOT, 'docker-compose.yml'), 'utf8'));
    expect(fs.existsSync(path.join(dir, 'deploy/caddy/Caddyfile'))).toBe(true);
    expect(fs.readFileSync(path.join(dir, '.deploy/current-version'), 'utf8').trim()).toBe('v3.1.4');
    expect(fs.readFileSync(path.join(root, 'owner'), 'utf8')).toBe('acme');
    const calls = fs.readFileSync(log, 'utf8');
    expect(calls).toMatch(/^scp docker-compose\.yml deploy deploy@vm\.example\.test:/m);
    expect(calls).toMatch(/^ssh deploy@vm\.example\.test$/m);
    expect(calls).toContain(`login login ghcr.io --username deploy-bot --password-stdin token-length=${stepEnv.GHCR_TOKEN.length}`);
    expect(calls).toContain('PARLEY_VERSION=v3.1.4 docker compose up -d --remove-orphans');
    expect(calls).not.toContain(stepEnv.GHCR_TOKEN);
  });
});
