import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocket, WebSocketServer } from 'ws';
import { listenOnLoopback } from '../listen';
import { blockActionPayload, slashCommandFields, SANDBOX_WORKSPACE, type BlockActionInput, type SlashCommandInput } from './interactions.sender';

export type EnvelopeType = 'slash_commands' | 'interactive' | 'events_api';

export interface Delivery {
  envelopeId: string;
  /** What the app put in its ack (a command's reply), if anything. */
  ackPayload: unknown;
  /** Milliseconds from sending the envelope until its ack arrived. */
  ackMs: number;
}

export interface SocketModeServerOptions {
  /** Pings keep the client's server-ping watchdog (30 s) satisfied. @defaultValue 5000 */
  pingIntervalMs?: number;
}

export interface SocketModeServer {
  /** A fresh single-use `ws://127.0.0.1:<port>/link/?ticket=…`, what apps.connections.open returns. */
  connectionUrl: () => string;
  /** Connections that completed the handshake (got `hello`) so far, including closed ones. */
  connectionCount: () => number;
  /** Whether a connection is open now. */
  connected: () => boolean;
  /** Resolves once `count` connections have been made in total (a reconnect makes one more). */
  waitForConnections: (count: number, timeoutMs?: number) => Promise<void>;
  /** Sends an envelope on the open connection and resolves when the app acks it. */
  send: (type: EnvelopeType, payload: Record<string, unknown>, timeoutMs?: number) => Promise<Delivery>;
  command: (input: SlashCommandInput, timeoutMs?: number) => Promise<Delivery>;
  action: (input: BlockActionInput, timeoutMs?: number) => Promise<Delivery>;
  /** Cuts the connection without a close handshake, as a network failure would. */
  drop: () => void;
  /** Asks the client to reconnect, as Slack does before it rotates a connection. */
  refresh: () => void;
  close: () => Promise<void>;
}

interface PendingAck {
  resolve: (d: Delivery) => void;
  reject: (e: Error) => void;
  sentAt: number;
  timer: NodeJS.Timeout;
}

/**
 * Slack's Socket Mode end: apps.connections.open hands out a ticketed ws:// URL; on connect the
 * server sends `{"type":"hello"}`, then envelopes, and each is done when the app answers with
 * `{"envelope_id": …}` within the envelope's lifetime. Tickets are single-use.
 */
export async function startSocketModeServer(options: SocketModeServerOptions = {}): Promise<SocketModeServer> {
  const http = createServer((_req, res) => {
    res.writeHead(426, { 'content-type': 'text/plain' }).end('upgrade required');
  });
  const wss = new WebSocketServer({ noServer: true, maxPayload: 1024 * 1024 });
  const tickets = new Set<string>();
  const pending = new Map<string, PendingAck>();
  const waiters: { count: number; resolve: () => void }[] = [];
  let current: WebSocket | null = null;
  let made = 0;

  http.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const ticket = url.searchParams.get('ticket') ?? '';
    if (url.pathname !== '/link/' || !tickets.delete(ticket)) {
      socket.end('HTTP/1.1 401 Unauthorized\r\nConnection: close\r\n\r\n');
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws));
  });

  wss.on('connection', (ws: WebSocket) => {
    // Slack keeps one app connection per ticket; a newer one replaces the older here.
    if (current && current !== ws) current.terminate();
    current = ws;
    made += 1;
    ws.on('message', (data) => {
      let ack: { envelope_id?: unknown; payload?: unknown };
      try {
        ack = JSON.parse(String(data)) as typeof ack;
      } catch {
        return;
      }
      if (typeof ack.envelope_id !== 'string') return;
      const waiting = pending.get(ack.envelope_id);
      if (!waiting) return;
      pending.delete(ack.envelope_id);
      clearTimeout(waiting.timer);
      waiting.resolve({ envelopeId: ack.envelope_id, ackPayload: ack.payload, ackMs: Date.now() - waiting.sentAt });
    });
    ws.on('close', () => {
      if (current === ws) current = null;
    });
    ws.on('error', () => undefined);
    ws.send(JSON.stringify({ type: 'hello', num_connections: 1, debug_info: { host: 'sandbox', approximate_connection_time: 3600 }, connection_info: { app_id: SANDBOX_WORKSPACE.apiAppId } }));
    for (const w of waiters.filter((x) => made >= x.count)) {
      waiters.splice(waiters.indexOf(w), 1);
      w.resolve();
    }
  });

  const ping = setInterval(() => {
    if (current?.readyState === WebSocket.OPEN) current.ping();
  }, options.pingIntervalMs ?? 5000);
  ping.unref();

  const { url } = await listenOnLoopback(http);
  const wsBase = url.replace(/^http:/, 'ws:');

  const send = (type: EnvelopeType, payload: Record<string, unknown>, timeoutMs = 10_000): Promise<Delivery> => {
    const ws = current;
    if (!ws || ws.readyState !== WebSocket.OPEN) return Promise.reject(new Error('no Socket Mode connection is open'));
    const envelopeId = randomUUID();
    return new Promise<Delivery>((resolve, reject) => {
      const timer = setTimeout(() => {
        pending.delete(envelopeId);
        reject(new Error(`envelope ${envelopeId} (${type}) was not acked within ${timeoutMs} ms`));
      }, timeoutMs);
      pending.set(envelopeId, { resolve, reject, sentAt: Date.now(), timer });
      ws.send(JSON.stringify({ envelope_id: envelopeId, type, payload, accepts_response_payload: type !== 'events_api', retry_attempt: 0, retry_reason: '' }));
    });
  };

  return {
    connectionUrl: () => {
      const ticket = randomUUID();
      tickets.add(ticket);
      return `${wsBase}/link/?ticket=${ticket}&app_id=${SANDBOX_WORKSPACE.apiAppId}`;
    },
    connectionCount: () => made,
    connected: () => current?.readyState === WebSocket.OPEN,
    waitForConnections: (count, timeoutMs = 15_000) =>
      made >= count
        ? Promise.resolve()
        : new Promise<void>((resolve, reject) => {
            const entry = { count, resolve: () => (clearTimeout(timer), resolve()) };
            const timer = setTimeout(() => {
              waiters.splice(waiters.indexOf(entry), 1);
              reject(new Error(`timed out after ${timeoutMs} ms waiting for Socket Mode connection #${count} (have ${made})`));
            }, timeoutMs);
            waiters.push(entry);
          }),
    send,
    command: (input, timeoutMs) => send('slash_commands', slashCommandFields(input), timeoutMs),
    action: (input, timeoutMs) => send('interactive', blockActionPayload(input), timeoutMs),
    drop: () => current?.terminate(),
    refresh: () => current?.send(JSON.stringify({ type: 'disconnect', reason: 'refresh_requested', debug_info: { host: 'sandbox' } })),
    close: async () => {
      clearInterval(ping);
      for (const [id, p] of pending) {
        clearTimeout(p.timer);
        p.reject(new Error(`Socket Mode server closed before envelope ${id} was acked`));
      }
      pending.clear();
      for (const client of wss.clients) client.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
      http.closeAllConnections();
      await new Promise<void>((resolve) => http.close(() => resolve()));
    },
  };
}
