import fs from 'node:fs';
import path from 'node:path';

/**
 * Prompts are versioned files (packages/llm/prompts/<name>.v<N>.md) so a wording change is a
 * reviewable diff and the version in use is logged. A file holds a system part and a user
 * part, each introduced by an HTML comment marker; `{{name}}` placeholders are filled in.
 */
export const PROMPTS = { readReply: 'read-reply.v1', draftEmail: 'draft-email.v1' } as const;
export type PromptName = (typeof PROMPTS)[keyof typeof PROMPTS];

export interface PromptTemplate {
  name: string;
  system: string;
  user: string;
}

const PROMPTS_DIR = path.resolve(__dirname, '..', 'prompts');
const cache = new Map<string, PromptTemplate>();

export function parsePromptTemplate(name: string, text: string): PromptTemplate {
  const m = /^\s*<!--\s*system\s*-->\s*\n([\s\S]*?)\n<!--\s*user\s*-->\s*\n([\s\S]*)$/.exec(text);
  if (!m) throw new Error(`prompt ${name} must have a "<!-- system -->" part followed by a "<!-- user -->" part`);
  return { name, system: (m[1] ?? '').trim(), user: (m[2] ?? '').trim() };
}

export function loadPrompt(name: PromptName, dir = PROMPTS_DIR): PromptTemplate {
  const key = path.join(dir, name);
  const cached = cache.get(key);
  if (cached) return cached;
  const template = parsePromptTemplate(name, fs.readFileSync(path.join(dir, `${name}.md`), 'utf8'));
  cache.set(key, template);
  return template;
}

/** Fills `{{name}}` placeholders in one pass (values are never re-scanned); a missing value throws. */
export function renderTemplate(text: string, vars: Record<string, string>): string {
  return text.replace(/\{\{(\w+)\}\}/g, (_all, key: string) => {
    const value = vars[key];
    if (value === undefined) throw new Error(`prompt placeholder {{${key}}} has no value`);
    return value;
  });
}

/** Longest influencer message passed to the model; longer ones are cut (quoted history, signatures). */
export const MAX_MESSAGE_CHARS = 8000;

/**
 * The influencer's messages, one <reply> block each, in order. Angle brackets are escaped so
 * a message cannot close its block and pose as instructions.
 */
export function replyBlocks(messages: readonly string[]): string {
  return messages
    .map((m) => {
      const text = m.length > MAX_MESSAGE_CHARS ? `${m.slice(0, MAX_MESSAGE_CHARS)} [...]` : m;
      return `<reply>\n${escapeTags(text.trim())}\n</reply>`;
    })
    .join('\n');
}

export function escapeTags(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** JSON for a <facts> block; "<" is escaped so no value can end the block early. */
export function factsJson(facts: Record<string, unknown>): string {
  return JSON.stringify(facts, null, 2).replace(/</g, '\\u003c');
}
