import { LogLevel, type Logger as BoltLogger } from '@slack/bolt';
import type { Logger } from '@parley/logging';

const ORDER = [LogLevel.DEBUG, LogLevel.INFO, LogLevel.WARN, LogLevel.ERROR];

function text(parts: unknown[]): string {
  return parts.map((p) => (p instanceof Error ? p.message : typeof p === 'string' ? p : JSON.stringify(p))).join(' ').slice(0, 500);
}

/**
 * Bolt and the Socket Mode client log through ours (JSON, redacted). Their debug output
 * includes request payloads, so it stays below `info` unless asked for.
 */
export function boltLogger(log: Logger, level: LogLevel = LogLevel.INFO): BoltLogger {
  let current = level;
  let name = 'slack';
  const on = (l: LogLevel) => ORDER.indexOf(l) >= ORDER.indexOf(current);
  return {
    debug: (...m: unknown[]) => void (on(LogLevel.DEBUG) && log.debug(text(m), { component: name })),
    info: (...m: unknown[]) => void (on(LogLevel.INFO) && log.info(text(m), { component: name })),
    warn: (...m: unknown[]) => void (on(LogLevel.WARN) && log.warn(text(m), { component: name })),
    error: (...m: unknown[]) => void (on(LogLevel.ERROR) && log.error(text(m), { component: name })),
    setLevel: (l: LogLevel) => {
      current = l;
    },
    getLevel: () => current,
    setName: (n: string) => {
      name = n;
    },
  };
}
