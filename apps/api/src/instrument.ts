/**
 * Loaded with `--import` before main.ts (after tsx): the Sentry SDK instruments http and
 * Express only for modules loaded after it starts. Does nothing when SENTRY_DSN is unset.
 * Only the SDK and the scrubbing module are loaded here, not the logging package's winston.
 */
import { hostname } from 'node:os';
import * as Sentry from '@sentry/node';
import { packageRelease, sentryOptions } from '@parley/logging/src/sentry-privacy';

const options = sentryOptions(process.env, { release: packageRelease(), serverName: `api-${hostname()}` });
if (options) Sentry.init(options);
