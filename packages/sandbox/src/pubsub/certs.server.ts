import http from 'node:http';
import { listenOnLoopback } from '../listen';

export interface CertsServer {
  /** The URL to configure as GOOGLE_CERTS_URL (oauth2FederatedSignonPemCertsUrl). */
  url: string;
  /** How many times the certs were fetched (clients are expected to cache them). */
  hits: () => number;
  close: () => Promise<void>;
}

/**
 * Serves `{ "<kid>": "<PEM>" }` like https://www.googleapis.com/oauth2/v1/certs, with the
 * Cache-Control header google-auth-library reads to decide how long to cache the keys.
 */
export async function startCertsServer(signers: ReadonlyArray<{ kid: string; publicKeyPem: string }>): Promise<CertsServer> {
  const body = JSON.stringify(Object.fromEntries(signers.map((s) => [s.kid, s.publicKeyPem])));
  let hits = 0;
  const server = http.createServer((req, res) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET' }).end();
      return;
    }
    hits += 1;
    res.writeHead(200, {
      'content-type': 'application/json; charset=UTF-8',
      'cache-control': 'public, max-age=60',
      'content-length': Buffer.byteLength(body),
    });
    res.end(req.method === 'HEAD' ? undefined : body);
  });
  const { port } = await listenOnLoopback(server);
  return {
    url: `http://127.0.0.1:${port}/oauth2/v1/certs`,
    hits: () => hits,
    close: () =>
      new Promise<void>((resolve, reject) => {
        if (!server.listening) return resolve();
        server.closeAllConnections();
        server.close((error) => (error ? reject(error) : resolve()));
      }),
  };
}
