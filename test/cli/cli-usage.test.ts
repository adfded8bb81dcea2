import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { ROOT } from '../support/processes';
import { parley, startWorld, type CliWorld } from './cli-harness';

/** The launcher operators run (`npx parley`), as its own process. */
function launcher(args: string[], env: Record<string, string>): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [path.join(ROOT, 'apps/cli/bin/parley.mjs'), ...args], {
      cwd: ROOT,
      env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (out += c.toString()));
    child.on('exit', (code) => resolve({ code, out }));
  });
}

describe('parley: help, bad input and exit codes', () => {
  let world: CliWorld;
  beforeAll(async () => {
    world = await startWorld('cli-usage');
  });
  afterAll(async () => {
    await world?.close();
  });

  it('lists every command with --help, and each command explains itself', async () => {
    const top = await parley(['--help'], world.env);
    expect(top.code).toBe(0);
    for (const command of ['dead-letters list', 'dead-letters replay', 'dead-letters discard', 'negotiation show', 'negotiation claim', 'negotiation resume', 'setup gmail-watch', 'setup clickup-webhook', 'setup google-token', 'backup', 'restore']) {
      expect(top.stdout).toContain(`  ${command} `);
    }
    const group = await parley(['negotiation', '--help'], world.env);
    expect(group.code).toBe(0);
    expect(group.stdout).toMatch(/negotiation claim/);
    const backup = await parley(['backup', '--help'], world.env);
    expect(backup.code).toBe(0);
    expect(backup.stdout).toMatch(/^Usage: parley backup --to DIR \[--keep N\] \[--every SECONDS\]/);
    expect(backup.stdout).toMatch(/integrity_check/);
  });

  it('refuses an unknown command, subcommand or option and a missing argument with exit code 2 and the usage', async () => {
    const unknown = await parley(['frobnicate'], world.env);
    expect(unknown).toMatchObject({ code: 2, stdout: '' });
    expect(unknown.stderr).toMatch(/unknown command "frobnicate"/);
    const sub = await parley(['dead-letters', 'explode'], world.env);
    expect(sub.code).toBe(2);
    expect(sub.stderr).toMatch(/unknown subcommand "explode" of dead-letters/);
    const option = await parley(['dead-letters', 'list', '--everything'], world.env);
    expect(option.code).toBe(2);
    expect(option.stderr).toMatch(/Unknown option '--everything'[\s\S]*usage: parley dead-letters list/);
    const missing = await parley(['dead-letters', 'replay'], world.env);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/missing <id>/);
    const extra = await parley(['negotiation', 'show', 'a', 'b'], world.env);
    expect(extra.code).toBe(2);
    expect(extra.stderr).toMatch(/unexpected argument "b"/);
    const keep = await parley(['backup', '--to', world.dir, '--keep', '0'], world.env);
    expect(keep.code).toBe(2);
    expect(keep.stderr).toMatch(/--keep: must be at least 1/);
    const noGroup = await parley(['setup'], world.env);
    expect(noGroup.code).toBe(2);
  });

  it('refuses a bad endpoint URL before calling ClickUp', async () => {
    const r = await parley(['setup', 'clickup-webhook', '--endpoint', 'not a url', '--team', '1'], { ...world.env, CLICKUP_API_TOKEN: 'pk_test', CLICKUP_API_URL: 'http://127.0.0.1:9/api/v2' });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--endpoint: not a URL/);
    const ftp = await parley(['setup', 'clickup-webhook', '--endpoint', 'ftp://parley.example/webhooks/clickup', '--team', '1'], world.env);
    expect(ftp.code).toBe(2);
    expect(ftp.stderr).toMatch(/must be an https:\/\/ URL/);
  });

  it('reads only what a command needs: dead-letters list runs without any integration credential; a bad variable is named (exit 1)', async () => {
    const list = await parley(['dead-letters', 'list'], world.env);
    expect(list).toMatchObject({ code: 0, stderr: '' });
    expect(list.stdout).toMatch(/No open dead letters/);
    const bad = await parley(['dead-letters', 'list'], { ...world.env, REDIS_URL: 'localhost:6379' });
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/REDIS_URL: must be a redis:\/\//);
    const watch = await parley(['setup', 'gmail-watch'], world.env);
    expect(watch.code).toBe(1);
    expect(watch.stderr).toMatch(/GMAIL_MAILBOX, GMAIL_PUBSUB_TOPIC|GMAIL_MAILBOX: required[\s\S]*GMAIL_PUBSUB_TOPIC: required/);
  });

  it('names what is missing (a backup file, a dead letter) with exit code 1', async () => {
    // restore copies SQLite files: a SQLite target whatever engine the suite runs on.
    const restore = await parley(['restore', '--from', path.join(world.dir, 'parley.db.missing')], { ...world.env, DATABASE_URL: `file:${path.join(world.dir, 'parley.db')}` });
    expect(restore.code).toBe(1);
    expect(restore.stderr).toMatch(/parley\.db\.missing: no such file/);
    const replay = await parley(['dead-letters', 'replay', 'no-such-id'], world.env);
    expect(replay.code).toBe(1);
    expect(replay.stderr).toMatch(/no dead letter no-such-id/);
  });

  it('a DATABASE_URL naming no file is an error, and no empty database is left behind', async () => {
    const missing = path.join(world.dir, 'typo', 'parley.db');
    const r = await parley(['negotiation', 'show', 'someone@example.com'], { ...world.env, DATABASE_URL: `file:${missing}` });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`no database at ${missing} (DATABASE_URL)`);
    expect(fs.existsSync(path.dirname(missing))).toBe(false);
  });

  it('the launcher (npx parley) runs the command and passes its exit code through', async () => {
    const help = await launcher(['--help'], world.env);
    expect(help.code).toBe(0);
    expect(help.out).toMatch(/dead-letters list/);
    const bad = await launcher(['nope'], world.env);
    expect(bad.code).toBe(2);
    expect(bad.out).toMatch(/unknown command "nope"/);
  });
});
