export * from './client';
export * from './migrations';
export { createGroupCommit, GROUP_COMMIT_MAX_BATCH, type BatchWriter, type GroupCommit } from './group-commit';
export { migratePostgres, appliedPostgresMigrations, readMigrations, MigrationError, type MigrationResult } from './pg-migrate';
