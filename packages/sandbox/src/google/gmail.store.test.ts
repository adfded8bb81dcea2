import { GmailMailbox } from './gmail.store';

const mime = (messageId: string, subject: string) =>
  Buffer.from(`From: a@example.com\r\nTo: deals@brand.test\r\nSubject: ${subject}\r\nMessage-ID: ${messageId}\r\n\r\nbody\r\n`);

describe('GmailMailbox: finding a message by its Message-ID header', () => {
  it('finds the first message stored under an id, with or without brackets, and the next one once that is deleted', () => {
    const mailbox = new GmailMailbox('deals@brand.test', 1000);
    const first = mailbox.deliverRaw(mime('<dup@parley.test>', 'one'), undefined);
    const other = mailbox.deliverRaw(mime('  <other@parley.test> ', 'two'), undefined);
    const second = mailbox.deliverRaw(mime('<dup@parley.test>', 'three'), undefined);

    expect(mailbox.findByMessageIdHeader('<dup@parley.test>')?.id).toBe(first.id);
    expect(mailbox.findByMessageIdHeader('dup@parley.test')?.id).toBe(first.id);
    expect(mailbox.findByMessageIdHeader('<other@parley.test>')?.id).toBe(other.id);
    expect(mailbox.findByMessageIdHeader('<dup@parley.tes>')).toBeUndefined();

    expect(mailbox.deleteMessage(first.id)).toBe(true);
    expect(mailbox.findByMessageIdHeader('<dup@parley.test>')?.id).toBe(second.id);
    expect(mailbox.deleteMessage(second.id)).toBe(true);
    expect(mailbox.findByMessageIdHeader('<dup@parley.test>')).toBeUndefined();
    expect(mailbox.findByMessageIdHeader('<other@parley.test>')?.id).toBe(other.id);
  });

  it('finds a message that has no Message-ID header under no id, and the empty id finds nothing', () => {
    const mailbox = new GmailMailbox('deals@brand.test', 1000);
    mailbox.deliverRaw(Buffer.from('From: a@example.com\r\nSubject: none\r\n\r\nbody\r\n'), undefined);
    expect(mailbox.findByMessageIdHeader('')).toBeUndefined();
    expect(mailbox.findByMessageIdHeader('<>')).toBeUndefined();
  });
});
