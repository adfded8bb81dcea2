import type { ActionsBlock, Button, ContextBlock, DividerBlock, HeaderBlock, KnownBlock, SectionBlock } from '@slack/web-api';

/**
 * Block Kit builders for Parley's messages. Slack's limits are enforced here (a section's text
 * is at most 3000 characters, a header's 150, a button's value 2000) so a long error message or
 * roster can never make Slack refuse the whole alert.
 */
const SECTION_MAX = 3000;
const HEADER_MAX = 150;
const BUTTON_TEXT_MAX = 75;
const BUTTON_VALUE_MAX = 2000;
const CONTEXT_ELEMENTS_MAX = 10;

export function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

/** Escapes text for mrkdwn: `&`, `<` and `>` are control characters there (links, mentions). */
export function escapeMrkdwn(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** A mrkdwn link; the label is escaped, the URL must not contain `|` or `>`. */
export function link(url: string, label: string): string {
  return `<${url.replace(/[|>]/g, encodeURIComponent)}|${escapeMrkdwn(label)}>`;
}

export function mention(userId: string): string {
  return `<@${userId}>`;
}

export function header(text: string): HeaderBlock {
  return { type: 'header', text: { type: 'plain_text', text: truncate(text, HEADER_MAX), emoji: true } };
}

/** A section of mrkdwn (already escaped by the caller where it quotes outside text). */
export function section(mrkdwn: string, blockId?: string): SectionBlock {
  return { type: 'section', text: { type: 'mrkdwn', text: truncate(mrkdwn, SECTION_MAX) }, ...(blockId ? { block_id: blockId } : {}) };
}

/** Label/value pairs shown two per row. */
export function fields(pairs: [label: string, value: string][]): SectionBlock {
  return {
    type: 'section',
    fields: pairs.slice(0, 10).map(([label, value]) => ({ type: 'mrkdwn' as const, text: truncate(`*${label}*\n${value}`, 2000) })),
  };
}

export function context(...mrkdwn: string[]): ContextBlock {
  return { type: 'context', elements: mrkdwn.slice(0, CONTEXT_ELEMENTS_MAX).map((text) => ({ type: 'mrkdwn' as const, text: truncate(text, SECTION_MAX) })) };
}

export function divider(): DividerBlock {
  return { type: 'divider' };
}

export function button(input: { actionId: string; text: string; value: string; style?: 'primary' | 'danger'; url?: string }): Button {
  return {
    type: 'button',
    action_id: input.actionId,
    text: { type: 'plain_text', text: truncate(input.text, BUTTON_TEXT_MAX), emoji: true },
    value: truncate(input.value, BUTTON_VALUE_MAX),
    ...(input.style ? { style: input.style } : {}),
    ...(input.url ? { url: input.url } : {}),
  };
}

export function actions(blockId: string, ...elements: Button[]): ActionsBlock {
  return { type: 'actions', block_id: blockId, elements };
}

/** True for the blocks that carry buttons (removed once an alert has been acted on). */
export function isActionsBlock(block: KnownBlock | { type: string }): boolean {
  return block.type === 'actions';
}
