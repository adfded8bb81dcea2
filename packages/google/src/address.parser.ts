/**
 * Linear-time parsing of address lists and message ids from untrusted headers. No regex with
 * nested or overlapping quantifiers runs on the raw value: one pass, character by character.
 */

/** local@domain with no spaces, brackets, quotes or separators, one "@"; checked in one pass. */
function isBareAddress(value: string): boolean {
  const at = value.indexOf('@');
  if (at <= 0 || at === value.length - 1 || value.indexOf('@', at + 1) >= 0) return false;
  return /^[^\s<>()[\]",;:\\]+$/.test(value);
}

/**
 * The bare addresses (lower-cased) of an RFC 5322 address list: `"Doe, Jane" <jane@x>,
 * bob@y (Bob), Team: carl@z;`. Display names, comments and group names are skipped, so an
 * address-like display name never stands in for the real address.
 */
export function parseAddressList(value: string | null | undefined): string[] {
  if (!value) return [];
  const out: string[] = [];
  let quoted = false;
  let comment = 0;
  let escaped = false;
  let angleStart = -1;
  let angled: string | null = null;
  let plainStart = 0;
  let plain = '';
  const flush = (end: number) => {
    plain += value.slice(plainStart, end);
    const candidate = angled ?? plain.split(/\s+/).find((t) => t.includes('@')) ?? '';
    const address = candidate.trim().toLowerCase();
    if (isBareAddress(address)) out.push(address);
    angled = null;
    plain = '';
  };
  for (let i = 0; i < value.length; i++) {
    const ch = value[i];
    if (escaped) {
      escaped = false;
      continue;
    }
    if (ch === '\\' && (quoted || comment > 0)) {
      escaped = true;
      continue;
    }
    if (quoted) {
      if (ch === '"') {
        quoted = false;
        plainStart = i + 1;
      }
      continue;
    }
    if (comment > 0) {
      if (ch === '(') comment += 1;
      else if (ch === ')' && --comment === 0) plainStart = i + 1;
      continue;
    }
    if (angleStart >= 0) {
      if (ch === '>') {
        angled = value.slice(angleStart, i);
        angleStart = -1;
        plainStart = i + 1;
      }
      continue;
    }
    if (ch === '"' || ch === '(' || ch === '<') {
      plain += value.slice(plainStart, i);
      if (ch === '"') quoted = true;
      else if (ch === '(') comment = 1;
      else angleStart = i + 1;
    } else if (ch === ',' || ch === ';') {
      flush(i);
      plainStart = i + 1;
    } else if (ch === ':') {
      // A group name ("Team:") is not part of the first member's address.
      plain = '';
      plainStart = i + 1;
    }
  }
  if (angleStart < 0 && !quoted && comment === 0) flush(value.length);
  else if (angled !== null) flush(value.length);
  return out;
}

/** A msg-id we can safely repeat in our own headers: printable ASCII, `left@right`, no brackets inside. */
export function isValidMessageId(bare: string): boolean {
  if (bare.length === 0 || bare.length > 250) return false;
  return /^[!#-'*+\-/-9=?A-Z^-~.]+@[!#-'*+\-/-9=?A-Z^-~.[\]]+$/.test(bare) && bare.indexOf('@') === bare.lastIndexOf('@');
}

/**
 * The valid msg-ids of an In-Reply-To / References value, each as `<id>`. Ids are split on
 * whitespace, commas and brackets; anything that is not a valid id is dropped.
 */
export function messageIds(value: string | null | undefined): string[] {
  if (!value) return [];
  return value
    .split(/[\s,<>]+/)
    .filter((id) => id !== '' && isValidMessageId(id))
    .map((id) => `<${id}>`);
}
