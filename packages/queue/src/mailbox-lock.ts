import type { RedisConnection } from './connection';

/**
 * The Redis key under which one mailbox's sync holds its lock (the `gmail-notifications`
 * handler, packages/engine/src/mailbox-sync.handler.ts). The API reads it too: a notification
 * that arrives while a sync holds it needs no job of its own (see `mailboxSyncRunning`).
 */
export const mailboxLockKey = (prefix: string, mailbox: string) => `${prefix}:parley:lock:mailbox:${mailbox.toLowerCase()}`;

/**
 * Whether a sync of the mailbox holds its lock now. Asked by the API only after the
 * notification's history id is committed as the mailbox's highest notified one: a lock held
 * at that moment is released after it, and the holder reads the highest notified id again
 * after its release (and syncs again when it moved past its cursor), so the notification is
 * covered without a job. A lock not held means a job, as for any notification.
 */
export async function mailboxSyncRunning(redis: RedisConnection, prefix: string, mailbox: string): Promise<boolean> {
  return (await redis.exists(mailboxLockKey(prefix, mailbox))) === 1;
}
