import { ErrorCode, type WebAPIHTTPError, type WebAPIPlatformError, type WebAPIRateLimitedError, type WebAPIRequestError } from '@slack/web-api';
import { PermanentError, RateLimitedError, TransientError } from '@parley/contracts';
import { redactString } from '@parley/logging';

/**
 * Slack errors that retrying cannot fix, each with what an operator must change. Everything
 * here is a configuration or installation problem, so the message names the setting.
 */
const PERMANENT_FIXES: Record<string, string> = {
  not_authed: 'no token was sent: set SLACK_BOT_TOKEN (xoxb-…)',
  invalid_auth: 'SLACK_BOT_TOKEN is not a valid token: copy the Bot User OAuth Token (xoxb-…) from the Slack app\'s "OAuth & Permissions" page',
  account_inactive: 'the token belongs to a deactivated user or workspace: reinstall the Slack app and set the new SLACK_BOT_TOKEN',
  token_revoked: 'SLACK_BOT_TOKEN was revoked (the app was uninstalled?): reinstall the Slack app and set the new token',
  token_expired: 'SLACK_BOT_TOKEN has expired: reinstall the Slack app (or turn off token rotation) and set the new token',
  no_permission: 'the token lacks a permission for this call: check the Slack app\'s scopes and reinstall it',
  missing_scope: 'the Slack app lacks a scope: add it under "OAuth & Permissions" and reinstall the app',
  not_allowed_token_type: 'the wrong kind of token was used: SLACK_BOT_TOKEN must be a bot token (xoxb-…)',
  team_access_not_granted: 'the token has no access to this workspace: reinstall the Slack app there',
  ekm_access_denied: 'the workspace\'s key management denies this call: ask its Slack admin',
  access_denied: 'Slack denied access: check the Slack app\'s installation and scopes',
  channel_not_found: 'SLACK_ALERT_CHANNEL is not a channel the bot can see: use the channel id (C…, from the channel\'s details) and add the app to a private channel',
  not_in_channel: 'the bot is not a member of SLACK_ALERT_CHANNEL: invite it with /invite @<app name> in that channel',
  is_archived: 'SLACK_ALERT_CHANNEL is archived: unarchive it or set another channel',
  restricted_action: 'the workspace does not let the bot post there: ask a Slack admin or pick another SLACK_ALERT_CHANNEL',
  user_not_found: 'the Slack user no longer exists',
  user_not_visible: 'the bot cannot see that Slack user',
  cannot_dm_bot: 'a claimer id points at a bot, which cannot be messaged',
  message_not_found: 'the Slack message no longer exists (deleted?)',
  cant_update_message: 'only messages the bot posted can be updated',
  thread_not_found: 'the thread to reply in no longer exists',
  invalid_blocks: 'Slack refused the message layout (a bug in Parley\'s Block Kit)',
  invalid_blocks_format: 'Slack refused the message layout (a bug in Parley\'s Block Kit)',
  invalid_metadata_format: 'Slack refused the message metadata (a bug in Parley)',
  invalid_metadata_schema: 'Slack refused the message metadata (a bug in Parley)',
  msg_too_long: 'the message is longer than Slack allows (a bug in Parley\'s truncation)',
  no_text: 'the message was empty (a bug in Parley)',
  invalid_arguments: 'Slack refused the call\'s arguments (a bug in Parley)',
  socket_mode_not_enabled: 'Socket Mode is off for the Slack app: enable it, or unset SLACK_APP_TOKEN',
};

/** Slack's own trouble: worth another try after the usual backoff. */
const TRANSIENT_ERRORS = new Set(['internal_error', 'fatal_error', 'service_unavailable', 'request_timeout', 'timeout']);
/** When a 429 or `ratelimited` comes without a usable Retry-After. */
const DEFAULT_RATE_LIMIT_WAIT_MS = 30_000;

interface SlackCodedError {
  code: string;
}

function isCoded(error: unknown): error is Error & SlackCodedError {
  return error instanceof Error && typeof (error as Partial<SlackCodedError>).code === 'string';
}

/** A permanent Slack error, with the platform error code kept for callers that branch on it. */
export class SlackPermanentError extends PermanentError {
  override name = 'SlackPermanentError';
  constructor(
    message: string,
    readonly slackError: string,
    options?: { cause?: unknown },
  ) {
    super(message, `slack_${slackError}`, options);
  }
}

/**
 * A WebClient failure in the queue's taxonomy: 429 / `ratelimited` → RateLimitedError for
 * Retry-After seconds; token, scope and channel problems → PermanentError naming the fix;
 * Slack's 5xx, `internal_error`, timeouts and dropped connections → TransientError. Errors
 * already in the taxonomy pass through. Messages never carry the token.
 */
export function mapSlackError(error: unknown, method: string): Error {
  if (error instanceof PermanentError || error instanceof RateLimitedError || error instanceof TransientError) return error;
  // A 429 without a usable Retry-After: the WebClient throws a plain Error saying so. Still a
  // rate limit: wait (no attempt spent) rather than burn retries against it.
  if (error instanceof Error && !isCoded(error) && /^Retry header did not contain a valid timeout/.test(error.message)) {
    return new RateLimitedError(`slack ${method}: rate limited without a Retry-After, waiting ${DEFAULT_RATE_LIMIT_WAIT_MS / 1000}s`, DEFAULT_RATE_LIMIT_WAIT_MS, 'slack');
  }
  if (!isCoded(error)) return new TransientError(`slack ${method}: ${redactString(String(error))}`, 'unknown');
  switch (error.code) {
    case ErrorCode.RateLimitedError: {
      const seconds = (error as WebAPIRateLimitedError).retryAfter;
      const waitMs = Number.isFinite(seconds) && seconds >= 0 ? seconds * 1000 : DEFAULT_RATE_LIMIT_WAIT_MS;
      return new RateLimitedError(`slack ${method}: rate limited, retry after ${seconds}s`, waitMs, 'slack');
    }
    case ErrorCode.PlatformError: {
      const data = (error as WebAPIPlatformError).data;
      const code = typeof data.error === 'string' ? data.error : 'unknown_error';
      if (code === 'ratelimited') {
        const seconds = data.response_metadata?.retryAfter;
        return new RateLimitedError(`slack ${method}: ratelimited`, typeof seconds === 'number' ? seconds * 1000 : DEFAULT_RATE_LIMIT_WAIT_MS, 'slack');
      }
      if (TRANSIENT_ERRORS.has(code)) return new TransientError(`slack ${method}: ${code}`, `slack_${code}`);
      const fix = PERMANENT_FIXES[code];
      const scope: unknown = (data as unknown as Record<string, unknown>).needed;
      const needed = typeof scope === 'string' ? ` (needed: ${scope})` : '';
      // An error code not listed is still Slack refusing this exact call: retrying repeats it.
      return new SlackPermanentError(`slack ${method}: ${code}${needed}: ${fix ?? 'see https://api.slack.com/methods/' + method}`, code);
    }
    case ErrorCode.HTTPError: {
      const status = (error as WebAPIHTTPError).statusCode;
      if (status >= 500 || status === 408) return new TransientError(`slack ${method}: HTTP ${status}`, `http_${status}`);
      return new SlackPermanentError(`slack ${method}: HTTP ${status}: check SLACK_API_URL (e.g. https://slack.com/api/)`, `http_${status}`);
    }
    case ErrorCode.RequestError: {
      const original = (error as WebAPIRequestError).original;
      return new TransientError(`slack ${method}: no answer (${redactString(original.message)})`, 'network');
    }
    default:
      return new TransientError(`slack ${method}: ${error.code}: ${redactString(error.message)}`, 'unknown');
  }
}
