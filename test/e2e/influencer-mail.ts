import type { DeliveredMessage, GoogleSandbox, HistoryNotification, MailView } from '@parley/sandbox';

export interface InfluencerReply extends DeliveredMessage {
  /** What Gmail would announce for this message through Pub/Sub. */
  notification: HistoryNotification;
}

const recipient = (m: MailView) => (/<([^>]+)>/.exec(m.to)?.[1] ?? m.to).trim().toLowerCase();

/** Our latest email to this address (the one an influencer's mail client answers). */
export function lastEmailTo(google: GoogleSandbox, email: string): MailView {
  const ours = google.sent().filter((m) => recipient(m) === email.toLowerCase());
  const last = ours.sort((a, b) => a.date.getTime() - b.date.getTime()).at(-1);
  if (!last) throw new Error(`no email was sent to ${email}`);
  return last;
}

/**
 * The influencer answers our latest email as a mail client does: in its thread, `Re:` its
 * subject, In-Reply-To its Message-ID. Nothing is pushed: the caller decides when (and how
 * often) Gmail's notification reaches the API.
 */
export function replyAs(google: GoogleSandbox, influencer: { name: string; email: string }, text: string): InfluencerReply {
  const ours = lastEmailTo(google, influencer.email);
  const delivered = google.deliverInbound({
    threadId: ours.threadId,
    from: `${influencer.name} <${influencer.email}>`,
    subject: /^re:/i.test(ours.subject) ? ours.subject : `Re: ${ours.subject}`,
    text: `${text}\n\n-- \n${influencer.name}\n`,
    inReplyTo: ours.messageIdHdr,
  });
  return { ...delivered, notification: { emailAddress: google.mailbox, historyId: delivered.historyId } };
}
