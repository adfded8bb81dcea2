import fs from 'node:fs';
import path from 'node:path';

const NAME = /^[A-Z_][A-Z0-9_]*$/;

/** The line that sets `name`, with or without `export` and spaces around `=`. */
function setsName(line: string, name: string): boolean {
  return new RegExp(`^\\s*(export\\s+)?${name}\\s*=`).test(line);
}

function quoted(value: string): string {
  // Plain when it needs no quoting (dotenv and docker compose read it alike), else double-quoted.
  return /^[A-Za-z0-9_./+:@-]*$/.test(value) ? value : JSON.stringify(value);
}

/** Fails early (before anything irreversible) when the env file could not be written. */
export function assertWritable(file: string): void {
  const dir = path.dirname(path.resolve(file));
  fs.accessSync(dir, fs.constants.W_OK);
  if (fs.existsSync(file)) fs.accessSync(file, fs.constants.R_OK | fs.constants.W_OK);
}

/**
 * Sets `name=value` in a dotenv file: the first line that sets it is replaced, later ones are
 * removed, otherwise the line is appended; every other line stays as it was. The file is
 * written beside itself and renamed over, so a crash leaves the old file or the new one. A
 * new file is readable by its owner only (it holds a secret).
 */
export function setEnvVar(file: string, name: string, value: string): 'replaced' | 'added' {
  if (!NAME.test(name)) throw new Error(`not an environment variable name: ${name}`);
  if (/[\r\n]/.test(value)) throw new Error(`${name}: the value holds a line break`);
  const exists = fs.existsSync(file);
  const text = exists ? fs.readFileSync(file, 'utf8') : '';
  const lines = text === '' ? [] : text.replace(/\r?\n$/, '').split(/\r?\n/);
  let found = false;
  const next: string[] = [];
  for (const line of lines) {
    if (!setsName(line, name)) next.push(line);
    else if (!found) {
      found = true;
      next.push(`${name}=${quoted(value)}`);
    }
  }
  if (!found) next.push(`${name}=${quoted(value)}`);
  const mode = exists ? fs.statSync(file).mode & 0o777 : 0o600;
  const temp = path.join(path.dirname(path.resolve(file)), `.${path.basename(file)}.${process.pid}.tmp`);
  fs.writeFileSync(temp, `${next.join('\n')}\n`, { mode });
  fs.chmodSync(temp, mode);
  fs.renameSync(temp, file);
  return found ? 'replaced' : 'added';
}
