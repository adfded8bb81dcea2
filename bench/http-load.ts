/**
 * A load generator in a process of its own (so it does not share the server's event loop):
 * `connections` keep-alive sockets, each sending signed ClickUp webhooks one after the other
 * for `durationMs`, every body unique (a new task id). Prints one JSON line: requests, errors,
 * statuses, requests/s and latency percentiles in ms.
 * Run: tsx bench/http-load.ts <url> <connections> <durationMs> <secret> <tag>
 */
import { createHmac } from 'node:crypto';
import http from 'node:http';
import { performance } from 'node:perf_hooks';
import { percentile } from './bench-support';

const [url = '', connectionsArg = '50', durationArg = '5000', secret = '', tag = 'x'] = process.argv.slice(2);
const connections = Number(connectionsArg);
const durationMs = Number(durationArg);
const target = new URL(url);
const agent = new http.Agent({ keepAlive: true, maxSockets: connections });

function post(i: number): Promise<number> {
  const body = JSON.stringify({ event: 'taskStatusUpdated', task_id: `t-${tag}-${i}`, webhook_id: 'wh-bench', history_items: [{ id: `h-${tag}-${i}` }] });
  const signature = createHmac('sha256', secret).update(body).digest('hex');
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: target.hostname, port: target.port, path: target.pathname, method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), 'x-signature': signature } },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

async function main(): Promise<void> {
  const latencies: number[] = [];
  const statuses: Record<string, number> = {};
  let errors = 0;
  let next = 0;
  const started = performance.now();
  const until = started + durationMs;
  await Promise.all(
    Array.from({ length: connections }, async () => {
      while (performance.now() < until) {
        const t0 = performance.now();
        try {
          const status = await post(next++);
          statuses[status] = (statuses[status] ?? 0) + 1;
          latencies.push(performance.now() - t0);
        } catch {
          errors += 1;
        }
      }
    }),
  );
  const elapsed = performance.now() - started;
  latencies.sort((a, b) => a - b);
  agent.destroy();
  process.stdout.write(`${JSON.stringify({ requests: latencies.length, errors, statuses, perSec: (latencies.length / elapsed) * 1000, p50: percentile(latencies, 50), p90: percentile(latencies, 90), p99: percentile(latencies, 99), max: latencies.at(-1) ?? NaN })}\n`);
}

void main();
