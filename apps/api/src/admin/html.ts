/**
 * A minimal HTML builder: every interpolated value is escaped unless it is already `SafeHtml`
 * (the output of `html` itself), so a page cannot be built from unescaped data by accident.
 */
export class SafeHtml {
  constructor(readonly value: string) {}
  toString(): string {
    return this.value;
  }
}

const ENTITIES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;', '`': '&#96;' };

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"'`]/g, (c) => ENTITIES[c] ?? c);
}

function render(value: unknown): string {
  if (value instanceof SafeHtml) return value.value;
  if (Array.isArray(value)) return value.map(render).join('');
  if (value === null || value === undefined || value === false) return '';
  return escapeHtml(String(value));
}

export function html(strings: TemplateStringsArray, ...values: unknown[]): SafeHtml {
  let out = strings[0] ?? '';
  values.forEach((value, i) => {
    out += render(value) + (strings[i + 1] ?? '');
  });
  return new SafeHtml(out);
}

/** A path segment for a link: ids come from Redis and SQLite and may hold any character. */
export function seg(value: string): string {
  return encodeURIComponent(value);
}

/** "3d 4h", "12m", "40s": an age at a glance, two units at most. */
export function formatAge(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  const d = Math.floor(s / 86_400);
  const h = Math.floor((s % 86_400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  if (d > 0) return h > 0 ? `${d}d ${h}h` : `${d}d`;
  if (h > 0) return m > 0 ? `${h}h ${m}m` : `${h}h`;
  if (m > 0) return `${m}m`;
  return `${s}s`;
}

export function formatTime(at: Date | number | null | undefined): string {
  if (at === null || at === undefined) return '';
  const date = typeof at === 'number' ? new Date(at) : at;
  return Number.isNaN(date.getTime()) ? '' : date.toISOString().replace('T', ' ').replace(/\.\d{3}Z$/, 'Z');
}

const STYLE = `
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;color:#1d2330;background:#f6f7f9}
header{background:#1d2330;color:#fff;padding:10px 20px;display:flex;gap:20px;align-items:center}
header a{color:#cfe0ff;text-decoration:none}header strong{margin-right:12px}
main{padding:16px 20px}h1{font-size:20px;margin:4px 0 12px}h2{font-size:16px;margin:20px 0 8px}
table{border-collapse:collapse;width:100%;background:#fff;box-shadow:0 1px 2px #0002}
th,td{text-align:left;padding:6px 8px;border-bottom:1px solid #e4e7ec;vertical-align:top}
th{background:#eef1f5;font-weight:600}td.num{text-align:right;white-space:nowrap}
code{font:12px ui-monospace,Menlo,monospace;word-break:break-all}
.notice{background:#e7f6ea;border:1px solid #9bd3a6;padding:8px 12px;margin-bottom:12px}
.error{background:#fdecec;border:1px solid #f0a3a3;padding:8px 12px;margin-bottom:12px}
.warn{background:#fff6e0;border:1px solid #f0d48a;padding:8px 12px;margin-bottom:12px}
.kind{display:inline-block;padding:1px 6px;border-radius:3px;background:#e8ecf3;font-size:12px;white-space:nowrap}
.muted{color:#667085}dl{display:grid;grid-template-columns:max-content auto;gap:2px 16px;background:#fff;padding:10px 14px;margin:0}
dt{color:#667085}dd{margin:0}button{cursor:pointer}form{margin:0}
`;

/** The page shell: inline style only, no script and no external asset. */
export function layout(title: string, body: SafeHtml): string {
  return html`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<meta name="referrer" content="same-origin"><title>${title} · Parley admin</title><style>${new SafeHtml(STYLE)}</style></head>
<body><header><strong>Parley admin</strong><a href="/admin/">Stuck negotiations</a><a href="/admin/dead-letters">Dead letters</a><a href="/admin/queues">Queues</a><a href="/admin/search">Search</a></header>
<main>${body}</main></body></html>`.value;
}
