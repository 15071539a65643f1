import type { TableReport } from '../schema/schema-manager.js';
import type { TableSchema } from '../schema/table-schema.js';
import type {
  ApiKeyRecord,
  AuditEntry,
  DqResultRecord,
  IntegrationRecord,
  PriceOverrideRecord,
  Provider,
  ValidationStatus,
  PipelineConfigRecord,
  QueueCandidate,
  QueueItem,
  ScheduleRecord,
  RunFilter,
  RunStatus,
  StepLogPatch,
  OrgProfile,
  RunRecord,
  StepLogRecord,
  Subscription,
  SubscriptionStatus,
  UsageQuota,
} from './records.js';

/**
 * The control-store port: organizations, keys, plans, credentials, queue and run state.
 * Implementations: duckdb/ (embedded) and, later, postgres/. Repositories obtained inside
 * `transaction` share one transaction.
 */
export const CENTRAL_DATASET = 'organizations';

export interface OrgRepository {
  getProfile(orgSlug: string): Promise<OrgProfile | undefined>;
  insertProfile(profile: OrgProfile): Promise<void>;
  markDeleted(orgSlug: string, at: Date): Promise<void>;
  getSubscription(orgSlug: string): Promise<Subscription | undefined>;
  insertSubscription(sub: Subscription): Promise<void>;
  updateSubscription(
    orgSlug: string,
    patch: Partial<Pick<Subscription, 'plan_name' | 'daily_limit' | 'monthly_limit' | 'concurrent_limit' | 'trial_end_date'>> & {
      status?: SubscriptionStatus;
    },
    at: Date,
  ): Promise<void>;
  insertUsage(row: UsageQuota): Promise<void>;
  getUsage(orgSlug: string, usageDate: string): Promise<UsageQuota | undefined>;
  /** Runs admitted from the first of `usageDate`'s month up to and including that day. */
  monthRuns(orgSlug: string, usageDate: string): Promise<number>;
  /** Creates the day's usage row if missing and locks it: admissions of one org serialize on it. */
  lockUsage(orgSlug: string, usageDate: string, at: Date): Promise<void>;
  /** Counts one admitted run on the (locked) day row, with the month total and active runs including it. */
  recordAdmission(orgSlug: string, usageDate: string, monthTotal: number, concurrent: number, at: Date): Promise<void>;
  /** Runs ended: refreshes the day's count of active runs and adds `failures` failed ones. */
  recordRunEnd(orgSlug: string, usageDate: string, concurrent: number, failures: number, at: Date): Promise<void>;
  deactivateSchedules(orgSlug: string, at: Date): Promise<number>;
  /** Removes every row of the organization from every central table. */
  purge(orgSlug: string): Promise<void>;
}

export interface ApiKeyRepository {
  insert(key: ApiKeyRecord): Promise<void>;
  findByHash(hash: string): Promise<ApiKeyRecord | undefined>;
  /** The key with its organization's status, for authentication (one round trip). */
  findForAuth(hash: string): Promise<(ApiKeyRecord & { org_status: string }) | undefined>;
  /** Revokes active keys of the org; returns the hashes revoked. */
  revokeAllForOrg(orgSlug: string, at: Date, reason: string): Promise<string[]>;
  revokeByHash(hash: string, at: Date, reason: string): Promise<ApiKeyRecord | undefined>;
  touchLastUsed(apiKeyIds: readonly string[], at: Date): Promise<void>;
}

export interface AuditRepository {
  append(entry: AuditEntry): Promise<void>;
  listForOrg(orgSlug: string, limit: number): Promise<AuditEntry[]>;
}

export interface RunRepository {
  /** Writes a run that already finished, with its steps, in one go (setup runs). */
  insertCompletedRun(run: RunRecord, steps: readonly StepLogRecord[]): Promise<void>;
  insertRun(run: RunRecord): Promise<void>;
  /** QUEUED → RUNNING as `attempt`; false when the run is no longer queued (e.g. cancelled meanwhile). */
  startRun(pipelineLoggingId: string, at: Date, attempt: number): Promise<boolean>;
  /** Sets the final state (only for `attempt` when given); false when the run had already finished. */
  finishRun(
    pipelineLoggingId: string,
    f: { status: RunStatus; end_time: Date; duration_ms: number | null; error_message: string | null; attempt?: number },
  ): Promise<boolean>;
  /** Closes the open steps of an attempt that lost its worker and moves the run to `next` (QUEUED to retry, or FAILED). */
  interruptRun(pipelineLoggingId: string, attempt: number, next: 'QUEUED' | 'FAILED', message: string, at: Date): Promise<boolean>;
  insertSteps(steps: readonly StepLogRecord[]): Promise<void>;
  updateStep(stepLoggingId: string, patch: StepLogPatch): Promise<void>;
  getRun(orgSlug: string, pipelineLoggingId: string): Promise<RunRecord | undefined>;
  /** Internal lookups only (queue, waiters): every answer to an org goes through getRun. */
  getRunById(pipelineLoggingId: string): Promise<RunRecord | undefined>;
  /** Newest first. */
  listRuns(orgSlug: string, filter: RunFilter): Promise<RunRecord[]>;
  /** Runs of the org that are QUEUED or RUNNING (with `queuedManualOnly`: RUNNING, or QUEUED by a person). */
  countActive(orgSlug: string, opts?: { queuedManualOnly?: boolean }): Promise<number>;
  /** Marks every QUEUED/RUNNING run that has no live queue item (and its open steps) FAILED; returns the orgs touched. */
  failInterrupted(message: string, at: Date): Promise<string[]>;
  listSteps(orgSlug: string, pipelineLoggingId: string): Promise<StepLogRecord[]>;
  insertDqResults(results: readonly DqResultRecord[]): Promise<void>;
  listDqResults(orgSlug: string, pipelineLoggingId: string): Promise<DqResultRecord[]>;
}

export interface PipelineConfigRepository {
  /** The active (latest) version of a config. */
  get(orgSlug: string, configId: string): Promise<PipelineConfigRecord | undefined>;
  /** Active configs of the org, latest version each. */
  list(orgSlug: string): Promise<PipelineConfigRecord[]>;
  /** Highest version ever stored (0 if none), deleted ones included, so versions never repeat. */
  lastVersion(orgSlug: string, configId: string): Promise<number>;
  /** Stores a new version and makes it the active one. */
  insert(record: PipelineConfigRecord): Promise<void>;
  /** Deactivates every version; returns how many were active. */
  deactivate(orgSlug: string, configId: string): Promise<number>;
}

export interface QueueRepository {
  /** False when an item with the same dedupe key exists (the occurrence was enqueued before). */
  enqueue(item: QueueItem): Promise<boolean>;
  /** Claimable items in fair order, only of orgs under their concurrent limit. */
  candidates(now: Date, limit: number): Promise<QueueCandidate[]>;
  /** QUEUED → RUNNING with a lease; the new attempt (fencing token), or undefined if someone else took it. */
  claim(queueId: string, owner: string, leaseUntil: Date, now: Date): Promise<number | undefined>;
  /** Extends the lease; false when it was lost (expired and retaken, or cancelled). */
  renew(queueId: string, owner: string, attempt: number, leaseUntil: Date, now: Date): Promise<boolean>;
  /** RUNNING → DONE for this attempt only. */
  complete(queueId: string, attempt: number, now: Date): Promise<boolean>;
  /** QUEUED/RUNNING → CANCELLED; false when the run is no longer in the queue. */
  cancel(pipelineLoggingId: string, now: Date): Promise<boolean>;
  /** RUNNING items whose lease ran out. */
  expired(now: Date, limit: number): Promise<QueueItem[]>;
  /** An expired item back to QUEUED (its attempt is raised again at the next claim). */
  requeue(queueId: string, attempt: number, availableAt: Date, now: Date): Promise<boolean>;
  /** Ends every lease now (embedded mode at start: no other process can hold one). */
  expireLeases(now: Date): Promise<number>;
  get(pipelineLoggingId: string): Promise<QueueItem | undefined>;
  depth(now: Date): Promise<{ queued: number; oldest: Date | null }>;
}

export interface ScheduleRepository {
  insert(s: ScheduleRecord): Promise<void>;
  /** Replaces the editable fields; false when the org has no such schedule. */
  update(s: ScheduleRecord): Promise<boolean>;
  get(orgSlug: string, scheduleId: string): Promise<ScheduleRecord | undefined>;
  list(orgSlug: string): Promise<ScheduleRecord[]>;
  delete(orgSlug: string, scheduleId: string): Promise<boolean>;
  /** Active schedules whose next occurrence is at or before `now`, oldest first. */
  due(now: Date, limit: number): Promise<ScheduleRecord[]>;
  /** Moves next_run_at on, only if it still is `expectedNext`; false when another ticker did. */
  advance(scheduleId: string, expectedNext: Date, next: Date | null, lastRun: Date | null, now: Date): Promise<boolean>;
}

export interface IntegrationRepository {
  get(orgSlug: string, provider: Provider): Promise<IntegrationRecord | undefined>;
  list(orgSlug: string): Promise<IntegrationRecord[]>;
  /** Stores the org's credential for the provider, replacing any earlier one. */
  replace(record: IntegrationRecord): Promise<void>;
  /** False when the credential is gone (deleted or replaced meanwhile). */
  recordValidation(credentialId: string, v: { status: ValidationStatus; at: Date; error: string | null }): Promise<boolean>;
  delete(orgSlug: string, provider: Provider): Promise<boolean>;
  /** Envelopes of every org, in credential-id order after `afterId` (key rotation). */
  listForRewrap(limit: number, afterId: string): Promise<Pick<IntegrationRecord, 'credential_id' | 'org_slug' | 'provider' | 'encrypted_credential' | 'key_version'>[]>;
  /** Swaps the envelope only if it still is `expected`; false when the credential changed meanwhile. */
  replaceEnvelope(credentialId: string, expected: string, next: { envelope: string; keyVersion: string }): Promise<boolean>;
  listPrices(orgSlug: string, provider: Provider): Promise<PriceOverrideRecord[]>;
  /** Replaces the org's whole price list for the provider. */
  replacePrices(orgSlug: string, provider: Provider, prices: readonly PriceOverrideRecord[]): Promise<void>;
}

export interface Repositories {
  readonly orgs: OrgRepository;
  readonly apiKeys: ApiKeyRepository;
  readonly audit: AuditRepository;
  readonly runs: RunRepository;
  readonly configs: PipelineConfigRepository;
  readonly queue: QueueRepository;
  readonly schedules: ScheduleRepository;
  readonly integrations: IntegrationRepository;
}

export interface CentralSchemaOptions {
  readonly recreateDataset?: boolean;
  readonly recreateTables?: boolean;
}

export interface CentralSchemaReport {
  readonly dataset_created: boolean;
  readonly dataset_recreated: boolean;
  readonly tables: readonly TableReport[];
}

export interface ControlStore extends Repositories {
  readonly kind: 'duckdb' | 'postgres';
  transaction<T>(fn: (repos: Repositories) => Promise<T>): Promise<T>;
  ensureCentralSchema(tables: readonly TableSchema[], opts?: CentralSchemaOptions): Promise<CentralSchemaReport>;
  /** Central tables among `names` that do not exist. */
  missingCentralTables(names: readonly string[]): Promise<string[]>;
  ping(): Promise<void>;
  close(): Promise<void>;
}
