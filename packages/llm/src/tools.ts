import type Anthropic from '@anthropic-ai/sdk';
import { z } from 'zod';

/**
 * The two tools the model must call (tool_choice forces the named one). Each has the JSON
 * schema the API shows the model and the zod schema that checks what comes back.
 */
export const READ_REPLY_TOOL = 'read_reply';
export const DRAFT_EMAIL_TOOL = 'draft_email';
export type ToolName = typeof READ_REPLY_TOOL | typeof DRAFT_EMAIL_TOOL;
export type ToolDefinition = Anthropic.Tool & { name: ToolName };

export const REPLY_INTENTS = ['accept', 'counter', 'decline', 'question', 'out_of_office', 'unclear'] as const;

export const readReplyTool: ToolDefinition = {
  name: READ_REPLY_TOOL,
  description: "Report what the influencer's reply means: intent, the rate they ask for, its currency, and whether it is hostile.",
  input_schema: {
    type: 'object',
    properties: {
      intent: { type: 'string', enum: [...REPLY_INTENTS], description: 'What the influencer wants.' },
      asked_rate: {
        type: ['number', 'null'],
        description: 'The amount they ask for or agree to, as a decimal number in major units (1250.00 for $1,250); null if none.',
      },
      currency: { type: ['string', 'null'], description: 'ISO 4217 code of the currency they named (USD for $, EUR for €); null if none.' },
      hostile: { type: 'boolean', description: 'True if the reply insults, threatens, or asks us to stop contacting them.' },
      reason: { type: 'string', description: 'One short sentence explaining the reading.' },
    },
    required: ['intent', 'asked_rate', 'currency', 'hostile', 'reason'],
  },
};

export const readReplyOutput = z.object({
  intent: z.enum(REPLY_INTENTS),
  asked_rate: z.number().finite().nonnegative().max(1e12).nullable().optional(),
  currency: z
    .string()
    .trim()
    .regex(/^[A-Za-z]{3}$/, 'must be a three-letter ISO 4217 code such as USD')
    .nullable()
    .optional(),
  hostile: z.boolean(),
  reason: z.string().trim().min(1).max(2000),
});
export type ReadReplyOutput = z.infer<typeof readReplyOutput>;

export const draftEmailTool: ToolDefinition = {
  name: DRAFT_EMAIL_TOOL,
  description: 'Submit the email to send: a subject line and a plain-text body.',
  input_schema: {
    type: 'object',
    properties: {
      subject: { type: 'string', description: 'A short subject line (one line).' },
      body: { type: 'string', description: 'The plain-text email body, greeting to sign-off.' },
    },
    required: ['subject', 'body'],
  },
};

export const draftEmailOutput = z.object({
  subject: z
    .string()
    .trim()
    .min(1)
    .max(200)
    .refine((s) => !/[\r\n]/.test(s), 'must be a single line'),
  body: z
    .string()
    .trim()
    .min(1)
    .max(5000)
    .refine((s) => !/\{\{|\}\}/.test(s), 'must not contain template placeholders'),
});
export type DraftEmailOutput = z.infer<typeof draftEmailOutput>;

/** A zod failure as one line the model can act on (field paths and messages, never values). */
export function describeIssues(error: z.ZodError): string {
  return error.issues.map((i) => `${i.path.length > 0 ? i.path.join('.') : 'input'}: ${i.message}`).join('; ');
}
