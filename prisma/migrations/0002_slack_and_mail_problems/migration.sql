-- AlterTable
ALTER TABLE "Negotiation" ADD COLUMN "claimedBySlackId" TEXT;

-- AlterTable
ALTER TABLE "InboundMessage" ADD COLUMN "problem" TEXT;

-- AlterTable
ALTER TABLE "DeadLetter" ADD COLUMN "discardedAt" DATETIME;
ALTER TABLE "DeadLetter" ADD COLUMN "resolvedBy" TEXT;

-- CreateTable
CREATE TABLE "SlackMessage" (
    "alertId" TEXT NOT NULL PRIMARY KEY,
    "kind" TEXT NOT NULL,
    "channel" TEXT NOT NULL,
    "ts" TEXT,
    "threadTs" TEXT,
    "negotiationId" TEXT,
    "deadLetterId" TEXT,
    "postedAt" DATETIME,
    "actedAt" DATETIME,
    "actedBy" TEXT,
    "action" TEXT,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP
);

-- CreateIndex
CREATE INDEX "SlackMessage_negotiationId_createdAt_idx" ON "SlackMessage"("negotiationId", "createdAt");

-- CreateIndex
CREATE INDEX "SlackMessage_createdAt_idx" ON "SlackMessage"("createdAt");
