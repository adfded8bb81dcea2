import Anthropic, { APIError } from '@anthropic-ai/sdk';
import { formatMoney, toMinor, type ReplyReading } from '@parley/domain';
import type { Logger } from '@parley/logging';
import type { Metrics } from '@parley/metrics';
import { boundedFetch, PermanentError } from '@parley/contracts';
import type { z } from 'zod';
import { classifyAnthropicError } from './anthropic-errors';
import { checkDraftPrice } from './draft-check';
import { estimateInputTokens, type LlmCallOutcome, type LlmGate } from './llm-gate';
import type { DraftRequest, LlmCallOptions, LlmClient, ReadReplyInput } from './llm.types';

export { ACQUIRE_BATCH, DEFAULT_GATE_MAX_WAIT_MS, DEFAULT_MAX_IN_FLIGHT, LLM_GATE_SCRIPTS, RELEASE_BATCH, createLlmGate, estimateInputTokens, llmGateKeys, readRateLimitHeaders } from './llm-gate';
export type { LlmCallCost, LlmCallOutcome, LlmGate, LlmGateOptions, LlmLease, LlmRateLimits, RateLimitReading } from './llm-gate';
import { PROMPTS, factsJson, loadPrompt, renderTemplate, replyBlocks } from './prompts';
import { describeIssues, draftEmailOutput, draftEmailTool, readReplyOutput, readReplyTool, type ToolDefinition, type ToolName } from './tools';

export interface LlmClientOptions {
  apiKey: string;
  baseURL?: string;
  model: string;
  timeoutMs: number;
  metrics: Metrics;
  log: Logger;
  /** Wait for a 429 that names none (SPEC: 30 s). */
  defaultRateLimitWaitMs?: number;
  /**
   * The fleet-wide gate every call passes before it leaves (llm-gate.ts). Without one (unit
   * tests, one-off scripts) calls go straight out.
   */
  gate?: LlmGate;
  /** Answers longer than this are cut off unread and the call fails (transient). @defaultValue LLM_MAX_RESPONSE_BYTES */
  maxResponseBytes?: number;
}

/**
 * A Messages answer for one tool call of at most a few thousand output tokens is a few KB; a
 * megabyte is a broken or hostile server, and is not read further.
 */
export const LLM_MAX_RESPONSE_BYTES = 1024 * 1024;

interface ToolCall<T> {
  tool: ToolDefinition;
  schema: z.ZodType<T>;
  /** A check beyond the schema (the price rule for drafts); returns the problem or null. */
  check?: (value: T) => string | null;
  prompt: string;
  system: string;
  user: string;
  maxTokens: number;
  /** The job's signal: ends a wait at the gate and a request in flight. */
  signal?: AbortSignal;
  /** The step's last call (a draft): the gate serves it before calls that start a step. */
  finishesStep: boolean;
}

type Invalid = { problem: string; toolUseId: string | null };

/**
 * The Anthropic-backed LlmClient. The SDK never retries (maxRetries 0): a failure is mapped to
 * the queue's taxonomy and thrown, so the queue decides when to try again without holding a
 * worker slot. Invalid tool output gets exactly one re-ask with the validation error sent back
 * as an error tool_result; a second invalid output is permanent.
 */
export function createLlmClient(opts: LlmClientOptions): LlmClient {
  // boundedFetch: the answer's size is bounded, and the call goes out through undici's request on
  // a keep-alive pool of its own rather than Node's fetch (less CPU per call; bounded-fetch.ts).
  const sdk = new Anthropic({ apiKey: opts.apiKey, baseURL: opts.baseURL, maxRetries: 0, timeout: opts.timeoutMs, fetch: boundedFetch(opts.maxResponseBytes ?? LLM_MAX_RESPONSE_BYTES) });
  const { metrics, log } = opts;

  async function callTool<T>(call: ToolCall<T>): Promise<T> {
    const messages: Anthropic.MessageParam[] = [{ role: 'user', content: call.user }];
    for (let attempt = 1; ; attempt += 1) {
      const started = process.hrtime.bigint();
      const seconds = () => Number(process.hrtime.bigint() - started) / 1e9;
      let response: Anthropic.Message;
      let requestId: string | null | undefined;
      const body = {
        model: opts.model,
        max_tokens: call.maxTokens,
        system: call.system,
        messages,
        tools: [call.tool],
        tool_choice: { type: 'tool' as const, name: call.tool.name },
      };
      // Waits here (not in the queue) while the fleet is paused by a 429 or at its limits; a
      // wait past the gate's bound throws RateLimitedError and the queue takes over.
      // A re-ask finishes what its first attempt began, like a draft.
      const urgent = call.finishesStep || attempt > 1;
      const lease = opts.gate ? await opts.gate.acquire({ inputTokens: estimateInputTokens({ system: body.system, messages, tools: body.tools }), outputTokens: call.maxTokens }, call.signal, { urgent }).catch((error: unknown) => {
        log.warn('llm gate refused the call', { tool: call.tool.name, error: (error as Error).message, attempt });
        throw error;
      }) : null;
      try {
        const { data, request_id, response: http } = await sdk.messages.create(body, { signal: call.signal }).withResponse();
        response = data;
        requestId = request_id;
        await lease?.release({ kind: 'ok', headers: http.headers, usage: data.usage });
      } catch (error) {
        const c = classifyAnthropicError(error, { defaultRateLimitWaitMs: opts.defaultRateLimitWaitMs });
        await lease?.release(gateOutcome(c.type, c.waitMs, error));
        metrics.llmDuration.observe({ tool: call.tool.name, outcome: c.type }, seconds());
        metrics.llmErrors.inc({ type: c.type });
        log.warn('anthropic call failed', { tool: call.tool.name, errorClass: c.error.name, type: c.type, waitMs: c.waitMs, status: c.status, requestId: c.requestId, attempt });
        throw c.error;
      }

      const outcome = validate(call, response);
      if (!('problem' in outcome)) {
        metrics.llmDuration.observe({ tool: call.tool.name, outcome: 'ok' }, seconds());
        log.debug('anthropic call succeeded', { tool: call.tool.name, prompt: call.prompt, requestId, attempt, usage: response.usage });
        return outcome.value;
      }

      metrics.llmDuration.observe({ tool: call.tool.name, outcome: 'invalid_output' }, seconds());
      metrics.llmErrors.inc({ type: 'invalid_output' });
      const last = attempt >= 2;
      log.warn('anthropic returned invalid tool output', { tool: call.tool.name, errorClass: last ? 'PermanentError' : 'reask', problem: outcome.problem, requestId, attempt });
      if (last) {
        throw new PermanentError(`Anthropic returned invalid ${call.tool.name} output twice: ${outcome.problem}`, 'invalid_tool_output');
      }
      messages.push(...reask(call.tool.name, response, outcome));
    }
  }

  return {
    async readReply(input: ReadReplyInput, options: LlmCallOptions = {}): Promise<ReplyReading> {
      const template = loadPrompt(PROMPTS.readReply);
      const vars = {
        influencerName: input.influencerName,
        campaignName: input.campaignName,
        currency: input.currency.toUpperCase(),
        currentOffer: formatMoney(input.currentOfferMinor, input.currency),
        replies: replyBlocks(input.messages),
      };
      const out = await callTool({
        tool: readReplyTool,
        schema: readReplyOutput,
        prompt: template.name,
        system: renderTemplate(template.system, vars),
        user: renderTemplate(template.user, vars),
        maxTokens: 512,
        signal: options.signal,
        finishesStep: false,
      });
      const currency = out.currency ? out.currency.toUpperCase() : undefined;
      const reading: ReplyReading = { intent: out.intent, hostile: out.hostile, reason: out.reason.slice(0, 500) };
      if (currency) reading.currency = currency;
      if (out.asked_rate !== null && out.asked_rate !== undefined) reading.askedRateMinor = toMinor(out.asked_rate, currency ?? input.currency);
      return reading;
    },

    async draftEmail(input: DraftRequest, options: LlmCallOptions = {}): Promise<{ subject: string; body: string }> {
      const template = loadPrompt(PROMPTS.draftEmail);
      const currency = input.currency.toUpperCase();
      const facts = {
        kind: input.kind,
        influencerName: input.influencerName,
        campaignName: input.campaignName,
        platform: input.platform,
        deliverables: input.deliverables,
        currency,
        price: input.priceMinor === null ? null : formatMoney(input.priceMinor, currency),
        priceMinor: input.priceMinor,
      };
      const messages = input.influencerMessages ?? [];
      const vars = {
        kind: input.kind,
        facts: factsJson(facts),
        replies: messages.length > 0 ? `Their latest messages, oldest first:\n\n${replyBlocks(messages)}` : '',
      };
      return callTool({
        tool: draftEmailTool,
        schema: draftEmailOutput,
        check: (draft) => checkDraftPrice(draft, input.priceMinor, currency),
        prompt: template.name,
        system: renderTemplate(template.system, vars),
        user: renderTemplate(template.user, vars),
        maxTokens: 1024,
        signal: options.signal,
        // A draft is the last call of every step that makes one (after the read, for a reply).
        finishesStep: true,
      });
    },
  };
}

/** What the gate learns from a failed call: a 429 pauses the fleet, a 529 shrinks its concurrency. */
function gateOutcome(type: string, waitMs: number | undefined, error: unknown): LlmCallOutcome {
  const headers = error instanceof APIError ? (error.headers ?? null) : null;
  if (type === 'rate_limited' && waitMs !== undefined) return { kind: 'rate_limited', waitMs, headers };
  if (type === 'overloaded') return { kind: 'overloaded', headers };
  return { kind: 'failed', headers };
}

function validate<T>(call: ToolCall<T>, response: Anthropic.Message): { value: T } | Invalid {
  const block = response.content.find((b): b is Anthropic.ToolUseBlock => b.type === 'tool_use' && b.name === call.tool.name);
  if (!block) return { problem: `no ${call.tool.name} tool call in the answer (stop_reason ${String(response.stop_reason)})`, toolUseId: null };
  const parsed = call.schema.safeParse(block.input);
  if (!parsed.success) return { problem: describeIssues(parsed.error), toolUseId: block.id };
  const problem = call.check?.(parsed.data) ?? null;
  return problem === null ? { value: parsed.data } : { problem, toolUseId: block.id };
}

/** The follow-up turn for a re-ask: our copy of the model's answer, then the error as its tool result. */
function reask(tool: ToolName, response: Anthropic.Message, invalid: Invalid): Anthropic.MessageParam[] {
  const echoed: Anthropic.ContentBlockParam[] = [];
  for (const b of response.content) {
    if (b.type === 'text' && b.text.trim() !== '') echoed.push({ type: 'text', text: b.text });
    if (b.type === 'tool_use') echoed.push({ type: 'tool_use', id: b.id, name: b.name, input: b.input });
  }
  const instruction = `Your ${tool} input was invalid: ${invalid.problem}. Call ${tool} again with corrected input.`;
  const turn: Anthropic.MessageParam[] = echoed.length > 0 ? [{ role: 'assistant', content: echoed }] : [];
  if (invalid.toolUseId !== null) {
    // Every other tool_use in the echoed turn needs a result too, or the API rejects the request.
    const results: Anthropic.ContentBlockParam[] = echoed.flatMap((b) =>
      b.type === 'tool_use' ? [{ type: 'tool_result' as const, tool_use_id: b.id, content: b.id === invalid.toolUseId ? instruction : 'Ignored.', is_error: true }] : [],
    );
    turn.push({ role: 'user', content: results });
  } else {
    const results: Anthropic.ContentBlockParam[] = echoed.flatMap((b) => (b.type === 'tool_use' ? [{ type: 'tool_result' as const, tool_use_id: b.id, content: 'Wrong tool.', is_error: true }] : []));
    turn.push({ role: 'user', content: [...results, { type: 'text', text: instruction }] });
  }
  return turn;
}
