import { z } from 'zod';

/**
 * Faults the sandbox injects, one per call in the order queued: an HTTP error as the real API
 * sends it, a malformed tool input, a fixed tool input, a slow answer, or a dropped connection.
 */
export const anthropicFault = z
  .object({
    /** Answer with this status and the real API's error body for it. */
    status: z.number().int().min(400).max(599).optional(),
    /** 429: the `retry-after` header, in seconds. */
    retryAfter: z.number().nonnegative().optional(),
    /** 429: the `retry-after-ms` header. */
    retryAfterMs: z.number().nonnegative().optional(),
    /** 429 whose error.details.error_code is enforced_spend_limit_reached. */
    spendLimit: z.boolean().optional(),
    /** 200 with a tool_use whose input breaks the tool's schema. */
    invalidToolOutput: z.boolean().optional(),
    /** 200 with exactly this tool input (e.g. a draft stating another price). */
    toolInput: z.record(z.string(), z.unknown()).optional(),
    /** Wait this long before answering (combine with a short client timeout to see a timeout). */
    delayMs: z.number().int().min(0).max(600_000).optional(),
    /** Close the socket without answering (a connection reset). */
    dropConnection: z.boolean().optional(),
  })
  .strict();

export type AnthropicFault = z.input<typeof anthropicFault>;

export const faultList = z.union([z.array(anthropicFault), z.object({ faults: z.array(anthropicFault) }).transform((o) => o.faults)]);

const ERROR_TYPES: Record<number, string> = {
  400: 'invalid_request_error',
  401: 'authentication_error',
  402: 'billing_error',
  403: 'permission_error',
  404: 'not_found_error',
  408: 'timeout_error',
  409: 'conflict_error',
  413: 'request_too_large',
  429: 'rate_limit_error',
  500: 'api_error',
  504: 'timeout_error',
  529: 'overloaded_error',
};

const MESSAGES: Record<string, string> = {
  invalid_request_error: 'Your request is invalid.',
  authentication_error: 'invalid x-api-key',
  billing_error: 'Your credit balance is too low to access the Anthropic API.',
  permission_error: 'Your API key does not have permission to use the specified resource.',
  not_found_error: 'The requested resource could not be found.',
  request_too_large: 'Request exceeds the maximum allowed number of bytes.',
  rate_limit_error: 'This request would exceed the rate limit for your organization. Please try again later.',
  api_error: 'Internal server error',
  timeout_error: 'Request timed out',
  overloaded_error: 'Overloaded',
  conflict_error: 'Conflict',
};

export function errorTypeFor(status: number): string {
  return ERROR_TYPES[status] ?? (status >= 500 ? 'api_error' : 'invalid_request_error');
}

/** The API's error envelope: {"type":"error","error":{type,message[,details]},"request_id"}. */
export function errorBody(status: number, requestId: string, opts: { message?: string; errorCode?: string } = {}) {
  const type = errorTypeFor(status);
  const error: { type: string; message: string; details?: { error_code: string } } = { type, message: opts.message ?? MESSAGES[type] ?? 'Error' };
  if (opts.errorCode) error.details = { error_code: opts.errorCode };
  return { type: 'error', error, request_id: requestId };
}
