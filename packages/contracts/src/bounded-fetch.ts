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
 * or lying about its length) is cancelled at the first chunk that crosses it. The answer is
 * handed on as a new Response over the bytes read (already decoded by fetch), so a client built
 * on it (gaxios) parses at most `limitBytes`.
 */
export function boundedFetch(limitBytes: number, inner: typeof fetch = fetch): typeof fetch {
  return async (input, init) => {
    const response = await inner(input, init);
    const declared = Number(response.headers.get('content-length'));
    if (Number.isFinite(declared) && declared > limitBytes) {
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
    return new Response(Buffer.concat(chunks), { status: response.status, statusText: response.statusText, headers });
  };
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
