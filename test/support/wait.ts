/**
 * Waits until `check` returns a truthy value, checking every `intervalMs`, and fails with
 * `what` after `timeoutMs`. For conditions that have no event to await (rows in SQLite,
 * state in another process); never a fixed sleep.
 */
export async function waitFor<T>(what: string, check: () => Promise<T> | T, timeoutMs = 15_000, intervalMs = 50): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value) return value as NonNullable<T>;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
