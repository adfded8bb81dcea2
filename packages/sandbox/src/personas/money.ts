/** Money as the agent writes it and the personas answer it: `$1,250.00` (USD, integer cents inside). */

export function formatUsd(cents: number): string {
  const whole = Math.floor(cents / 100);
  const grouped = String(whole).replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  return `$${grouped}.${String(cents % 100).padStart(2, '0')}`;
}

/** The last dollar amount written in `text`, in cents, or null. */
export function lastAmountCents(text: string): number | null {
  const pattern = /\$\s?(\d{1,3}(?:,\d{3})+|\d+)(?:\.(\d{1,2}))?(?!\d)/g;
  let last: number | null = null;
  for (const match of text.matchAll(pattern)) {
    const whole = Number((match[1] ?? '0').replace(/,/g, ''));
    const fraction = Number((match[2] ?? '0').padEnd(2, '0'));
    last = whole * 100 + fraction;
  }
  return last;
}

/** The agent's own words: drops quoted history so an amount the influencer named earlier is not read as the offer. */
export function ownText(text: string): string {
  const lines = text.replace(/\r\n/g, '\n').split('\n');
  const own: string[] = [];
  for (const line of lines) {
    if (/^On .*wrote:\s*$/.test(line.trim()) || /^-{2,}\s*(Original|Forwarded) message/i.test(line.trim())) break;
    if (line.startsWith('>')) continue;
    own.push(line);
  }
  return own.join('\n');
}
