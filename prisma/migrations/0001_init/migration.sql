-- CreateTable
CREATE TABLE "Campaign" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "clickupTaskId" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "currency" TEXT NOT NULL DEFAULT 'USD',
    "cpmFloorMinor" INTEGER NOT NULL,
    "cpmCeilingMinor" INTEGER NOT NULL,
    "maxRounds" INTEGER NOT NULL DEFAULT 3,
    "rosterSheetId" TEXT NOT NULL,
    "rosterRange" TEXT NOT NULL DEFAULT 'Roster!A1:F',
    "status" TEXT NOT NULL DEFAULT 'active',
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" DATETIME NOT NULL
);

-- CreateTable
CREATE TABLE "Negotiation" (
    "id" TEXT NOT NULL PRIMARY KEY,
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
    "lastOutboundAt" DATETIME,
    "lastInboundAt" DATETIME,
    "claimedBy" TEXT,
    "claimedAt" DATETIME,
    "escalationReason" TEXT,
    "version" INTEGER NOT NULL DEFAULT 0,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" DATETIME NOT NULL,
    CONSTRAINT "Negotiation_campaignId_fkey" FOREIGN KEY ("campaignId") REFERENCES "Campaign" ("id") ON DELETE RESTRICT ON UPDATE CASCADE
);

-- CreateTable
CREATE TABLE "Transition" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "negotiationId" TEXT NOT NULL,
    "fromState" TEXT NOT NULL,
    "event" TEXT NOT NULL,
    "toState" TEXT NOT NULL,
    "details" JSONB,
    "at" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "Transition_negotiationId_fkey" FOREIGN KEY ("negotiationId") REFERENCES "Negotiation" ("id") ON DELETE RESTRICT ON UPDATE CASCADE
);

-- CreateTable
CREATE TABLE "InboundMessage" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "gmailMessageId" TEXT NOT NULL,
    "negotiationId" TEXT NOT NULL,
    "gmailThreadId" TEXT NOT NULL,
    "messageIdHdr" TEXT,
    "fromDomain" TEXT,
    "subject" TEXT,
    "text" TEXT NOT NULL,
    "receivedAt" DATETIME NOT NULL,
    "processedAt" DATETIME,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "InboundMessage_negotiationId_fkey" FOREIGN KEY ("negotiationId") REFERENCES "Negotiation" ("id") ON DELETE RESTRICT ON UPDATE CASCADE
);

-- CreateTable
CREATE TABLE "OutboxEmail" (
    "id" TEXT NOT NULL PRIMARY KEY,
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
    "sentAt" DATETIME,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "OutboxEmail_negotiationId_fkey" FOREIGN KEY ("negotiationId") REFERENCES "Negotiation" ("id") ON DELETE RESTRICT ON UPDATE CASCADE
);

-- CreateTable
CREATE TABLE "MailboxSync" (
    "mailbox" TEXT NOT NULL PRIMARY KEY,
    "historyCursor" TEXT,
    "highestNotifiedHistoryId" TEXT,
    "watchExpiration" DATETIME,
    "lastSyncAt" DATETIME,
    "updatedAt" DATETIME NOT NULL
);

-- CreateTable
CREATE TABLE "AuditEntry" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "negotiationId" TEXT,
    "campaignId" TEXT,
    "actor" TEXT NOT NULL,
    "action" TEXT NOT NULL,
    "details" JSONB,
    "at" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "AuditEntry_negotiationId_fkey" FOREIGN KEY ("negotiationId") REFERENCES "Negotiation" ("id") ON DELETE SET NULL ON UPDATE CASCADE,
    CONSTRAINT "AuditEntry_campaignId_fkey" FOREIGN KEY ("campaignId") REFERENCES "Campaign" ("id") ON DELETE SET NULL ON UPDATE CASCADE
);

-- CreateTable
CREATE TABLE "DeadLetter" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "queue" TEXT NOT NULL,
    "jobId" TEXT NOT NULL,
    "jobName" TEXT NOT NULL,
    "payload" JSONB NOT NULL,
    "errorClass" TEXT NOT NULL,
    "errorMessage" TEXT NOT NULL,
    "attempts" INTEGER NOT NULL,
    "failedAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "replayedAt" DATETIME,
    "replayJobId" TEXT
);

-- CreateTable
CREATE TABLE "WebhookDelivery" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "queue" TEXT NOT NULL,
    "jobName" TEXT NOT NULL,
    "payload" JSONB NOT NULL,
    "receivedAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP
);

-- CreateTable
CREATE TABLE "IntegrationHealth" (
    "name" TEXT NOT NULL PRIMARY KEY,
    "failingSince" DATETIME,
    "lastError" TEXT,
    "updatedAt" DATETIME NOT NULL
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
