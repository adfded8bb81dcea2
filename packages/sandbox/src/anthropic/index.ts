export { SANDBOX_API_KEY, startAnthropicSandbox } from './anthropic-sandbox.server';
export type { AnthropicSandbox, AnthropicSandboxCall, AnthropicSandboxOptions } from './anthropic-sandbox.server';
export { connectAnthropicSandbox } from './control.client';
export type { AnthropicSandboxControl } from './control.client';
export { extractFacts, writeDraft } from './email-writer';
export type { DraftFacts } from './email-writer';
export type { AnthropicFault } from './faults';
export { extractReplyBlocks, ownWords, readOneReply, readReplies } from './reply-reader';
export type { ReplyReadout } from './reply-reader';
