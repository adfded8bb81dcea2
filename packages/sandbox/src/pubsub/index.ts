export * from './certs.server';
export * from './oidc.signer';
export * from './pubsub.pusher';
