import type { WebClient } from '@slack/web-api';
import type { Logger } from '@parley/logging';

/** Who may act from Slack: SLACK_OPERATORS parsed once. */
export interface OperatorPolicy {
  /** Unset SLACK_OPERATORS: everyone in the workspace may act. */
  everyone: boolean;
  users: ReadonlySet<string>;
  /** A user group (S…) whose members may act, looked up through usergroups.users.list. */
  group: string | undefined;
}

export function parseOperators(value: string | undefined): OperatorPolicy {
  const ids = (value ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  return { everyone: ids.length === 0, users: new Set(ids.filter((id) => !id.startsWith('S'))), group: ids.find((id) => id.startsWith('S')) };
}

export interface OperatorCheck {
  allowed: (userId: string) => Promise<boolean>;
  policy: OperatorPolicy;
}

/** Group membership changes rarely; a minute of staleness is the price of not calling Slack per click. */
const GROUP_TTL_MS = 60_000;

/**
 * Decides whether a Slack user may act. A group lookup that fails refuses (fails closed) and is
 * retried at the next request: a Slack outage must not turn into "everyone may act".
 */
export function createOperatorCheck(deps: { operators: string | undefined; client: WebClient; log: Logger; now?: () => number; ttlMs?: number }): OperatorCheck {
  const policy = parseOperators(deps.operators);
  const now = deps.now ?? Date.now;
  const ttl = deps.ttlMs ?? GROUP_TTL_MS;
  let members: { ids: ReadonlySet<string>; at: number } | undefined;
  let inflight: Promise<ReadonlySet<string>> | undefined;

  const groupMembers = async (group: string): Promise<ReadonlySet<string>> => {
    if (members && now() - members.at < ttl) return members.ids;
    inflight ??= deps.client.usergroups.users
      .list({ usergroup: group })
      .then((res) => {
        const ids = new Set(res.users ?? []);
        members = { ids, at: now() };
        return ids;
      })
      .finally(() => {
        inflight = undefined;
      });
    return inflight;
  };

  return {
    policy,
    allowed: async (userId) => {
      if (policy.everyone || policy.users.has(userId)) return true;
      if (!policy.group) return false;
      try {
        return (await groupMembers(policy.group)).has(userId);
      } catch (error) {
        deps.log.warn('slack operator group lookup failed; refusing', { group: policy.group, error: (error as Error).message });
        return false;
      }
    },
  };
}
