export { attachPersonas, EXPECTED_OUTCOME, PHRASES } from './personas';
export type { Persona, PersonaKind, PersonaReply, PersonasHandle } from './personas';
export { formatUsd, lastAmountCents } from './money';
