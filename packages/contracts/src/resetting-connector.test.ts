import { execFileSync, spawn } from 'node:child_process';
import { EventEmitter, once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net, { type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, buildConnector, request } from 'undici';
import { boundedFetch, resettingConnector } from './bounded-fetch';

/**
 * A request the client gave up on (its timeout, an abort) must not reach the server afterwards.
 * The server here stops reading a request's body until the client has given up, as a host cut
 * off the network holds its request in the kernel until the link returns. Closed the ordinary
 * way, the kernel still delivers the rest of the request and the server completes it (the
 * control); reset, the server sees the connection reset and never a complete request.
 */
const BODY = Buffer.alloc(1024 * 1024, 97);

type Server = http.Server | https.Server;

/**
 * Holds every request's body unread until `release()`. `ended(path)` resolves with how the
 * request to `path` ended: 'complete' when the server read all of it, else the error it saw;
 * it resolves once the request has arrived (its headers) and ended.
 */
function holdingServer(make: (handler: http.RequestListener) => Server) {
  const outcomes = new Map<string, Promise<string>>();
  const arrivals = new EventEmitter();
  const held: Array<() => void> = [];
  const server = make((req, res) => {
    req.pause();
    held.push(() => req.resume());
    let bytes = 0;
    req.on('data', (chunk: Buffer) => (bytes += chunk.length));
    outcomes.set(
      req.url ?? '',
      new Promise((resolve) => {
        req.on('end', () => {
          resolve(bytes === Number(req.headers['content-length'] ?? -1) ? 'complete' : `short: ${bytes}`);
          res.end('ok');
        });
        req.on('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
      }),
    );
    arrivals.emit(req.url ?? '');
  });
  return {
    /** Resolves once the request to `path` is in flight (the server has its headers). */
    async arrived(path: string): Promise<void> {
      if (!outcomes.has(path)) await once(arrivals, path);
    },
    ended: (path: string) => outcomes.get(path),
    release: () => held.splice(0).forEach((resume) => resume()),
    async listen(): Promise<string> {
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      return String((server.address() as AddressInfo).port);
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

describe('boundedFetch: a request given up on is reset, not delivered later', () => {
  const h = holdingServer((handler) => http.createServer(handler));
  let base = '';
  beforeAll(async () => {
    base = `http://127.0.0.1:${await h.listen()}`;
  });
  afterAll(() => h.close());

  it('control: with fetch, the kernel delivers the rest after the abort and the server completes the request', async () => {
    const controller = new AbortController();
    const sending = fetch(`${base}/control`, { method: 'POST', body: BODY, signal: controller.signal });
    await h.arrived('/control');
    controller.abort(new Error('given up'));
    await expect(sending).rejects.toThrow('given up');
    h.release();
    await expect(h.ended('/control')).resolves.toBe('complete');
  });

  it('with boundedFetch, the server sees the connection reset and never the whole request', async () => {
    const controller = new AbortController();
    const sending = boundedFetch(1024)(`${base}/send`, { method: 'POST', body: BODY, signal: controller.signal });
    await h.arrived('/send');
    controller.abort(new Error('given up'));
    await expect(sending).rejects.toThrow('given up');
    h.release();
    await expect(h.ended('/send')).resolves.toBe('ECONNRESET');
  });

  /** A process that posts the body and exits (process.exit) on SIGTERM, the request unanswered. */
  const poster = (how: 'fetch' | 'boundedFetch', path: string) => {
    const code = `
      const { boundedFetch } = require(${JSON.stringify(join(__dirname, 'bounded-fetch.ts'))});
      const send = ${how === 'fetch' ? 'fetch' : 'boundedFetch(1024)'};
      process.on('SIGTERM', () => process.exit(0));
      send(${JSON.stringify(base)} + ${JSON.stringify(path)}, { method: 'POST', body: Buffer.alloc(${BODY.length}, 97) }).catch(() => undefined);
      setInterval(() => undefined, 1000);`;
    const child = spawn(process.execPath, ['--import', 'tsx', '-e', code], { stdio: 'ignore' });
    return { child, exited: new Promise((resolve) => child.once('exit', resolve)) };
  };

  it('when the process exits mid-request: left to the kernel with fetch (the control), reset with boundedFetch', async () => {
    for (const how of ['fetch', 'boundedFetch'] as const) {
      const p = poster(how, `/exit-${how}`);
      await h.arrived(`/exit-${how}`);
      p.child.kill('SIGTERM');
      await p.exited;
      h.release();
    }
    expect([await h.ended('/exit-fetch'), await h.ended('/exit-boundedFetch')]).toEqual(['complete', 'ECONNRESET']);
  });
});

describe('resettingConnector', () => {
  let dir = '';
  let tls: { key: Buffer; cert: Buffer };
  beforeAll(() => {
    // A throwaway certificate for 127.0.0.1, made for this run only.
    dir = mkdtempSync(join(tmpdir(), 'parley-tls-'));
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')], { stdio: 'ignore' });
    tls = { key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'cert.pem')) };
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('over TLS resets the TCP connection under it: the control completes, the reset one never does', async () => {
    // TLS 1.2: a TLS 1.3 server sends its session tickets after the handshake, and a client that
    // gives up before reading them closes with unread data, which the kernel answers with a reset
    // even on the ordinary close (seen on a loaded machine). The control must be a plain close.
    const h = holdingServer((handler) => https.createServer({ ...tls, maxVersion: 'TLSv1.2' }, handler));
    const url = `https://127.0.0.1:${await h.listen()}`;
    const plain = new Agent({ connect: buildConnector({ ca: tls.cert }) });
    const resetting = new Agent({ connect: resettingConnector({ ca: tls.cert }) });
    try {
      for (const [path, dispatcher] of [['/plain', plain], ['/resetting', resetting]] as const) {
        // Given up once the server holds the request (its headers), whatever the handshake took.
        const controller = new AbortController();
        const sending = request(url + path, { method: 'POST', body: BODY, dispatcher, signal: controller.signal });
        await h.arrived(path);
        controller.abort(new Error('given up'));
        await expect(sending).rejects.toThrow('given up');
        h.release();
      }
      expect([await h.ended('/plain'), await h.ended('/resetting')]).toEqual(['complete', 'ECONNRESET']);
    } finally {
      await Promise.all([plain.close(), resetting.close()]);
      await h.close();
    }
  });

  it("keeps a failure's own error (a headers timeout), and still resets", async () => {
    const h = holdingServer((handler) => http.createServer(handler));
    const url = `http://127.0.0.1:${await h.listen()}/`;
    const agent = new Agent({ headersTimeout: 150, connect: resettingConnector() });
    try {
      await expect(request(url, { method: 'POST', body: BODY, dispatcher: agent })).rejects.toMatchObject({ code: 'UND_ERR_HEADERS_TIMEOUT' });
      await h.arrived('/');
      h.release();
      await expect(h.ended('/')).resolves.toBe('ECONNRESET');
    } finally {
      await agent.close();
      await h.close();
    }
  });

  it('closes a connection the ordinary way (FIN) when idle and after a complete answer not kept', async () => {
    // A bare TCP server, so that how each connection ended is what the client's kernel sent.
    const ends: Promise<string>[] = [];
    const server = net.createServer((socket) => {
      ends.push(
        new Promise((resolve) => {
          socket.on('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
          socket.on('end', () => {
            resolve('fin');
            socket.end();
          });
        }),
      );
      let seen = '';
      socket.on('data', (chunk: Buffer) => {
        seen += chunk.toString('latin1');
        if (seen.endsWith('\r\n\r\nx')) {
          seen = '';
          socket.write('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok');
        }
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
    const agent = new Agent({ keepAliveTimeout: 50, connect: resettingConnector() });
    try {
      // Kept alive, then closed by the pool when idle.
      await (await request(url, { method: 'POST', body: 'x', dispatcher: agent })).body.text();
      await expect(ends[0]).resolves.toBe('fin');
      // Not kept: the client closes once the answer is complete.
      await (await request(url, { method: 'POST', body: 'x', reset: true, dispatcher: agent })).body.text();
      await expect(ends[1]).resolves.toBe('fin');
    } finally {
      await agent.close();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  it('a TLS connection that cannot be made fails the request, nothing else', async () => {
    const closed = http.createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const agent = new Agent({ connect: resettingConnector({ ca: tls.cert }) });
    try {
      await expect(request(`https://127.0.0.1:${port}/`, { dispatcher: agent })).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    } finally {
      await agent.close();
    }
  });
});
