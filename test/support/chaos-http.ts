import net from 'node:net';

export interface RawAnswer {
  /** The status of the first response line, or null when the server closed or timed out without one. */
  status: number | null;
  /** `closed` when the connection ended without a status line, `timeout` when nothing came in time. */
  outcome: 'answered' | 'closed' | 'timeout' | 'error';
  /** The head of the response (status line and headers), for reports. */
  head: string;
  ms: number;
}

/**
 * Writes `request` as given on a fresh TCP connection (no client library in between, so
 * malformed request lines, headers, lengths and encodings reach the server exactly as
 * written) and reads the response's status line and headers. `chunks` > 1 writes the
 * request in that many pieces; `endAfterWrite` half-closes the socket once written.
 */
export function rawHttp(port: number, request: Buffer, options: { timeoutMs?: number; chunks?: number; endAfterWrite?: boolean } = {}): Promise<RawAnswer> {
  const started = Date.now();
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    let received = Buffer.alloc(0);
    let settled = false;
    const finish = (outcome: RawAnswer['outcome']) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      const text = received.toString('latin1');
      const headEnd = text.indexOf('\r\n\r\n');
      const head = headEnd >= 0 ? text.slice(0, headEnd) : text.slice(0, 2000);
      const match = /^HTTP\/1\.[01] (\d{3})/.exec(text);
      socket.destroy();
      resolve({ status: match ? Number(match[1]) : null, outcome: match ? 'answered' : outcome, head, ms: Date.now() - started });
    };
    const timer = setTimeout(() => finish('timeout'), options.timeoutMs ?? 15_000);
    socket.on('data', (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      // An interim 1xx (100 Continue) precedes the real answer: drop it and keep reading.
      for (;;) {
        const end = received.indexOf('\r\n\r\n');
        if (end < 0) return;
        if (!/^HTTP\/1\.[01] 1\d\d/.test(received.toString('latin1', 0, 16))) break;
        received = received.subarray(end + 4);
      }
      finish('answered');
    });
    socket.on('end', () => finish('closed'));
    socket.on('close', () => finish('closed'));
    socket.on('error', () => finish('error'));
    socket.on('connect', () => {
      const pieces = Math.max(1, options.chunks ?? 1);
      const size = Math.ceil(request.length / pieces);
      for (let i = 0; i < request.length; i += size) socket.write(request.subarray(i, i + size));
      if (request.length === 0) socket.write(Buffer.alloc(0));
      if (options.endAfterWrite) socket.end();
    });
  });
}

/** An HTTP/1.1 request assembled from parts; a Content-Length matching the body is added unless `headers` has one or `noLength`. */
export function buildRequest(method: string, target: string | Buffer, headers: Array<[string, string | Buffer]>, body: Buffer, options: { noLength?: boolean } = {}): Buffer {
  const lines: Buffer[] = [Buffer.from(`${method} `, 'latin1'), Buffer.isBuffer(target) ? target : Buffer.from(target, 'utf8'), Buffer.from(' HTTP/1.1\r\n', 'latin1')];
  const names = new Set(headers.map(([n]) => n.toLowerCase()));
  const all: Array<[string, string | Buffer]> = [['Host', '127.0.0.1'], ...headers];
  if (!names.has('content-length') && !names.has('transfer-encoding') && !options.noLength && (body.length > 0 || !['GET', 'HEAD'].includes(method))) {
    all.push(['Content-Length', String(body.length)]);
  }
  all.push(['Connection', 'close']);
  for (const [name, value] of all) lines.push(Buffer.from(`${name}: `, 'latin1'), Buffer.isBuffer(value) ? value : Buffer.from(value, 'latin1'), Buffer.from('\r\n'));
  lines.push(Buffer.from('\r\n'), body);
  return Buffer.concat(lines);
}
