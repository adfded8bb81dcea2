-- CreateIndex
-- The send path and the step read a negotiation's emails by negotiation; without this index
-- each of those reads scanned every email ever sent.
CREATE INDEX "OutboxEmail_negotiationId_createdAt_idx" ON "OutboxEmail"("negotiationId", "createdAt");
