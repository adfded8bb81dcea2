-- CreateSchema
CREATE SCHEMA IF NOT EXISTS "public";

-- CreateTable
CREATE TABLE "Campaign" (
    "id" TEXT NOT NULL,
    "clickupTaskId" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "currency" TEXT NOT NULL DEFAULT 'USD',
    "cpmFloorMinor" INTEGER NOT NULL,
    "cpmCeilingMinor" INTEGER NOT NULL,
    "maxRounds" INTEGER NOT NULL DEFAULT 3,
    "rosterSheetId" TEXT NOT NULL,
    "rosterRange" TEXT NOT NULL DEFAULT 'Roster!A1:F',
    "status" TEXT NOT NULL DEFAULT 'active',
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "Campaign_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "Negotiation" (
    "id" TEXT NOT NULL,
    "campaignId" TEXT NOT NULL,
    "influencerName" TEXT NOT NULL,
    "influencerEmail" TEXT NOT NULL,
    "platform" TEXT NOT NULL,
    "averageViews" INTEGER NOT NULL,
    "deliverables" TEXT NOT NULL,
    "currency" TEXT NOT NULL DEFAULT 'USD',
    "state" TEXT NOT NULL DEFAULT 'new',
    "round" INTEGER NOT NULL DEFAULT 0,
    "currentOfferMinor" INTEGER,
    "lastAskMinor" INTEGER,
    "agreedRateMinor" INTEGER,
    "gmailThreadId" TEXT,
    "lastMessageIdHdr" TEXT,
    "followUps" INTEGER NOT NULL DEFAULT 0,
    "lastOutboundAt" TIMESTAMP(3),
    "lastInboundAt" TIMESTAMP(3),
    "claimedBy" TEXT,
    "claimedAt" TIMESTAMP(3),
    "claimedBySlackId" TEXT,
    "escalationReason" TEXT,
    "version" INTEGER NOT NULL DEFAULT 0,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "Negotiation_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "Transition" (
    "id" TEXT NOT NULL,
    "negotiationId" TEXT NOT NULL,
    "fromState" TEXT NOT NULL,
    "event" TEXT NOT NULL,
    "toState" TEXT NOT NULL,
    "details" JSONB,
    "at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "Transition_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "InboundMessage" (
    "id" TEXT NOT NULL,
    "gmailMessageId" TEXT NOT NULL,
    "negotiationId" TEXT NOT NULL,
    "gmailThreadId" TEXT NOT NULL,
    "messageIdHdr" TEXT,
    "fromDomain" TEXT,
    "subject" TEXT,
    "text" TEXT NOT NULL,
    "receivedAt" TIMESTAMP(3) NOT NULL,
    "processedAt" TIMESTAMP(3),
    "problem" TEXT,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "InboundMessage_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "OutboxEmail" (
    "id" TEXT NOT NULL,
    "negotiationId" TEXT NOT NULL,
    "kind" TEXT NOT NULL,
    "messageIdHdr" TEXT NOT NULL,
    "toAddress" TEXT NOT NULL,
    "subject" TEXT NOT NULL,
    "body" TEXT NOT NULL,
    "inReplyTo" TEXT,
    "references" TEXT,
    "gmailThreadId" TEXT,
    "status" TEXT NOT NULL DEFAULT 'pending',
    "gmailMessageId" TEXT,
    "sentAt" TIMESTAMP(3),
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "OutboxEmail_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "MailboxSync" (
    "mailbox" TEXT NOT NULL,
    "historyCursor" TEXT,
    "highestNotifiedHistoryId" TEXT,
    "watchExpiration" TIMESTAMP(3),
    "lastSyncAt" TIMESTAMP(3),
    "updatedAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "MailboxSync_pkey" PRIMARY KEY ("mailbox")
);

-- CreateTable
CREATE TABLE "AuditEntry" (
    "id" TEXT NOT NULL,
    "negotiationId" TEXT,
    "campaignId" TEXT,
    "actor" TEXT NOT NULL,
    "action" TEXT NOT NULL,
    "details" JSONB,
    "at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "AuditEntry_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "DeadLetter" (
    "id" TEXT NOT NULL,
    "queue" TEXT NOT NULL,
    "jobId" TEXT NOT NULL,
    "jobName" TEXT NOT NULL,
    "payload" JSONB NOT NULL,
    "errorClass" TEXT NOT NULL,
    "errorMessage" TEXT NOT NULL,
    "attempts" INTEGER NOT NULL,
    "failedAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "replayedAt" TIMESTAMP(3),
    "replayJobId" TEXT,
    "discardedAt" TIMESTAMP(3),
    "resolvedBy" TEXT,

    CONSTRAINT "DeadLetter_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "WebhookDelivery" (
    "id" TEXT NOT NULL,
    "queue" TEXT NOT NULL,
    "jobName" TEXT NOT NULL,
    "payload" JSONB NOT NULL,
    "receivedAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "WebhookDelivery_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "IntegrationHealth" (
    "name" TEXT NOT NULL,
    "failingSince" TIMESTAMP(3),
    "lastError" TEXT,
    "updatedAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "IntegrationHealth_pkey" PRIMARY KEY ("name")
);

-- CreateTable
CREATE TABLE "SlackMessage" (
    "alertId" TEXT NOT NULL,
    "kind" TEXT NOT NULL,
    "channel" TEXT NOT NULL,
    "ts" TEXT,
    "threadTs" TEXT,
    "negotiationId" TEXT,
    "deadLetterId" TEXT,
    "postedAt" TIMESTAMP(3),
    "actedAt" TIMESTAMP(3),
    "actedBy" TEXT,
    "action" TEXT,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "SlackMessage_pkey" PRIMARY KEY ("alertId")
);

-- CreateIndex
CREATE UNIQUE INDEX "Campaign_clickupTaskId_key" ON "Campaign"("clickupTaskId");

-- CreateIndex
CREATE UNIQUE INDEX "Negotiation_gmailThreadId_key" ON "Negotiation"("gmailThreadId");

-- CreateIndex
CREATE INDEX "Negotiation_state_idx" ON "Negotiation"("state");

-- CreateIndex
CREATE UNIQUE INDEX "Negotiation_campaignId_influencerEmail_key" ON "Negotiation"("campaignId", "influencerEmail");

-- CreateIndex
CREATE INDEX "Transition_negotiationId_at_idx" ON "Transition"("negotiationId", "at");

-- CreateIndex
CREATE UNIQUE INDEX "InboundMessage_gmailMessageId_key" ON "InboundMessage"("gmailMessageId");

-- CreateIndex
CREATE INDEX "InboundMessage_negotiationId_processedAt_idx" ON "InboundMessage"("negotiationId", "processedAt");

-- CreateIndex
CREATE UNIQUE INDEX "OutboxEmail_messageIdHdr_key" ON "OutboxEmail"("messageIdHdr");

-- CreateIndex
CREATE INDEX "OutboxEmail_status_idx" ON "OutboxEmail"("status");

-- CreateIndex
CREATE INDEX "AuditEntry_negotiationId_at_idx" ON "AuditEntry"("negotiationId", "at");

-- CreateIndex
CREATE INDEX "AuditEntry_campaignId_at_idx" ON "AuditEntry"("campaignId", "at");

-- CreateIndex
CREATE INDEX "DeadLetter_failedAt_idx" ON "DeadLetter"("failedAt");

-- CreateIndex
CREATE UNIQUE INDEX "DeadLetter_queue_jobId_key" ON "DeadLetter"("queue", "jobId");

-- CreateIndex
CREATE INDEX "WebhookDelivery_receivedAt_idx" ON "WebhookDelivery"("receivedAt");

-- CreateIndex
CREATE INDEX "SlackMessage_negotiationId_createdAt_idx" ON "SlackMessage"("negotiationId", "createdAt");

-- CreateIndex
CREATE INDEX "SlackMessage_createdAt_idx" ON "SlackMessage"("createdAt");

-- AddForeignKey
ALTER TABLE "Negotiation" ADD CONSTRAINT "Negotiation_campaignId_fkey" FOREIGN KEY ("campaignId") REFERENCES "Campaign"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "Transition" ADD CONSTRAINT "Transition_negotiationId_fkey" FOREIGN KEY ("negotiationId") REFERENCES "Negotiation"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "InboundMessage" ADD CONSTRAINT "InboundMessage_negotiationId_fkey" FOREIGN KEY ("negotiationId") REFERENCES "Negotiation"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "OutboxEmail" ADD CONSTRAINT "OutboxEmail_negotiationId_fkey" FOREIGN KEY ("negotiationId") REFERENCES "Negotiation"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "AuditEntry" ADD CONSTRAINT "AuditEntry_negotiationId_fkey" FOREIGN KEY ("negotiationId") REFERENCES "Negotiation"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "AuditEntry" ADD CONSTRAINT "AuditEntry_campaignId_fkey" FOREIGN KEY ("campaignId") REFERENCES "Campaign"("id") ON DELETE SET NULL ON UPDATE CASCADE;
