import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { ROOT } from '../support/processes';
import { describeOnEngine } from '../support/test-database';
import { waitFor } from '../support/wait';
import { chooseMode } from './host-harness';
import { createHostNetwork, sweepStaleHosts, type HostNetwork } from './netns';

jest.setTimeout(120_000);

const { mode, reason } = chooseMode();
if (mode !== 'namespaces') console.warn(`skipped: a cut link needs network namespaces (${reason})`);
const describeCut = mode === 'namespaces' ? describeOnEngine('sqlite', 'no database takes part') : describe.skip;

/**
 * A request written by a host whose link is down waits in that host's kernel, which sends it
 * again once the link is back, even after the program gave up on it and closed the connection.
 * For a Gmail send that is a second email: the job's next run found nothing in the mailbox and
 * sent it, then the first request arrived. boundedFetch (what every Google, Anthropic and ClickUp
 * client of Parley sends through) resets a connection it gave up on, and the kernel drops what
 * it held. Two programs on one cut-off host send the same way, one with Node's fetch (the
 * control), one with boundedFetch; both give up, the link returns, and only the control's
 * request ever reaches the server.
 */
describeCut('a request given up on while its host is cut off', () => {
  let network: HostNetwork;
  let server: http.Server;
  let target = '';
  /** Requests the server read to their end, by path. */
  const completed: string[] = [];
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'parley-cut-request-'));
  const children: Array<ReturnType<typeof spawn>> = [];

  beforeAll(async () => {
    sweepStaleHosts();
    network = createHostNetwork(['w1']);
    server = http.createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        completed.push(req.url ?? '');
        res.end('ok');
      });
    });
    await new Promise<void>((resolve) => server.listen(0, network.serviceAddress, resolve));
    target = `http://${network.serviceAddress}:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
    network?.restore('w1');
    server?.closeAllConnections();
    await new Promise<void>((resolve) => server?.close(() => resolve()));
    network?.remove();
    fs.rmSync(scratch, { recursive: true, force: true });
  });

  /**
   * A program on w1: one request to open a kept-alive connection, then, once `go` exists in its
   * directory, the send on that connection, given up after 3 s. It stays alive afterwards.
   */
  const sender = (name: 'fetch' | 'bounded') => {
    const dir = fs.mkdtempSync(path.join(scratch, `${name}-`));
    const code = `
      const fs = require('fs');
      const { boundedFetch } = require(${JSON.stringify(path.join(ROOT, 'packages/contracts/dist/index.js'))});
      const send = ${name === 'bounded' ? 'boundedFetch(1 << 20)' : 'fetch'};
      (async () => {
        await (await send(${JSON.stringify(`${target}/warm-${name}`)}, { method: 'POST', body: 'warm' })).text();
        console.log('ready');
        while (!fs.existsSync('go')) await new Promise((r) => setTimeout(r, 10));
        try {
          await send(${JSON.stringify(`${target}/send-${name}`)}, { method: 'POST', body: 'x'.repeat(2000), signal: AbortSignal.timeout(3000) });
          console.log('answered');
        } catch (error) {
          console.log('given up: ' + error.name);
        }
        setInterval(() => undefined, 1000);
      })().catch((e) => { console.log('failed: ' + e.message); process.exit(1); });`;
    const child = spawn('ip', ['netns', 'exec', network.hosts.w1!.namespace, process.execPath, '-e', code], { cwd: dir, stdio: ['ignore', 'pipe', 'inherit'] });
    children.push(child);
    let out = '';
    child.stdout?.on('data', (chunk: Buffer) => (out += chunk.toString()));
    return { dir, output: () => out };
  };

  /**
   * Bytes w1's kernel holds for the server, per connection that has any (`ss` Send-Q); a
   * connection still being opened holds only its SYN and is left out (the pools open new ones).
   */
  const queuedOnHost = (): number[] => {
    const listing = spawnSync('ip', ['netns', 'exec', network.hosts.w1!.namespace, 'ss', '-tnH', 'dst', network.serviceAddress], { encoding: 'utf8' });
    if (listing.status !== 0) throw new Error(`ss failed: ${listing.stderr}`);
    return listing.stdout
      .split('\n')
      .map((line) => line.trim().split(/\s+/))
      .filter((cols) => cols.length >= 5 && cols[0] !== 'SYN-SENT')
      .map((cols) => Number(cols[2]))
      .filter((queued) => queued > 0);
  };

  it('is delivered after the link returns with fetch, and never with boundedFetch', async () => {
    const control = sender('fetch');
    const bounded = sender('bounded');
    await waitFor('both programs connected', () => /ready/.test(control.output()) && /ready/.test(bounded.output()), 30_000);
    expect(completed.sort()).toEqual(['/warm-bounded', '/warm-fetch']);

    network.cut('w1');
    fs.writeFileSync(path.join(control.dir, 'go'), '');
    fs.writeFileSync(path.join(bounded.dir, 'go'), '');
    // Both requests written, on their kept-alive connections, and held by w1's kernel.
    await waitFor('both requests in the kernel', () => queuedOnHost().filter((bytes) => bytes > 2000).length === 2, 2_000, 20);
    await waitFor('both programs gave up', () => /given up: TimeoutError/.test(control.output()) && /given up: TimeoutError/.test(bounded.output()), 30_000);
    // The control's request is still there, the reset one's is gone.
    const queued = queuedOnHost();
    expect(queued).toHaveLength(1);
    expect(queued[0]).toBeGreaterThan(2000);

    network.restore('w1');
    // Both requests were held the same way for the same time; the kernel retries them on the
    // same schedule. The control's arrives; by then the other would have.
    await waitFor('the control request delivered after the link returned', () => completed.includes('/send-fetch'), 60_000);
    expect(completed).not.toContain('/send-bounded');
    expect(queuedOnHost()).toEqual([]);
  });
});
