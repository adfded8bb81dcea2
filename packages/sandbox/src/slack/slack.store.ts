/** What the Slack stand-in keeps: channels, users, user groups, messages and ephemerals. */

export interface SlackMetadata {
  event_type: string;
  event_payload: Record<string, unknown>;
}

export interface SlackSandboxMessage {
  type: 'message';
  channel: string;
  ts: string;
  thread_ts?: string;
  text: string;
  blocks?: unknown[];
  metadata?: SlackMetadata;
  /** The bot user that posted it. */
  user: string;
  bot_id: string;
  /** Set by chat.update. */
  edited?: { user: string; ts: string };
  reply_count?: number;
}

export interface SlackSandboxEphemeral {
  channel: string;
  user: string;
  message_ts: string;
  thread_ts?: string;
  text: string;
  blocks?: unknown[];
}

export interface SlackSandboxUser {
  id: string;
  name: string;
  real_name: string;
  is_bot?: boolean;
}

export interface SlackSandboxChannel {
  id: string;
  name: string;
  /** The user a direct-message channel is with. */
  dmWith?: string;
}

export const SANDBOX_BOT_USER = 'U0PARLEYBOT';
export const SANDBOX_BOT_ID = 'B0PARLEYBOT';
export const SANDBOX_TEAM_ID = 'T0PARLEY';

export class SlackStore {
  private readonly channels = new Map<string, SlackSandboxChannel>();
  private readonly users = new Map<string, SlackSandboxUser>();
  private readonly usergroups = new Map<string, string[]>();
  private readonly messageLog: SlackSandboxMessage[] = [];
  private readonly ephemeralLog: SlackSandboxEphemeral[] = [];
  private lastTsMicros = 0;

  addChannel(channel: SlackSandboxChannel): void {
    this.channels.set(channel.id, channel);
  }

  addUser(user: SlackSandboxUser): void {
    this.users.set(user.id, user);
  }

  setUsergroup(id: string, users: string[]): void {
    this.usergroups.set(id, [...users]);
  }

  user(id: string): SlackSandboxUser | undefined {
    return this.users.get(id);
  }

  usergroup(id: string): string[] | undefined {
    const users = this.usergroups.get(id);
    return users ? [...users] : undefined;
  }

  /** Resolves a channel id, `#name` or `name` the way chat.postMessage accepts them. */
  resolveChannel(idOrName: string): SlackSandboxChannel | undefined {
    const byId = this.channels.get(idOrName);
    if (byId) return byId;
    const name = idOrName.replace(/^#/, '');
    return [...this.channels.values()].find((c) => c.name === name && c.dmWith === undefined);
  }

  /** The direct-message channel with a user, created on first use as Slack does. */
  openDm(userId: string): SlackSandboxChannel {
    const existing = [...this.channels.values()].find((c) => c.dmWith === userId);
    if (existing) return existing;
    const dm = { id: `D${userId.slice(1)}`, name: userId, dmWith: userId };
    this.channels.set(dm.id, dm);
    return dm;
  }

  /** Unique, increasing message timestamps in Slack's `seconds.micros` shape. */
  nextTs(): string {
    const micros = Math.max(Date.now() * 1000, this.lastTsMicros + 1);
    this.lastTsMicros = micros;
    return `${Math.floor(micros / 1_000_000)}.${String(micros % 1_000_000).padStart(6, '0')}`;
  }

  post(message: SlackSandboxMessage): SlackSandboxMessage {
    this.messageLog.push(message);
    if (message.thread_ts) {
      const parent = this.find(message.channel, message.thread_ts);
      if (parent) parent.reply_count = (parent.reply_count ?? 0) + 1;
    }
    return message;
  }

  postEphemeral(ephemeral: SlackSandboxEphemeral): void {
    this.ephemeralLog.push(ephemeral);
  }

  find(channel: string, ts: string): SlackSandboxMessage | undefined {
    return this.messageLog.find((m) => m.channel === channel && m.ts === ts);
  }

  /** Top-level messages and nothing from threads, newest first, as conversations.history answers. */
  history(channel: string): SlackSandboxMessage[] {
    return this.messageLog.filter((m) => m.channel === channel && (m.thread_ts === undefined || m.thread_ts === m.ts)).reverse();
  }

  /** The parent and its replies, oldest first, as conversations.replies answers. */
  replies(channel: string, ts: string): SlackSandboxMessage[] {
    // Slack takes the ts of the parent or of any reply and answers with the whole thread.
    const root = this.find(channel, ts)?.thread_ts ?? ts;
    return this.messageLog.filter((m) => m.channel === channel && (m.ts === root || m.thread_ts === root));
  }

  messages(channel?: string): SlackSandboxMessage[] {
    return this.messageLog.filter((m) => channel === undefined || m.channel === channel).map((m) => structuredClone(m));
  }

  ephemerals(channel?: string): SlackSandboxEphemeral[] {
    return this.ephemeralLog.filter((m) => channel === undefined || m.channel === channel).map((m) => structuredClone(m));
  }
}
