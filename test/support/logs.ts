import { Writable } from 'node:stream';
import { createLogger, type Logger } from '@parley/logging';

/** A real winston logger (redaction included) whose JSON lines the test can read back. */
export function capturingLogger(service: string, level = 'debug'): { log: Logger; lines: string[]; text: () => string } {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(...chunk.toString().split('\n').filter(Boolean));
      done();
    },
  });
  return { log: createLogger({ service, level, stream }), lines, text: () => lines.map((l) => `${l}\n`).join('') };
}
