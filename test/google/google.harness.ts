import { createGmailClient, createGoogleAuth, createSheetsClient, type GmailClient, type SheetsClient } from '@parley/google';
import { startGoogleSandbox, type GoogleSandbox, type GoogleSandboxOptions } from '@parley/sandbox/google';
import type { OAuth2Client } from 'google-auth-library';

export interface GoogleHarness {
  sandbox: GoogleSandbox;
  auth: OAuth2Client;
  gmail: GmailClient;
  sheets: SheetsClient;
}

/** The sandbox plus the product's clients configured exactly as a worker configures them (from env). */
export async function startGoogleHarness(options: GoogleSandboxOptions = {}): Promise<GoogleHarness> {
  const sandbox = await startGoogleSandbox(options);
  const env = sandbox.env();
  const auth = createGoogleAuth(env);
  return {
    sandbox,
    auth,
    gmail: createGmailClient({ auth, rootUrl: env.GOOGLE_API_ROOT_URL }),
    sheets: createSheetsClient({ auth, rootUrl: env.GOOGLE_API_ROOT_URL }),
  };
}

/** Catches the rejection of `promise` so a test can assert on the error object itself. */
export async function failure(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof Error) return error;
    throw new Error(`rejected with a non-Error: ${String(error)}`);
  }
  throw new Error('expected a rejection, but the promise resolved');
}
