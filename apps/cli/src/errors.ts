/** Bad input: an unknown command or option, a missing or malformed argument. Exit code 2. */
export class UsageError extends Error {
  override name = 'UsageError';
  constructor(
    message: string,
    /** The usage line of the command the input was meant for, shown under the message. */
    readonly usage?: string,
    /** Where to look instead, when there is no command to show the usage of. */
    readonly hint?: string,
  ) {
    super(message);
  }
}

/** The command ran and could not do what was asked (refused, not found, a service failed). Exit code 1. */
export class CommandError extends Error {
  override name = 'CommandError';
}

export const EXIT = { ok: 0, failed: 1, usage: 2 } as const;
