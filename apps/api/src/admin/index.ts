export { ADMIN_BASE, adminRouter, mountAdmin, type AdminDeps } from './admin.router';
export { ADMIN_REALM, csrfTokens, presentedSecret, type AdminAuthMethod } from './admin-auth.middleware';
export { findStuck, type StuckDeps, type StuckReport } from './stuck.service';
export { negotiationTimeline, type Timeline, type TimelineEvent, type TimelineJob } from './timeline.service';
export { listDeadLetters, type DeadLetterEntry, type DeadLetterList } from './dead-letters.service';
export { PROBLEM_KINDS, type Problem, type ProblemKind } from './problem.types';
export { DEFAULT_QUEUE_THRESHOLDS, stuckThresholds, type QueueThresholds, type StuckThresholds, type ThresholdOverrides } from './thresholds';
