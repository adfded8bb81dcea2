import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface GateMatch {
  method: string;
  /** Matched against the request path (no query string). */
  path: RegExp;
}

export interface HeldResponse {
  /** Resolves once a matching request has been answered by Google and its answer is held. */
  arrived: Promise<{ method: string; path: string; status: number; body: string }>;
  /** Lets the held answer go to the caller (dropped if the caller is gone by then). */
  release: () => void;
}

export interface GoogleGate {
  /** Root URL to give the processes as GOOGLE_API_ROOT_URL (ends with `/`). */
  url: string;
  /**
   * Holds the answer to the next request that matches: the request reaches Google at once (so
   * Google answers from its state at that moment) but the caller waits until `release()`.
   * That is how a test keeps a mailbox sync running, deterministically, while it makes more
   * mail and notifications arrive.
   */
  hold: (match: GateMatch) => HeldResponse;
  close: () => Promise<void>;
}

interface Pending extends GateMatch {
  resolveArrived: (info: { method: string; path: string; status: number; body: string }) => void;
  released: Promise<void>;
}

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'content-length', 'host']);

function readAll(stream: NodeJS.ReadableStream): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('end', () => resolve(Buffer.concat(chunks)));
    stream.on('error', reject);
  });
}

/** A pass-through HTTP proxy in front of the Google sandbox that can hold chosen answers. */
export async function startGoogleGate(target: string): Promise<GoogleGate> {
  const upstream = new URL(target);
  const pending: Pending[] = [];

  const forward = (req: http.IncomingMessage, body: Buffer): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer }> =>
    new Promise((resolve, reject) => {
      const headers = Object.fromEntries(Object.entries(req.headers).filter(([k]) => !HOP_BY_HOP.has(k.toLowerCase())));
      const out = http.request(
        { host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: { ...headers, 'content-length': String(body.length) } },
        (res) => {
          readAll(res).then((data) => resolve({ status: res.statusCode ?? 502, headers: res.headers, body: data }), reject);
        },
      );
      out.on('error', reject);
      out.end(body);
    });

  const server = http.createServer((req, res) => {
    void (async () => {
      try {
        const body = await readAll(req);
        const answer = await forward(req, body);
        const path = new URL(req.url ?? '/', 'http://gate').pathname;
        const index = pending.findIndex((p) => p.method === req.method && p.path.test(path));
        if (index >= 0) {
          const [held] = pending.splice(index, 1);
          if (held) {
            held.resolveArrived({ method: req.method ?? '', path, status: answer.status, body: answer.body.toString('utf8') });
            await held.released;
          }
        }
        if (res.destroyed || req.socket.destroyed) return;
        const headers = Object.fromEntries(Object.entries(answer.headers).filter(([k]) => !HOP_BY_HOP.has(k.toLowerCase())));
        res.writeHead(answer.status, { ...headers, 'content-length': String(answer.body.length) }).end(answer.body);
      } catch (error) {
        if (!res.headersSent && !res.destroyed) res.writeHead(502, { 'content-type': 'text/plain' }).end(`gate: ${(error as Error).message}`);
      }
    })();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const releases = new Set<() => void>();

  return {
    url: `http://127.0.0.1:${port}/`,
    hold: (match) => {
      let release = () => undefined as void;
      const released = new Promise<void>((resolve) => {
        release = resolve;
      });
      releases.add(release);
      let resolveArrived: Pending['resolveArrived'] = () => undefined;
      const arrived = new Promise<{ method: string; path: string; status: number; body: string }>((resolve) => {
        resolveArrived = resolve;
      });
      pending.push({ ...match, resolveArrived, released });
      return { arrived, release };
    },
    close: async () => {
      for (const release of releases) release();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
