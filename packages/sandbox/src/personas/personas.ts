import type { DeliveredMessage, GoogleSandbox, MailView } from '../google';
import { formatUsd, lastAmountCents, ownText } from './money';

/** Scripted influencers. `target` (counters) is in dollars and should sit inside the campaign's ceiling. */
export type Persona =
  | { kind: 'accepts'; name?: string }
  | { kind: 'counters'; target: number; name?: string }
  | { kind: 'greedy'; name?: string }
  | { kind: 'out_of_office'; name?: string }
  | { kind: 'silent'; name?: string };

export type PersonaKind = Persona['kind'];

/** Where a negotiation with each persona should end. */
export const EXPECTED_OUTCOME: Record<PersonaKind, 'agreed' | 'escalated' | 'stale'> = {
  accepts: 'agreed',
  counters: 'agreed',
  greedy: 'escalated',
  out_of_office: 'agreed',
  silent: 'stale',
};

/** The exact sentences the agent's reader is built to understand. */
export const PHRASES = {
  accept: (cents: number) => `That works for me, happy to accept ${formatUsd(cents)}.`,
  counter: (cents: number) => `Thanks for reaching out! My rate for this would be ${formatUsd(cents)}.`,
  outOfOffice: 'I am currently out of the office and will reply when I am back.',
  back: (cents: number | null) => (cents === null ? 'Back now. What rate did you have in mind?' : `Back now. ${PHRASES.accept(cents)}`),
};

export interface PersonaReply {
  influencer: string;
  kind: PersonaKind;
  inReplyToGmailId: string;
  text: string;
  delivered: DeliveredMessage;
}

export interface PersonasHandle {
  /** Stops answering and cancels replies not yet delivered. */
  detach(): void;
  /** Replies scheduled but not yet delivered. */
  pending(): number;
  replies(): PersonaReply[];
}

interface PersonaState {
  persona: Persona;
  email: string;
  name: string;
  answered: Set<string>;
  lastOfferCents: number | null;
  lastAgentMail: MailView | null;
  /** Accepted a deal (or will, once back from the out-of-office): no further answers. */
  done: boolean;
  away: boolean;
}

type PersonaSandbox = Pick<GoogleSandbox, 'onSent' | 'deliverInbound'>;

function displayName(email: string): string {
  const local = email.split('@')[0] ?? email;
  return local
    .split(/[._-]+/)
    .filter(Boolean)
    .map((w) => w[0]?.toUpperCase() + w.slice(1))
    .join(' ');
}

/** A reply as a mail client writes it: the answer, a signature, then the quoted original. */
function composeReply(line: string, state: PersonaState, agent: MailView): string {
  const quoted = agent.text
    .replace(/\r\n/g, '\n')
    .trimEnd()
    .split('\n')
    .map((l) => (l === '' ? '>' : `> ${l}`))
    .join('\n');
  return `${line}\n\n-- \n${state.name}\n\nOn ${agent.date.toUTCString()}, ${agent.from} wrote:\n${quoted}\n`;
}

/**
 * Makes the sandbox's influencers answer the agent: each email sent to a persona's address is
 * answered in its thread after `delayMs` (In-Reply-To / References the agent's Message-ID).
 */
export function attachPersonas(sandbox: PersonaSandbox, options: { delayMs: number; personas: Record<string, Persona> }): PersonasHandle {
  const states = new Map<string, PersonaState>();
  for (const [email, persona] of Object.entries(options.personas)) {
    const key = email.trim().toLowerCase();
    states.set(key, { persona, email: key, name: persona.name ?? displayName(key), answered: new Set(), lastOfferCents: null, lastAgentMail: null, done: false, away: false });
  }
  const timers = new Set<NodeJS.Timeout>();
  const log: PersonaReply[] = [];
  let detached = false;

  const later = (ms: number, fn: () => void) => {
    const timer = setTimeout(() => {
      timers.delete(timer);
      if (!detached) fn();
    }, ms);
    timers.add(timer);
  };

  const deliver = (state: PersonaState, line: string, agent: MailView | null) => {
    if (!agent) return;
    const subject = /^re:/i.test(agent.subject) ? agent.subject : `Re: ${agent.subject}`;
    const text = composeReply(line, state, agent);
    try {
      const delivered = sandbox.deliverInbound({
        threadId: agent.threadId,
        from: `${state.name} <${state.email}>`,
        subject,
        text,
        inReplyTo: agent.messageIdHdr,
      });
      log.push({ influencer: state.email, kind: state.persona.kind, inReplyToGmailId: agent.id, text, delivered });
    } catch (error) {
      console.error('persona reply could not be delivered:', error instanceof Error ? error.message : error);
    }
  };

  const onSent = (mail: MailView) => {
    const recipient = (/<([^>]+)>/.exec(mail.to)?.[1] ?? mail.to.split(',')[0] ?? '').trim().toLowerCase();
    const state = states.get(recipient);
    if (!state || state.answered.has(mail.id)) return;
    state.answered.add(mail.id);
    state.lastAgentMail = mail;
    state.lastOfferCents = lastAmountCents(ownText(mail.text)) ?? state.lastOfferCents;
    const offer = state.lastOfferCents;
    const { persona } = state;
    if (persona.kind === 'silent' || state.done || state.away) return;
    if (persona.kind === 'out_of_office') {
      state.away = true;
      later(options.delayMs, () => {
        deliver(state, PHRASES.outOfOffice, mail);
        later(options.delayMs, () => {
          state.away = false;
          state.done = state.lastOfferCents !== null;
          deliver(state, PHRASES.back(state.lastOfferCents), state.lastAgentMail);
        });
      });
      return;
    }
    if (offer === null) return;
    let line: string;
    if (persona.kind === 'greedy') {
      line = PHRASES.counter(offer * 10);
    } else if (persona.kind === 'counters' && offer < Math.round(persona.target * 100)) {
      line = PHRASES.counter(Math.round(persona.target * 100));
    } else {
      line = PHRASES.accept(offer);
      state.done = true;
    }
    later(options.delayMs, () => deliver(state, line, mail));
  };

  const unsubscribe = sandbox.onSent(onSent);
  return {
    detach: () => {
      detached = true;
      unsubscribe();
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
    },
    pending: () => timers.size,
    replies: () => [...log],
  };
}
