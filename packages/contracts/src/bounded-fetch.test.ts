import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
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
    if (path === '/small') {
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

const limited = boundedFetch(1024 * 1024);

describe('boundedFetch', () => {
  it('hands on an answer under the limit unchanged, with status, headers and its length', async () => {
    const res = await limited(`${base}/small`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/json');
    expect(res.headers.get('content-length')).toBe(String('{"values":[["a","b"]]}'.length));
    expect(await res.json()).toEqual({ values: [['a', 'b']] });
    const missing = await limited(`${base}/missing`);
    expect([missing.status, await missing.text()]).toEqual([404, 'nope']);
  });

  it('hands on a compressed answer decoded, without its content-encoding', async () => {
    const res = await limited(`${base}/gzip`);
    expect(res.headers.get('content-encoding')).toBeNull();
    expect(((await res.json()) as { values: string[][] }).values[0]?.[0]).toHaveLength(5000);
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

  it('finds the error behind the wrappers a client puts around it', () => {
    const inner = new ResponseTooLargeError(10);
    expect(responseTooLarge(new Error('request failed', { cause: new Error('fetch failed', { cause: inner }) }))).toBe(inner);
    expect(responseTooLarge(new Error('other'))).toBeUndefined();
    expect(responseTooLarge(null)).toBeUndefined();
  });
});
