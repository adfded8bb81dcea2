export * from './anthropic-errors';
export * from './anthropic.client';
export * from './draft-check';
export * from './llm-health';
export * from './llm.types';
export { PROMPTS, loadPrompt, renderTemplate, replyBlocks, factsJson } from './prompts';
export { DRAFT_EMAIL_TOOL, READ_REPLY_TOOL, draftEmailOutput, readReplyOutput } from './tools';
