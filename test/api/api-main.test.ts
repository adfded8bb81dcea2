import { createHmac } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import { spawnTs } from '../support/processes';
import { dropPrefix, freePort, redisUrl, startPrivateRedis, uniquePrefix } from '../support/redis';
import { copyTemplateDatabase } from '../support/db';

const ENTRY = 'apps/api/src/main.ts';
const SECRET = 'main-test-clickup-secret';

describe('apps/api/src/main.ts', () => {
  it('refuses to start on bad configuration, naming every bad variable in one message', async () => {
    const proc = spawnTs(ENTRY, {
      SLACK_BOT_TOKEN: 'xoxp-1',
      REDIS_URL: 'http://x',
      PORT: '99999',
      PUBSUB_AUDIENCE: 'https://parley.example.com/webhooks/gmail',
      PUBSUB_SERVICE_ACCOUNT: 'push@p.iam.gserviceaccount.com',
      CLICKUP_WEBHOOK_SECRET: SECRET,
    });
    const code = await proc.exited;
    expect(code).not.toBe(0);
    const out = proc.output();
    expect(out).toMatch(/Invalid configuration \(3 problems\)/);
    for (const name of ['SLACK_BOT_TOKEN', 'REDIS_URL', 'PORT']) expect(out).toContain(name);
    // One message, and the rejected token itself is not echoed.
    expect(out.match(/Invalid configuration/g)).toHaveLength(1);
    expect(out).not.toContain('xoxp-1');
  });

  it('starts, serves, and on SIGTERM finishes the request in flight before exiting 0', async () => {
    const { dir, url: databaseUrl } = copyTemplateDatabase('api-main');
    const prefix = uniquePrefix('api-main');
    const port = await freePort();
    const proc = spawnTs(ENTRY, {
      REDIS_URL: redisUrl(),
      DATABASE_URL: databaseUrl,
      PORT: String(port),
      QUEUE_PREFIX: prefix,
      PUBSUB_AUDIENCE: 'https://parley.example.com/webhooks/gmail',
      PUBSUB_SERVICE_ACCOUNT: 'push@p.iam.gserviceaccount.com',
      CLICKUP_WEBHOOK_SECRET: SECRET,
      SHUTDOWN_GRACE_MS: '10000',
    });
    try {
      const line = await proc.waitForLine(/api listening/, 30_000);
      expect(line).toContain(String(port));
      expect((await fetch(`http://127.0.0.1:${port}/health/liveness`)).status).toBe(200);

      // A webhook whose body is still arriving when SIGTERM lands.
      const body = JSON.stringify({ event: 'taskCreated', task_id: 'task-9', webhook_id: 'wh-9', history_items: [{ id: 'h-9' }] });
      const half = Math.floor(body.length / 2);
      const answer = new Promise<{ status: number; text: string }>((resolve, reject) => {
        const req = http.request(
          {
            host: '127.0.0.1',
            port,
            path: '/webhooks/clickup',
            method: 'POST',
            headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), 'x-signature': createHmac('sha256', SECRET).update(body).digest('hex') },
          },
          (res) => {
            let text = '';
            res.on('data', (c: Buffer) => (text += c.toString()));
            res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
          },
        );
        req.on('error', reject);
        req.write(body.slice(0, half), () => {
          proc.child.kill('SIGTERM');
          void proc.waitForLine(/api stopping/).then(() => req.end(body.slice(half)), reject);
        });
      });
      expect(await answer).toEqual({ status: 200, text: '{"ok":true}' });
      expect(await proc.exited).toBe(0);
      expect(proc.output()).toMatch(/"drained":true.*"message":"api stopped"/);
    } finally {
      if (proc.child.exitCode === null) proc.child.kill('SIGKILL');
      await dropPrefix(redisUrl(), prefix);
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('exits within SHUTDOWN_GRACE_MS + 3 s when Redis stops answering, naming what was still open', async () => {
    const { dir, url: databaseUrl } = copyTemplateDatabase('api-main');
    const redis = await startPrivateRedis();
    const port = await freePort();
    const graceMs = 1000;
    const proc = spawnTs(ENTRY, {
      REDIS_URL: redis.url,
      DATABASE_URL: databaseUrl,
      PORT: String(port),
      QUEUE_PREFIX: uniquePrefix('api-main'),
      PUBSUB_AUDIENCE: 'https://parley.example.com/webhooks/gmail',
      PUBSUB_SERVICE_ACCOUNT: 'push@p.iam.gserviceaccount.com',
      CLICKUP_WEBHOOK_SECRET: SECRET,
      SHUTDOWN_GRACE_MS: String(graceMs),
    });
    try {
      await proc.waitForLine(/api listening/, 30_000);
      expect((await fetch(`http://127.0.0.1:${port}/health/liveness`)).status).toBe(200);
      // Frozen, not dead: the connection stays up and QUIT is never answered.
      redis.process.kill('SIGSTOP');
      const signalledAt = Date.now();
      proc.child.kill('SIGTERM');
      let timer: NodeJS.Timeout | undefined;
      const code = await Promise.race([proc.exited, new Promise((resolve) => (timer = setTimeout(() => resolve('still running'), 40_000)))]);
      clearTimeout(timer);
      const tookMs = Date.now() - signalledAt;
      expect({ code, tail: code === 'still running' ? proc.output().slice(-1500) : '' }).toEqual({ code: 1, tail: '' });
      expect(tookMs).toBeGreaterThanOrEqual(graceMs + 3000 - 100);
      expect(tookMs).toBeLessThan(graceMs + 3000 + 6000);
      const line = proc.output().split('\n').find((l) => l.includes('shutdown deadline passed'));
      expect(JSON.parse(line ?? '{}')).toMatchObject({ open: [expect.stringMatching(/queues|redis/)] });
    } finally {
      if (proc.child.exitCode === null) proc.child.kill('SIGKILL');
      await proc.exited;
      redis.process.kill('SIGCONT');
      await redis.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }, 90_000);
});
