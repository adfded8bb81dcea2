-- AlterTable
ALTER TABLE "OutboxEmail" ADD COLUMN "attemptedAt" DATETIME;

-- Rows already pending or sent may have been handed to Gmail by code that did not mark them:
-- their send looks the Message-ID up first, as every send did before.
UPDATE "OutboxEmail" SET "attemptedAt" = COALESCE("sentAt", "createdAt") WHERE "status" IN ('pending', 'sent');
