import winston from 'winston';
import { redact, redactString } from './redact';

export type Logger = winston.Logger;

export interface LoggerOptions {
  level?: string;
  /** Human-readable lines for development; JSON otherwise. */
  pretty?: boolean;
  service: string;
  /** Extra transport for tests (e.g. a stream that collects lines). */
  stream?: NodeJS.WritableStream;
}

// Message keys that winston uses internally and must survive the redaction pass.
const RESERVED = new Set(['level', 'message', 'timestamp', 'service', 'stack']);

const redaction = winston.format((info) => {
  const record = info as Record<string, unknown>;
  const meta: Record<string, unknown> = {};
  for (const key of Object.keys(record)) if (!RESERVED.has(key)) meta[key] = record[key];
  Object.assign(record, redact(meta));
  if (typeof info.message === 'string') info.message = redactString(info.message);
  if (typeof info.stack === 'string') info.stack = redactString(info.stack);
  return info;
});

export function createLogger(options: LoggerOptions): Logger {
  const format = options.pretty
    ? winston.format.combine(
        redaction(),
        winston.format.timestamp({ format: 'HH:mm:ss.SSS' }),
        winston.format.colorize(),
        winston.format.printf(({ level, message, timestamp, service: _s, ...rest }) => {
          const meta = Object.keys(rest).length > 0 ? ' ' + JSON.stringify(rest) : '';
          return `${String(timestamp)} ${level} ${String(message)}${meta}`;
        }),
      )
    : winston.format.combine(redaction(), winston.format.timestamp(), winston.format.json());
  const transport = options.stream
    ? new winston.transports.Stream({ stream: options.stream })
    : new winston.transports.Console({ stderrLevels: ['error'] });
  return winston.createLogger({
    level: options.level ?? 'info',
    defaultMeta: { service: options.service },
    format,
    transports: [transport],
  });
}
