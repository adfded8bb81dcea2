/**
 * Reads an env file the way docker compose's `env_file` (and its project `.env`) does, after
 * Docker's documented syntax (docs.docker.com/compose/env-file) and compose-go's dotenv parser:
 *
 * - blank lines and lines whose first non-blank character is `#` are skipped; `export ` is ignored;
 * - `KEY=value`: blanks around the key and before the value are dropped; an unquoted value ends
 *   at the first ` #` (a comment needs a space before it, and the blanks before the value are
 *   already gone, so `KEY=   # note` is the text `# note`), then trailing blanks go;
 * - `'...'` is literal (`\'` is a quote); `"..."` understands `\n`, `\r`, `\t`, `\\`, `\"` and
 *   may span lines; after the closing quote only blanks or a comment may follow;
 * - unquoted and double-quoted values are interpolated: `$VAR`, `${VAR}`, `${VAR:-default}`,
 *   `${VAR-default}`, `${VAR:?error}`, `${VAR?error}`, `${VAR:+alt}`, `${VAR+alt}`, `$$` for `$`,
 *   from earlier lines first, then `lookup`;
 * - a line holding only `KEY` takes the value from `lookup`, or is left out.
 *
 * Only what the tests need to compare with Node's parser; it throws on what compose refuses.
 */
export function parseComposeEnvFile(text: string, lookup: Readonly<Record<string, string | undefined>> = {}): Record<string, string> {
  const out: Record<string, string> = {};
  const lines = text.replace(/\r\n/g, '\n').split('\n');
  const resolve = (name: string) => (name in out ? out[name] : lookup[name]);

  for (let i = 0; i < lines.length; i += 1) {
    const lineNo = i + 1;
    let line = (lines[i] ?? '').replace(/^[ \t]+/, '');
    if (line === '' || line.startsWith('#')) continue;
    if (/^export[ \t]/.test(line)) line = line.slice('export'.length).replace(/^[ \t]+/, '');

    const eq = line.indexOf('=');
    const key = (eq < 0 ? line : line.slice(0, eq)).trim();
    if (!/^[A-Za-z0-9_.\-[\]]+$/.test(key)) throw new Error(`line ${lineNo}: unexpected character in variable name ${JSON.stringify(key)}`);
    if (eq < 0) {
      const inherited = lookup[key];
      if (inherited !== undefined) out[key] = inherited;
      continue;
    }

    const raw = line.slice(eq + 1).replace(/^[ \t]+/, '');
    const quote = raw[0];
    if (quote !== '"' && quote !== "'") {
      const comment = raw.indexOf(' #');
      out[key] = interpolate((comment < 0 ? raw : raw.slice(0, comment)).trimEnd(), resolve, lineNo);
      continue;
    }

    // A quoted value runs to its closing (unescaped) quote, across lines if need be.
    let body = raw.slice(1);
    let end = closingQuote(body, quote);
    while (end < 0 && i + 1 < lines.length) {
      i += 1;
      body += `\n${lines[i] ?? ''}`;
      end = closingQuote(body, quote);
    }
    if (end < 0) throw new Error(`line ${lineNo}: unterminated quoted value`);
    const rest = body.slice(end + 1).trim();
    if (rest !== '' && !rest.startsWith('#')) throw new Error(`line ${lineNo}: unexpected text after the closing quote`);
    const inner = body.slice(0, end);
    out[key] = quote === "'" ? inner.replace(/\\'/g, "'") : interpolate(unescapeDouble(inner), resolve, lineNo);
  }
  return out;
}

function closingQuote(text: string, quote: string): number {
  for (let i = 0; i < text.length; i += 1) {
    if (text[i] === '\\') i += 1;
    else if (text[i] === quote) return i;
  }
  return -1;
}

function unescapeDouble(text: string): string {
  const escapes: Record<string, string> = { n: '\n', r: '\r', t: '\t', '\\': '\\', '"': '"' };
  return text.replace(/\\([nrt\\"])/g, (_, c: string) => escapes[c] ?? c);
}

const NAME = '[A-Za-z_][A-Za-z0-9_]*';
const REFERENCE = new RegExp(`\\$(?:\\$|(${NAME})|\\{(${NAME})(?:(:?[-?+])([^}]*))?\\})`, 'g');

function interpolate(value: string, resolve: (name: string) => string | undefined, lineNo: number): string {
  return value.replace(REFERENCE, (match, bare: string | undefined, braced: string | undefined, op: string | undefined, arg: string | undefined) => {
    if (match === '$$') return '$';
    const name = bare ?? braced ?? '';
    const current = resolve(name);
    const set = current !== undefined;
    const nonEmpty = set && current !== '';
    switch (op) {
      case ':-':
        return nonEmpty ? current : (arg ?? '');
      case '-':
        return set ? current : (arg ?? '');
      case ':?':
      case '?':
        if (op === ':?' ? nonEmpty : set) return current ?? '';
        throw new Error(`line ${lineNo}: required variable ${name} is missing a value: ${arg ?? ''}`);
      case ':+':
        return nonEmpty ? (arg ?? '') : '';
      case '+':
        return set ? (arg ?? '') : '';
      default:
        return current ?? '';
    }
  });
}
