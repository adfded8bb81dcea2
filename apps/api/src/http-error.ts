/** Outcome label of `parley_webhooks_received_total` for a webhook request. */
export type WebhookOutcome = 'accepted' | 'duplicate' | 'ignored' | 'malformed' | 'unauthorized' | 'too_large' | 'unavailable' | 'error';

/**
 * An error whose status and message are safe to show the caller. Anything else that reaches
 * the error handler is answered with a bare 500.
 */
export class HttpError extends Error {
  override name = 'HttpError';
  constructor(
    public readonly status: number,
    /** Public text: it is sent to the caller, so it never carries input, paths or secrets. */
    public readonly publicMessage: string,
    public readonly outcome?: WebhookOutcome,
  ) {
    super(publicMessage);
  }
}

export const badRequest = (message: string) => new HttpError(400, message, 'malformed');
export const unauthorized = () => new HttpError(401, 'unauthorized', 'unauthorized');
export const unavailable = (message: string) => new HttpError(503, message, 'unavailable');

export function outcomeForStatus(status: number): WebhookOutcome {
  if (status === 204 || status === 200) return 'accepted';
  if (status === 400) return 'malformed';
  if (status === 401) return 'unauthorized';
  if (status === 413) return 'too_large';
  if (status === 503) return 'unavailable';
  return 'error';
}

export class TimeoutError extends Error {
  override name = 'TimeoutError';
}

/**
 * Bounds a promise. The original keeps running (its rejection is swallowed so it cannot
 * surface as unhandled); callers use this where answering late is worse than answering "retry".
 */
export function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  promise.catch(() => undefined);
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new TimeoutError(`${what} timed out after ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
