import { STATUS_CODES } from 'node:http';
import net from 'node:net';
import zlib from 'node:zlib';
import { Agent, buildConnector, request, type Dispatcher } from 'undici';

/** A response body longer than the caller allows; nothing past the limit was read. */
export class ResponseTooLargeError extends Error {
  override name = 'ResponseTooLargeError';
  constructor(readonly limitBytes: number) {
    super(`the answer is larger than ${limitBytes} bytes`);
  }
}

/**
 * `fetch` whose response bodies are read up to `limitBytes` and no further: a declared length
 * over the limit is refused before the body is read, and a body that grows past it (chunked,
 * or lying about its length, or inflating past it once decoded) is cut off at the first chunk
 * that crosses it. The answer is handed on as a Response over the bytes read, decoded, so a
 * client built on it (gaxios, the Anthropic SDK) parses at most `limitBytes`.
 *
 * Without `inner`, requests go out through undici's `request` on a keep-alive pool of their own
 * instead of Node's `fetch`: the same undici underneath, without fetch's Request, stream and
 * abort-signal machinery (about half of a request's client-side CPU, and a fifth of a busy
 * worker's; docs/benchmarks.md). It keeps what the clients rely on from fetch: the method,
 * headers and a string, byte or URLSearchParams body as given (with fetch's default Accept,
 * Accept-Encoding and form content type), the caller's AbortSignal (rejecting with its reason),
 * network failures as `TypeError('fetch failed', { cause })`, gzip, deflate and br bodies
 * decoded. It does not follow redirects (the APIs it serves answer none; a 3xx is handed on as
 * it came). A request it cannot send that way (a Request object, a streamed or multipart
 * body, a URL that is not http or https) goes through `fetch` and the same bounded read.
 */
export function boundedFetch(limitBytes: number, inner?: typeof fetch): typeof fetch {
  const viaFetch = boundedWebFetch(limitBytes, inner ?? fetch);
  if (inner !== undefined) return viaFetch;
  // async: a request that cannot be built (a header value with a newline) rejects, as fetch does.
  return async (input, init) => {
    const plain = plainRequest(input, init);
    return plain ? leanFetch(plain, limitBytes) : viaFetch(input, init);
  };
}

/** Answers that carry no body whatever their headers say (a HEAD's length is the GET's). */
function bodiless(method: string, status: number): boolean {
  return method === 'HEAD' || status === 204 || status === 205 || status === 304;
}

/** The bounded read over a fetch implementation's own Response. */
function boundedWebFetch(limitBytes: number, inner: typeof fetch): typeof fetch {
  return async (input, init) => {
    const response = await inner(input, init);
    const declared = Number(response.headers.get('content-length'));
    const method = (init?.method ?? (input instanceof Request ? input.method : 'GET')).toUpperCase();
    if (Number.isFinite(declared) && declared > limitBytes && !bodiless(method, response.status)) {
      await response.body?.cancel().catch(() => undefined);
      throw new ResponseTooLargeError(limitBytes);
    }
    if (!response.body) return response;
    const reader = response.body.getReader();
    const chunks: Uint8Array[] = [];
    let total = 0;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      total += value.byteLength;
      if (total > limitBytes) {
        await reader.cancel().catch(() => undefined);
        throw new ResponseTooLargeError(limitBytes);
      }
      chunks.push(value);
    }
    const headers = new Headers(response.headers);
    // The bytes are decoded already; their length is what was read.
    headers.delete('content-encoding');
    headers.set('content-length', String(total));
    return new BufferedResponse(Buffer.concat(chunks), response.status, response.statusText, headers, response.url);
  };
}

interface PlainRequest {
  url: URL;
  method: string;
  headers: Record<string, string>;
  body: string | Uint8Array | undefined;
  signal: AbortSignal | undefined;
}

/** The request as undici's `request` takes it, or undefined when only fetch can send it. */
function plainRequest(input: Parameters<typeof fetch>[0], init: RequestInit | undefined): PlainRequest | undefined {
  if (typeof input !== 'string' && !(input instanceof URL)) return undefined;
  let url: URL;
  try {
    url = new URL(input);
  } catch {
    return undefined;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return undefined;
  const headers = new Headers(init?.headers);
  let body: string | Uint8Array | undefined;
  const given = init?.body;
  if (given === undefined || given === null) body = undefined;
  else if (typeof given === 'string') {
    body = given;
    if (!headers.has('content-type')) headers.set('content-type', 'text/plain;charset=UTF-8');
  } else if (given instanceof URLSearchParams) {
    body = given.toString();
    if (!headers.has('content-type')) headers.set('content-type', 'application/x-www-form-urlencoded;charset=UTF-8');
  } else if (given instanceof ArrayBuffer) body = new Uint8Array(given);
  else if (ArrayBuffer.isView(given)) body = new Uint8Array(given.buffer, given.byteOffset, given.byteLength);
  else return undefined;
  // What fetch adds when the caller did not say.
  if (!headers.has('accept')) headers.set('accept', '*/*');
  if (!headers.has('accept-encoding')) headers.set('accept-encoding', 'gzip, deflate, br');
  return { url, method: (init?.method ?? 'GET').toUpperCase(), headers: Object.fromEntries(headers), body, signal: init?.signal ?? undefined };
}

/**
 * undici's connector, except that a connection ended by a failure (the caller aborted, a
 * timeout, a broken answer) is reset instead of closed: the kernel drops whatever of the request
 * it still holds instead of delivering it later. A request given up on must not reach the server
 * afterwards: a Gmail send that timed out while its host was cut off would otherwise be
 * delivered when the link returns, after the job's next run found no such email and sent it
 * (docs/reliability.md). A connection closed in the ordinary way (idle, or after a complete
 * answer) still closes with a FIN. For TLS the reset is on the TCP socket under it.
 */
export function resettingConnector(options: buildConnector.BuildOptions = {}): buildConnector.connector {
  const connect = buildConnector(options);
  return (opts, callback) => {
    if (opts.protocol !== 'https:' || opts.httpSocket || opts.socketPath) {
      connect(opts, (error, socket) => {
        if (socket) resetOnFailure(socket, socket);
        callback(error as Error, socket as null);
      });
      return;
    }
    const tcp = net.connect({ host: opts.hostname, port: Number(opts.port) || 443, ...(opts.localAddress ? { localAddress: opts.localAddress } : {}) });
    tcp.setNoDelay(true);
    connect({ ...opts, httpSocket: tcp }, (error, socket) => {
      if (socket) resetOnFailure(socket, tcp);
      else tcp.destroy();
      callback(error as Error, socket as null);
    });
  };
}

/** The TCP connections the resetting connectors made that are still open. */
const openConnections = new Set<net.Socket>();

/**
 * Resets every connection the resetting connectors still hold. Run when the process exits
 * (however it exits, short of a signal that kills it): a request still in flight then, such as a
 * send held past the shutdown grace, would otherwise stay in the kernel and be delivered after
 * the process is gone.
 */
function resetOpenConnections(): void {
  for (const tcp of openConnections) {
    if (tcp.destroyed || tcp.connecting) continue;
    try {
      tcp.resetAndDestroy();
    } catch {
      // Not a TCP handle: the kernel closes it the ordinary way.
    }
  }
  openConnections.clear();
}

let resetAtExit = false;

/**
 * undici ends a connection with an error in every case but two ordinary ones: a complete answer
 * after which the connection is not kept ('reset') and an idle pool connection ('socket idle
 * timeout'), both InformationalErrors.
 */
function resetOnFailure(socket: net.Socket, tcp: net.Socket): void {
  openConnections.add(tcp);
  tcp.once('close', () => openConnections.delete(tcp));
  if (!resetAtExit) {
    resetAtExit = true;
    process.once('exit', resetOpenConnections);
  }
  const destroy = socket.destroy.bind(socket);
  // resetAndDestroy() ends in destroy() without the error; the error is handed on from here.
  let failure: Error | undefined;
  socket.destroy = (error?: Error) => {
    if (failure !== undefined) {
      const pending = failure;
      failure = undefined;
      return destroy(pending);
    }
    const ordinary = error === undefined || ((error as { code?: unknown }).code === 'UND_ERR_INFO' && error.message !== 'aborted');
    if (!ordinary && !tcp.destroyed && !tcp.connecting) {
      try {
        failure = tcp === socket ? error : undefined;
        tcp.resetAndDestroy();
        if (tcp === socket) return socket;
      } catch {
        // Not a TCP handle (a Unix socket): closed the ordinary way below.
        failure = undefined;
      }
    }
    return destroy(error);
  };
}

/** One pool for every client in the process, as fetch's global dispatcher is. */
let pool: Agent | undefined;

async function leanFetch(req: PlainRequest, limitBytes: number): Promise<Response> {
  pool ??= new Agent({ keepAliveTimeout: 4_000, connect: resettingConnector() });
  let answer: Dispatcher.ResponseData;
  try {
    answer = await request(req.url, { method: req.method as Dispatcher.HttpMethod, headers: req.headers, body: req.body, signal: req.signal, dispatcher: pool });
  } catch (error) {
    throw fetchError(error, req.signal);
  }
  const headers = new Headers();
  try {
    for (const [name, value] of Object.entries(answer.headers)) {
      if (Array.isArray(value)) for (const v of value) headers.append(name, v);
      else if (value !== undefined) headers.append(name, value);
    }
    // A Response holds 200-599 only (fetch hands on any three digits); anything else is a broken server.
    if (answer.statusCode < 200 || answer.statusCode > 599) throw new RangeError(`status ${answer.statusCode}`);
  } catch (error) {
    discard(answer.body);
    throw new TypeError('fetch failed', { cause: error });
  }
  const empty = bodiless(req.method, answer.statusCode);
  const declared = Number(headers.get('content-length') ?? NaN);
  if (Number.isFinite(declared) && declared > limitBytes && !empty) {
    discard(answer.body);
    throw new ResponseTooLargeError(limitBytes);
  }
  const chunks: Buffer[] = [];
  let total = 0;
  try {
    for await (const chunk of answer.body as AsyncIterable<Buffer>) {
      total += chunk.byteLength;
      if (total > limitBytes) {
        discard(answer.body);
        throw new ResponseTooLargeError(limitBytes);
      }
      chunks.push(chunk);
    }
  } catch (error) {
    if (error instanceof ResponseTooLargeError) throw error;
    throw fetchError(error, req.signal);
  }
  let bytes = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, total);
  // Decoded as fetch decodes: every coding known, else the bytes as they came; nothing to decode
  // in an empty body (a 204, a HEAD) whatever its headers say.
  const encodings = (headers.get('content-encoding') ?? '').split(',').map((e) => e.trim().toLowerCase()).filter((e) => e !== '' && e !== 'identity');
  if (!empty && bytes.byteLength > 0 && encodings.length > 0 && encodings.every((e) => DECODERS.has(e))) {
    for (const encoding of encodings.reverse()) bytes = await decode(DECODERS.get(encoding)!, bytes, limitBytes);
    // An abort that came while decoding ends the call as one during the body would.
    if (req.signal?.aborted) throw req.signal.reason;
    headers.delete('content-encoding');
  }
  if (!empty) headers.set('content-length', String(bytes.byteLength));
  return new BufferedResponse(empty ? null : bytes, answer.statusCode, STATUS_CODES[answer.statusCode] ?? '', headers, req.url.href);
}

const UTF8 = new TextDecoder();

/**
 * leanFetch's answer: a Response over a body already read whole. undici's Response would put
 * the bytes in a web stream again, for the client to read them back out of it: about 5% of a
 * busy worker's CPU for the Gmail and Anthropic answers (docs/benchmarks.md). This one reads
 * them as they are. It is a Response in every member (the clients are typed against fetch's
 * Response and use them: gaxios `text`, `json`, `arrayBuffer`, `blob`, `body` for a stream; the
 * Anthropic SDK `json`, `text`, `body`): a body is read once (`bodyUsed`, then a TypeError),
 * `clone` shares the bytes, and `body` is a byte stream made when first asked for, which
 * reading the body another way then locks, as it would be.
 */
class BufferedResponse implements Response {
  readonly ok: boolean;
  readonly redirected = false;
  readonly type: Response['type'] = 'basic';
  #used = false;
  #stream: ReadableStream<Uint8Array> | undefined;
  // A private field, not a property: logging or inspecting the response (an error that holds
  // it) shows no body, as with fetch's Response.
  readonly #content: Buffer | null;

  constructor(
    content: Buffer | null,
    readonly status: number,
    readonly statusText: string,
    readonly headers: Headers,
    readonly url: string,
  ) {
    this.#content = content;
    this.ok = status >= 200 && status <= 299;
  }

  get body(): ReadableStream<Uint8Array> | null {
    if (this.#content === null) return null;
    if (!this.#stream) {
      const copy = new Uint8Array(this.#content);
      this.#stream = new ReadableStream({
        type: 'bytes',
        start(controller) {
          if (copy.byteLength > 0) controller.enqueue(copy);
          controller.close();
        },
      });
      // Read already (text() and the rest): the stream is as used as the body.
      if (this.#used) this.#stream.getReader();
    }
    return this.#stream;
  }

  /** Read, or its stream taken by a reader (fetch says used once the stream is disturbed). */
  get bodyUsed(): boolean {
    return this.#used || (this.#stream?.locked ?? false);
  }

  /** The bytes, once: a second read is refused as fetch refuses it, and so is reading a body whose stream is being read. */
  #take(): Buffer {
    if (this.#used || this.#stream?.locked) throw new TypeError('Body is unusable: Body has already been read');
    this.#used = true;
    this.#stream?.getReader();
    return this.#content ?? Buffer.alloc(0);
  }

  async arrayBuffer(): Promise<ArrayBuffer> {
    const bytes = this.#take();
    return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
  }

  async blob(): Promise<Blob> {
    // Rare (no client here asks for one): fetch's own, for its reading of the type.
    return new Response(this.#take(), { headers: this.headers }).blob();
  }

  async formData(): Promise<FormData> {
    this.#take();
    throw new TypeError('Response.formData: not a form body');
  }

  async text(): Promise<string> {
    return UTF8.decode(this.#take());
  }

  async json(): Promise<unknown> {
    return JSON.parse(await this.text()) as unknown;
  }

  clone(): Response {
    if (this.#used || this.#stream?.locked) throw new TypeError('Response.clone: Body has already been consumed.');
    return new BufferedResponse(this.#content, this.status, this.statusText, new Headers(this.headers), this.url);
  }
}

/** Ends a body not read to its end (its connection closes); the abort it reports is expected. */
function discard(body: Dispatcher.ResponseData['body']): void {
  body.on('error', () => undefined);
  body.destroy();
}

type Decoder = (input: Buffer, options: { maxOutputLength: number }, callback: (error: Error | null, result: Buffer) => void) => void;
/** `deflate` is zlib-wrapped by the standard and raw from some servers: undici tells them apart by the first byte. */
const inflateEither: Decoder = (input, options, callback) => ((input[0]! & 0x0f) === 8 ? zlib.inflate : zlib.inflateRaw)(input, options, callback);
// A Map: a coding named after an Object property ("constructor") must not find one.
const DECODERS: ReadonlyMap<string, Decoder> = new Map<string, Decoder>([
  ['gzip', zlib.gunzip],
  ['x-gzip', zlib.gunzip],
  ['deflate', inflateEither],
  ['br', zlib.brotliDecompress],
]);

/** Decodes off the event loop (zlib's thread pool), refusing output past the limit. */
function decode(decoder: Decoder, input: Buffer, limitBytes: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    decoder(input, { maxOutputLength: limitBytes }, (error, result) => {
      if (error === null) resolve(result);
      else if ((error as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') reject(new ResponseTooLargeError(limitBytes));
      else reject(new TypeError('fetch failed', { cause: error }));
    });
  });
}

/** As fetch rejects: with the signal's reason when the caller aborted, else a TypeError over the cause. */
function fetchError(error: unknown, signal: AbortSignal | undefined): unknown {
  if (signal?.aborted) return signal.reason;
  return new TypeError('fetch failed', { cause: error });
}

/** The ResponseTooLargeError behind an error (gaxios wraps what its fetch throws), if any. */
export function responseTooLarge(error: unknown): ResponseTooLargeError | undefined {
  let current: unknown = error;
  for (let depth = 0; depth < 5 && current !== null && typeof current === 'object'; depth += 1) {
    if (current instanceof ResponseTooLargeError) return current;
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}
