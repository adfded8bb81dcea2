/** Google's JSON error envelope, as the real APIs send it (and as gaxios turns it into a GaxiosError). */

export interface Reply {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

const STATUS_NAMES: Record<number, string> = {
  400: 'INVALID_ARGUMENT',
  401: 'UNAUTHENTICATED',
  403: 'PERMISSION_DENIED',
  404: 'NOT_FOUND',
  409: 'ABORTED',
  413: 'FAILED_PRECONDITION',
  429: 'RESOURCE_EXHAUSTED',
  500: 'INTERNAL',
  502: 'UNAVAILABLE',
  503: 'UNAVAILABLE',
  504: 'DEADLINE_EXCEEDED',
};

export function googleError(status: number, message: string, reason: string, headers?: Record<string, string>): Reply {
  return {
    status,
    headers,
    body: {
      error: {
        code: status,
        message,
        errors: [{ message, domain: 'global', reason }],
        status: STATUS_NAMES[status] ?? 'UNKNOWN',
      },
    },
  };
}

export const notFound = (): Reply => googleError(404, 'Requested entity was not found.', 'notFound');

export const badRequest = (message: string): Reply => googleError(400, message, 'invalidArgument');

export const unauthenticated = (): Reply =>
  googleError(
    401,
    'Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential.',
    'authError',
    { 'WWW-Authenticate': 'Bearer realm="https://accounts.google.com/", error="invalid_token"' },
  );

/** The failure `failNext` injects, shaped like Gmail's own 429 / 5xx answers. */
export function injectedFailure(status: number, retryAfterSeconds?: number): Reply {
  const headers = retryAfterSeconds !== undefined ? { 'Retry-After': String(retryAfterSeconds) } : undefined;
  if (status === 429) return googleError(429, 'Too many concurrent requests for user.', 'rateLimitExceeded', headers);
  if (status === 403) return googleError(403, 'User-rate limit exceeded.', 'userRateLimitExceeded', headers);
  if (status >= 500) return googleError(status, 'Backend Error', 'backendError', headers);
  return googleError(status, 'Injected failure', 'failedPrecondition', headers);
}
