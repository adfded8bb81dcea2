import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { inspect } from 'node:util';
import { brotliCompressSync, deflateRawSync, deflateSync, gzipSync } from 'node:zlib';
import { boundedFetch, ResponseTooLargeError, responseTooLarge } from './bounded-fetch';

/** A server that answers each path its own way, counting the bytes it managed to write. */
let server: http.Server;
let base = '';
const written: Record<string, number> = {};
/** Resolved when the server's answer on a path ended, with whether it was written to its end. */
const ended: Record<string, Promise<boolean>> = {};

beforeAll(async () => {
  server = http.createServer((req, res) => {
    const path = req.url ?? '';
    written[path] = 0;
    ended[path] = new Promise((resolve) => res.once('close', () => resolve(res.writableFinished)));
    const write = (chunk: Buffer | string) => {
      written[path] = (written[path] ?? 0) + Buffer.byteLength(chunk);
      return res.write(chunk);
    };
    if (path === '/bom') {
      res.setHeader('content-type', 'application/json; charset=utf-8');
      res.end(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('{"name":"Zoë","n":1}')]));
    } else if (path === '/small') {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ values: [['a', 'b']] }));
    } else if (path === '/declared-large') {
      // Says 10 MB up front; a client that believes it must not read on.
      res.setHeader('content-length', String(10 * 1024 * 1024));
      write(Buffer.alloc(1024, 120));
      // Never finishes: the client's cancel ends it.
    } else if (path === '/chunked-endless') {
      // No length: 64 KiB chunks for as long as the client reads.
      const chunk = Buffer.alloc(64 * 1024, 120);
      const pump = () => {
        while (!res.destroyed && (written[path] ?? 0) < 64 * 1024 * 1024) if (!write(chunk)) return void res.once('drain', pump);
        res.end();
      };
      pump();
    } else if (path === '/gzip') {
      const body = JSON.stringify({ values: [['x'.repeat(5000)]] });
      res.setHeader('content-encoding', 'gzip');
      res.setHeader('content-type', 'application/json');
      res.end(gzipSync(body));
    } else if (path === '/br' || path === '/deflate') {
      res.setHeader('content-encoding', path.slice(1));
      res.end(path === '/br' ? brotliCompressSync('decoded') : deflateSync('decoded'));
    } else if (path === '/raw-deflate') {
      res.setHeader('content-encoding', 'deflate');
      res.end(deflateRawSync('raw deflate'));
    } else if (path === '/encoding-constructor' || path === '/encoding-proto') {
      res.setHeader('content-encoding', path === '/encoding-constructor' ? 'constructor' : '__proto__');
      res.end('as sent');
    } else if (path === '/empty-gzip' || path === '/not-modified-gzip' || path === '/head-large') {
      // Headers that announce a body that is not there (or, for HEAD, is the GET's).
      res.setHeader('content-encoding', 'gzip');
      if (path === '/head-large') res.setHeader('content-length', String(10 * 1024 * 1024));
      if (path === '/not-modified-gzip') res.statusCode = 304;
      res.end();
    } else if (path === '/silent') {
      // Never answers: a caller's signal is the only way out.
    } else if (path === '/unknown-encoding') {
      res.setHeader('content-encoding', 'zstd');
      res.end('as sent');
    } else if (path === '/echo') {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        res.setHeader('content-type', 'application/json');
        res.setHeader('set-cookie', ['a=1', 'b=2']);
        res.end(JSON.stringify({ method: req.method, headers: req.headers, body: Buffer.concat(chunks).toString() }));
      });
    } else if (path === '/odd-status') {
      res.statusCode = 999;
      res.end('odd');
    } else if (path === '/no-content') {
      res.statusCode = 204;
      res.end();
    } else if (path === '/slow') {
      res.setHeader('content-length', '10');
      write('12345');
      // The rest never comes: the caller's signal ends the wait.
    } else if (path === '/reset') {
      res.setHeader('content-length', '100');
      write('partial');
      setTimeout(() => res.socket?.destroy(), 20);
    } else if (path === '/bomb') {
      // 50 KB on the wire, 20 MB decoded: the limit counts decoded bytes.
      res.setHeader('content-encoding', 'gzip');
      res.end(gzipSync(Buffer.alloc(20 * 1024 * 1024, 32)));
    } else {
      res.statusCode = 404;
      res.end('nope');
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

describe.each([
  ['through undici request (the default)', boundedFetch(1024 * 1024)],
  ['through a given fetch', boundedFetch(1024 * 1024, fetch)],
])('boundedFetch %s', (_name, limited) => {
  it('hands on an answer under the limit unchanged, with status, headers and its length', async () => {
    const res = await limited(`${base}/small`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/json');
    expect(res.headers.get('content-length')).toBe(String('{"values":[["a","b"]]}'.length));
    expect(await res.json()).toEqual({ values: [['a', 'b']] });
    const missing = await limited(`${base}/missing`);
    expect([missing.status, await missing.text()]).toEqual([404, 'nope']);
  });

  it('hands on a compressed answer decoded, without its content-encoding, with its decoded length', async () => {
    const res = await limited(`${base}/gzip`);
    expect(res.headers.get('content-encoding')).toBeNull();
    const text = await res.text();
    expect(res.headers.get('content-length')).toBe(String(Buffer.byteLength(text)));
    expect(((JSON.parse(text)) as { values: string[][] }).values[0]?.[0]).toHaveLength(5000);
  });

  it('refuses a declared length over the limit before reading the body', async () => {
    const error = await limited(`${base}/declared-large`).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ResponseTooLargeError);
    expect((error as ResponseTooLargeError).limitBytes).toBe(1024 * 1024);
    expect(await ended['/declared-large']).toBe(false);
  });

  it('stops reading a body without a length once it crosses the limit', async () => {
    const error = await limited(`${base}/chunked-endless`).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ResponseTooLargeError);
    // The client closed the connection: the server's answer ended unfinished, far short of its 64 MiB.
    expect(await ended['/chunked-endless']).toBe(false);
    expect(written['/chunked-endless']).toBeLessThan(16 * 1024 * 1024);
  });

  it('counts decoded bytes: a small compressed answer that inflates past the limit is refused', async () => {
    await expect(limited(`${base}/bomb`)).rejects.toBeInstanceOf(ResponseTooLargeError);
  });

  it('decodes br and deflate, and hands on the bytes of an encoding it does not know as they came', async () => {
    expect(await (await limited(`${base}/br`)).text()).toBe('decoded');
    expect(await (await limited(`${base}/deflate`)).text()).toBe('decoded');
    expect(await (await limited(`${base}/unknown-encoding`)).text()).toBe('as sent');
    expect(await (await limited(`${base}/raw-deflate`)).text()).toBe('raw deflate');
    // Codings named after Object's own properties are codings nobody knows, not decoders.
    expect(await (await limited(`${base}/encoding-constructor`, { signal: AbortSignal.timeout(2000) })).text()).toBe('as sent');
    expect(await (await limited(`${base}/encoding-proto`, { signal: AbortSignal.timeout(2000) })).text()).toBe('as sent');
  });

  it('answers a body-less response (HEAD, 304, an empty 200) whatever its encoding and length headers say', async () => {
    const head = await limited(`${base}/head-large`, { method: 'HEAD' });
    expect([head.status, head.body, head.headers.get('content-length')]).toEqual([200, null, String(10 * 1024 * 1024)]);
    expect((await limited(`${base}/not-modified-gzip`)).status).toBe(304);
    const empty = await limited(`${base}/empty-gzip`);
    expect([empty.status, await empty.text()]).toEqual([200, '']);
  });

  it('sends the method, headers and body as given, with the defaults fetch adds', async () => {
    const res = await limited(`${base}/echo`, { method: 'post', headers: { 'content-type': 'application/json', 'x-api-key': 'k1' }, body: '{"a":1}' });
    const seen = (await res.json()) as { method: string; headers: Record<string, string>; body: string };
    expect(seen).toMatchObject({ method: 'POST', body: '{"a":1}', headers: { 'content-type': 'application/json', 'x-api-key': 'k1', accept: '*/*', 'content-length': '7' } });
    expect(seen.headers['accept-encoding']).toMatch(/gzip/);
    expect(res.headers.getSetCookie()).toEqual(['a=1', 'b=2']);
    const form = (await (await limited(`${base}/echo`, { method: 'POST', body: new URLSearchParams({ q: 'a b' }) })).json()) as { headers: Record<string, string>; body: string };
    expect(form).toMatchObject({ body: 'q=a+b', headers: { 'content-type': 'application/x-www-form-urlencoded;charset=UTF-8' } });
    const bytes = (await (await limited(new URL(`${base}/echo`), { method: 'PUT', body: new TextEncoder().encode('bytes') })).json()) as { body: string };
    expect(bytes.body).toBe('bytes');
  });

  it('sends a body it cannot hand to undici whole (a stream) through fetch, bounded alike', async () => {
    const stream = new ReadableStream({ start: (c) => (c.enqueue(new TextEncoder().encode('streamed')), c.close()) });
    const res = await limited(`${base}/echo`, { method: 'POST', body: stream, duplex: 'half' } as RequestInit);
    expect(((await res.json()) as { body: string }).body).toBe('streamed');
  });

  it('answers as fetch\'s own Response does: the body read once, clone, the stream, the BOM', async () => {
    const both = async () => [await limited(`${base}/bom`), await fetch(`${base}/bom`)] as const;
    const outcome = async (f: () => Promise<unknown>) => f().then((v) => ({ ok: v }), (e: unknown) => ({ error: (e as Error).constructor.name }));
    for (const read of ['text', 'json', 'arrayBuffer', 'blob'] as const) {
      const [lean, web] = await both();
      const value = async (r: Response) => {
        const v: unknown = await r[read]();
        return v instanceof Blob ? [v.type, Buffer.from(await v.arrayBuffer()).toString('hex')] : v instanceof ArrayBuffer || v instanceof Uint8Array ? Buffer.from(v as ArrayBuffer).toString('hex') : v;
      };
      expect([lean.bodyUsed, await value(lean), lean.bodyUsed]).toEqual([web.bodyUsed, await value(web), web.bodyUsed]);
      // A second read of either kind is refused alike, and so is a clone.
      expect(await outcome(() => lean.text())).toEqual(await outcome(() => web.text()));
      expect(await outcome(async () => lean.clone())).toEqual(await outcome(async () => web.clone()));
      expect(lean.body?.locked).toBe(web.body?.locked);
    }
    const [lean, web] = await both();
    expect([lean.status, lean.ok, lean.statusText, lean.url, lean.redirected, lean.type]).toEqual([web.status, web.ok, web.statusText, web.url, web.redirected, web.type]);
    // A clone reads the same bytes, its original too.
    expect(await lean.clone().json()).toEqual(await web.clone().json());
    expect(await lean.text()).toBe(await web.text());
    // Read through the stream: the same bytes (the BOM included), and the body is then used.
    const [leanStream, webStream] = await both();
    const drain = async (r: Response) => Buffer.from(await new Response(r.body).arrayBuffer()).toString('hex');
    expect(await drain(leanStream)).toBe(await drain(webStream));
    expect(leanStream.bodyUsed).toBe(webStream.bodyUsed);
    expect(await outcome(() => leanStream.text())).toEqual(await outcome(() => webStream.text()));
    // Inspected (an error that holds the response, logged): no body, as fetch's shows none.
    const [unread] = await both();
    expect(inspect(unread, { depth: 5 })).not.toMatch(/Zo|7b ?22/);
  });

  it('answers 204 with no body', async () => {
    const res = await limited(`${base}/no-content`);
    expect([res.status, res.body, await res.text()]).toEqual([204, null, '']);
  });

  it('rejects with the signal\'s reason when the caller aborts, before or during the body', async () => {
    const timedOut = await limited(`${base}/slow`, { signal: AbortSignal.timeout(100) }).catch((e: unknown) => e);
    expect((timedOut as Error).name).toBe('TimeoutError');
    const waiting = await limited(`${base}/silent`, { signal: AbortSignal.timeout(100) }).catch((e: unknown) => e);
    expect((waiting as Error).name).toBe('TimeoutError');
    const controller = new AbortController();
    controller.abort(new Error('job ended'));
    expect(((await limited(`${base}/small`, { signal: controller.signal }).catch((e: unknown) => e)) as Error).message).toBe('job ended');
  });

  it('fails as fetch does when the connection is refused or cut mid-body', async () => {
    const closed = http.createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    // By name: Node's own fetch throws TypeErrors of another realm than the test's.
    const refused = await limited(`http://127.0.0.1:${port}/`).catch((e: unknown) => e);
    expect([(refused as Error).name, (refused as Error).message]).toEqual(['TypeError', 'fetch failed']);
    expect(((refused as Error).cause as NodeJS.ErrnoException).code).toBe('ECONNREFUSED');
    const cut = await limited(`${base}/reset`).then((r) => r.text()).catch((e: unknown) => e);
    expect((cut as Error).name).toBe('TypeError');
    // Node's fetch fails the body read ('terminated'); this one fails the call, as the body is read before it answers.
    expect((cut as Error).message).toMatch(/^(fetch failed|terminated)$/);
    expect((cut as Error).cause).toBeDefined();
  });

  it('rejects a request it cannot build, as fetch does, instead of throwing', async () => {
    const call = limited(`${base}/small`, { headers: { 'x-bad': 'a\nb' } });
    expect(call).toBeInstanceOf(Promise);
    expect(((await call.catch((e: unknown) => e)) as Error).name).toBe('TypeError');
  });

  it('keeps the connection for the next request', async () => {
    // A server of its own, so no connection of the tests above is in the pool for it.
    const sockets = new Set<unknown>();
    const own = http.createServer((req, res) => (sockets.add(req.socket), res.end('ok')));
    await new Promise<void>((resolve) => own.listen(0, '127.0.0.1', resolve));
    try {
      const url = `http://127.0.0.1:${(own.address() as AddressInfo).port}/`;
      for (let i = 0; i < 10; i += 1) expect(await (await limited(url)).text()).toBe('ok');
      // Ten requests one after another on one or two connections (a connection is handed back a
      // moment after its answer is read, so the second request may open another).
      expect(sockets.size).toBeLessThanOrEqual(2);
    } finally {
      own.closeAllConnections();
      await new Promise((resolve) => own.close(resolve));
    }
  });
});

describe('boundedFetch through undici request', () => {
  it('sends plain requests through undici request, with its own Accept-Encoding (Node\'s fetch sends no br over http)', async () => {
    const seen = (await (await boundedFetch(1024 * 1024)(`${base}/echo`, { method: 'POST', body: 'x' })).json()) as { headers: Record<string, string> };
    expect(seen.headers['accept-encoding']).toBe('gzip, deflate, br');
    const viaFetch = (await (await boundedFetch(1024 * 1024, fetch)(`${base}/echo`, { method: 'POST', body: 'x' })).json()) as { headers: Record<string, string> };
    expect(viaFetch.headers['accept-encoding']).not.toBe('gzip, deflate, br');
  });

  it('fails as a network error does on a status a Response cannot hold', async () => {
    const odd = await boundedFetch(1024)(`${base}/odd-status`).catch((e: unknown) => e);
    expect([(odd as Error).name, (odd as Error).message, ((odd as Error).cause as Error).message]).toEqual(['TypeError', 'fetch failed', 'status 999']);
  });
});

describe('responseTooLarge', () => {
  it('finds the error behind the wrappers a client puts around it', () => {
    const inner = new ResponseTooLargeError(10);
    expect(responseTooLarge(new Error('request failed', { cause: new Error('fetch failed', { cause: inner }) }))).toBe(inner);
    expect(responseTooLarge(new Error('other'))).toBeUndefined();
    expect(responseTooLarge(null)).toBeUndefined();
  });
});
