export { startGoogleSandbox } from './google-sandbox.server';
export type { DeliveredMessage, FailureOptions, GoogleSandbox, GoogleSandboxOptions, RawDelivery, RequestRecord } from './google-sandbox.server';
export type { HistoryNotification, InboundMail, MailView, WatchState } from './gmail.store';
export type { SandboxCredentials } from './oauth.store';
export { connectGoogleSandbox } from './control.client';
export type { GoogleSandboxControl } from './control.client';
