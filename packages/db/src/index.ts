export * from './client';
export * from './migrations';
export { BACKSTOP_PAGES, startWalCheckpointer, type CheckpointResult, type WalCheckpointer } from './wal-checkpointer';
export { createGroupCommit, GROUP_COMMIT_MAX_BATCH, type BatchWriter, type GroupCommit, type Transact } from './group-commit';
export { migratePostgres, appliedPostgresMigrations, readMigrations, MigrationError, type MigrationResult } from './pg-migrate';
export { isBusy, isSqlTx, mailboxScope, negotiationScope, SCOPE_LOCK_SPACE, scopeLockKey, TRANSACTION_MAX_WAIT_MS, WRITE_LOCK_KEY, type Sql, type SqlArg, type SqlDb, type TransactionOptions } from './sql';
export {
  BIND_CHUNK,
  chunksOf,
  findMailboxSync,
  findNegotiation,
  findNegotiationWithCampaign,
  findOutboxWithNegotiation,
  findSlackMessage,
  latestEscalation,
  negotiationState,
  negotiationsOfThreads,
  pendingSendsWithoutThread,
  recordedInboundIds,
  sentAfter,
  stateWithPendingSends,
  threadSubject,
  unansweredInbound,
  type NegotiationWithCampaign,
  type OutboxWithNegotiation,
  type StateWithPendingSends,
} from './reads';
export { createSlackMessageOnce, insertAuditEntries, insertAuditEntry, insertInboundMessage, insertNegotiations, recordMailboxCursor, type AuditRow, type InboundRow, type NewNegotiation, type NewSlackMessage } from './writes';
export type { Campaign, InboundMessage, MailboxSync, Negotiation, OutboxEmail } from './generated/prisma/client';
