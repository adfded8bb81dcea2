import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { extractFacts, writeDraft } from './email-writer';
import type { AnthropicFault } from './faults';
import { extractReplyBlocks, readReplies } from './reply-reader';

/** The parts of a Messages API request the sandbox checks, as the real API would. */
const block = z.looseObject({ type: z.string() });
const messageParam = z.object({ role: z.enum(['user', 'assistant']), content: z.union([z.string(), z.array(block)]) });
export const messagesRequest = z.looseObject({
  model: z.string().min(1),
  max_tokens: z.number().int().positive(),
  messages: z.array(messageParam).min(1),
  system: z.union([z.string(), z.array(block)]).optional(),
  tools: z.array(z.looseObject({ name: z.string().min(1), input_schema: z.looseObject({ type: z.literal('object') }) })).optional(),
  tool_choice: z.looseObject({ type: z.enum(['auto', 'any', 'tool', 'none']), name: z.string().optional() }).optional(),
});
export type MessagesRequest = z.infer<typeof messagesRequest>;
type MessageParam = MessagesRequest['messages'][number];

export function newId(prefix: string): string {
  return `${prefix}${randomBytes(12).toString('base64url')}`;
}

function blocksOf(m: MessageParam): z.infer<typeof block>[] {
  return typeof m.content === 'string' ? [{ type: 'text', text: m.content }] : m.content;
}

function textOf(m: MessageParam | undefined): string {
  if (!m) return '';
  return blocksOf(m)
    .map((b) => (b.type === 'text' && typeof b.text === 'string' ? b.text : ''))
    .join('\n');
}

/**
 * The checks the real API makes that a client bug would trip: the named tool exists, and every
 * tool_use is answered by a tool_result in the next user turn (and only those). Returns the
 * error message, or null.
 */
export function requestProblem(req: MessagesRequest): string | null {
  if (req.tool_choice?.type === 'tool') {
    const name = req.tool_choice.name;
    if (!name) return 'tool_choice.name: Field required';
    if (!(req.tools ?? []).some((t) => t.name === name)) return `tool_choice: tool "${name}" is not in tools`;
  }
  if (req.messages[0]?.role !== 'user') return 'messages: first message must use the "user" role';
  for (let i = 0; i < req.messages.length; i += 1) {
    const m = req.messages[i] as MessageParam;
    const prev = req.messages[i - 1];
    const wanted = new Set(prev?.role === 'assistant' ? blocksOf(prev).filter((b) => b.type === 'tool_use').map((b) => String(b.id)) : []);
    const given = m.role === 'user' ? blocksOf(m).filter((b) => b.type === 'tool_result').map((b) => String(b.tool_use_id)) : [];
    for (const id of given) {
      if (!wanted.has(id)) {
        return `messages.${i}.content: unexpected \`tool_use_id\` found in \`tool_result\` blocks: ${id}. Each \`tool_result\` block must have a corresponding \`tool_use\` block in the previous message.`;
      }
    }
    if (wanted.size > 0 && given.length !== wanted.size) {
      return `messages.${i}: \`tool_use\` ids were found without \`tool_result\` blocks immediately after: ${[...wanted].filter((id) => !given.includes(id)).join(', ')}`;
    }
  }
  return null;
}

function invalidInput(tool: string): Record<string, unknown> {
  if (tool === 'read_reply') return { intent: 'maybe', hostile: 'no' };
  if (tool === 'draft_email') return { subject: '' };
  return { unexpected: true };
}

/** The tool input the simulated model produces (the first user turn is the original prompt). */
export function simulateToolInput(tool: string, req: MessagesRequest): Record<string, unknown> {
  const prompt = textOf(req.messages.find((m) => m.role === 'user'));
  if (tool === 'read_reply') return { ...readReplies(extractReplyBlocks(prompt)) };
  if (tool === 'draft_email') {
    const facts = extractFacts(prompt);
    return facts ? writeDraft(facts) : { subject: 'Hello', body: 'Hello,\n\nThank you for your message.\n\nBest regards' };
  }
  return {};
}

/** A successful Messages API answer, shaped as WIRE-CONTRACTS shows (tool_use when a tool is wanted). */
export function messageResponse(req: MessagesRequest, fault: AnthropicFault | undefined) {
  const wantsTool = (req.tools?.length ?? 0) > 0 && req.tool_choice?.type !== 'none';
  const tool = req.tool_choice?.name ?? req.tools?.[0]?.name ?? '';
  const inputTokens = Math.ceil(JSON.stringify(req.messages).length / 4);
  if (!wantsTool) {
    return {
      id: newId('msg_'),
      type: 'message',
      role: 'assistant',
      model: req.model,
      content: [{ type: 'text', text: 'Hello from the Parley sandbox.' }],
      stop_reason: 'end_turn',
      stop_sequence: null,
      usage: { input_tokens: inputTokens, output_tokens: 8, cache_creation_input_tokens: null, cache_read_input_tokens: null },
    };
  }
  const input = fault?.toolInput ?? (fault?.invalidToolOutput ? invalidInput(tool) : simulateToolInput(tool, req));
  return {
    id: newId('msg_'),
    type: 'message',
    role: 'assistant',
    model: req.model,
    content: [{ type: 'tool_use', id: newId('toolu_'), name: tool, input }],
    stop_reason: 'tool_use',
    stop_sequence: null,
    usage: { input_tokens: inputTokens, output_tokens: Math.ceil(JSON.stringify(input).length / 4), cache_creation_input_tokens: null, cache_read_input_tokens: null },
  };
}
