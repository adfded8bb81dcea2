export { ACK_BUDGET_MS, createSlackApp, SLACK_BODY_LIMIT_BYTES, SLACK_EVENTS_PATH, slackDisabledReason, type SlackApp, type SlackAppOptions, type SlackConfig } from './slack-app';
export { ACTION_IDS, pressButton, type ButtonOutcome, type ButtonPress } from './actions.service';
export { runCommand, type CommandInput, type CommandReply } from './commands.service';
export { createOperatorCheck, parseOperators, type OperatorCheck, type OperatorPolicy } from './operators.service';
export { findNegotiation } from './negotiation-ref.service';
export { slackActor, type AlertAction, type AlertActedUpdater, type SlackOpsDeps } from './slack-ops.types';
export { slackForApi, type ApiSlack } from './slack-api.wiring';
