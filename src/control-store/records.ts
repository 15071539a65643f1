/**
 * Rows of the central tables as the rest of the code sees them. Names follow the columns
 * (snake_case) so API responses and logs read the same as the tables.
 */
export const ORG_STATUSES = ['ACTIVE', 'DELETED'] as const;
export type OrgStatus = (typeof ORG_STATUSES)[number];

export const SUBSCRIPTION_STATUSES = ['TRIAL', 'ACTIVE', 'SUSPENDED', 'CANCELLED'] as const;
export type SubscriptionStatus = (typeof SUBSCRIPTION_STATUSES)[number];

export interface OrgProfile {
  readonly org_slug: string;
  readonly company_name: string;
  readonly admin_email: string;
  readonly status: OrgStatus;
  readonly dataset_id: string;
  readonly created_at: Date;
  readonly updated_at: Date;
  readonly deleted_at: Date | null;
}

export interface Subscription {
  readonly org_slug: string;
  readonly plan_name: string;
  readonly status: SubscriptionStatus;
  readonly daily_limit: number;
  readonly monthly_limit: number;
  readonly concurrent_limit: number;
  readonly trial_end_date: string | null;
  readonly created_at: Date;
  readonly updated_at: Date;
}

export interface UsageQuota {
  readonly org_slug: string;
  readonly usage_date: string;
  readonly pipelines_run_today: number;
  readonly pipelines_run_month: number;
  readonly concurrent_running: number;
  readonly pipelines_failed_today: number | null;
  readonly updated_at: Date;
}

export interface ApiKeyRecord {
  readonly api_key_id: string;
  readonly org_slug: string;
  readonly api_key_hash: string;
  readonly fingerprint: string;
  readonly is_active: boolean;
  readonly created_at: Date;
  readonly created_by: string | null;
  readonly revoked_at: Date | null;
  readonly revoked_reason: string | null;
  readonly expires_at: Date | null;
  readonly last_used_at: Date | null;
}

export interface AuditEntry {
  readonly audit_id: string;
  readonly org_slug: string | null;
  readonly actor: string;
  readonly user_id: string | null;
  readonly action: string;
  readonly resource: string | null;
  readonly request_id: string | null;
  readonly status: 'SUCCESS' | 'FAILURE';
  readonly status_code: number | null;
  readonly details: Readonly<Record<string, unknown>> | null;
  readonly created_at: Date;
}

export interface RunRecord {
  readonly pipeline_logging_id: string;
  readonly org_slug: string;
  readonly pipeline_id: string;
  readonly pipeline_path: string | null;
  readonly status: string;
  readonly trigger_type: string;
  readonly trigger_by: string | null;
  readonly user_id: string | null;
  readonly parameters: Readonly<Record<string, unknown>> | null;
  readonly attempt: number;
  readonly created_at: Date;
  readonly start_time: Date | null;
  readonly end_time: Date | null;
  readonly duration_ms: number | null;
  readonly error_message: string | null;
}

export interface StepLogRecord {
  readonly step_logging_id: string;
  readonly pipeline_logging_id: string;
  readonly org_slug: string;
  readonly step_id: string;
  readonly ps_type: string;
  readonly status: string;
  readonly attempt: number;
  readonly created_at: Date;
  readonly start_time: Date | null;
  readonly end_time: Date | null;
  readonly duration_ms: number | null;
  readonly rows_processed: number | null;
  readonly error_message: string | null;
  readonly metadata: Readonly<Record<string, unknown>> | null;
}

export const RUN_STATUSES = ['QUEUED', 'RUNNING', 'SUCCESS', 'FAILED', 'CANCELLED', 'TIMEOUT'] as const;
export type RunStatus = (typeof RUN_STATUSES)[number];
export const ACTIVE_RUN_STATUSES: readonly RunStatus[] = ['QUEUED', 'RUNNING'];

export interface StepLogPatch {
  readonly status: string;
  readonly attempt: number;
  readonly start_time?: Date | null;
  readonly end_time?: Date | null;
  readonly duration_ms?: number | null;
  readonly rows_processed?: number | null;
  readonly error_message?: string | null;
  readonly metadata?: Readonly<Record<string, unknown>> | null;
}

export interface RunFilter {
  readonly status?: RunStatus;
  readonly pipelineId?: string;
  readonly pipelinePath?: string;
  readonly triggerBy?: string;
  readonly from?: Date;
  readonly to?: Date;
  /** Keyset cursor: runs strictly older than this (created_at, id) pair. */
  readonly before?: { readonly createdAt: Date; readonly id: string };
  readonly limit: number;
}

export interface DqResultRecord {
  readonly dq_result_id: string;
  readonly pipeline_logging_id: string;
  readonly org_slug: string;
  readonly step_id: string | null;
  readonly check_name: string;
  readonly check_type: string | null;
  readonly target_table: string | null;
  readonly status: 'PASS' | 'FAIL' | 'ERROR';
  readonly severity: 'warn' | 'error';
  readonly observed_value: string | null;
  readonly expected_value: string | null;
  readonly row_count: number | null;
  readonly failed_row_count: number | null;
  readonly message: string | null;
  readonly created_at: Date;
}

export interface PipelineConfigRecord {
  readonly org_slug: string;
  readonly config_id: string;
  readonly version: number;
  readonly yaml: string;
  readonly is_active: boolean;
  readonly created_at: Date;
  readonly created_by: string | null;
}

export const QUEUE_STATUSES = ['QUEUED', 'RUNNING', 'DONE', 'CANCELLED'] as const;
export type QueueStatus = (typeof QUEUE_STATUSES)[number];

/** Priorities: a person waiting beats a clock, a clock beats a backfill. */
export const PRIORITY = { manual: 100, schedule: 50, backfill: 10 } as const;

export interface QueueItem {
  readonly queue_id: string;
  readonly org_slug: string;
  readonly pipeline_logging_id: string;
  readonly priority: number;
  readonly status: QueueStatus;
  readonly available_at: Date;
  readonly lease_owner: string | null;
  readonly lease_expires_at: Date | null;
  /** The fencing token: raised by every claim; writes of an older attempt are refused. */
  readonly attempt: number;
  readonly max_attempts: number;
  readonly dedupe_key: string | null;
  readonly schedule_id: string | null;
  readonly scheduled_time: Date | null;
  readonly created_at: Date;
  readonly updated_at: Date;
}

/** A queued item a worker may claim, with what fairness and limits need. */
export interface QueueCandidate {
  readonly queue_id: string;
  readonly org_slug: string;
  readonly pipeline_logging_id: string;
  readonly priority: number;
  /** The org's items RUNNING now. */
  readonly org_running: number;
  readonly concurrent_limit: number;
}

export const MISSED_RUN_POLICIES = ['none', 'latest', 'all'] as const;
export type MissedRunPolicy = (typeof MISSED_RUN_POLICIES)[number];

export interface ScheduleRecord {
  readonly schedule_id: string;
  readonly org_slug: string;
  /** `provider/domain/pipeline` */
  readonly pipeline: string;
  readonly cron: string;
  readonly timezone: string;
  readonly parameters: Readonly<Record<string, unknown>> | null;
  readonly missed_run_policy: MissedRunPolicy;
  readonly is_active: boolean;
  readonly next_run_at: Date | null;
  readonly last_run_at: Date | null;
  readonly created_at: Date;
  readonly updated_at: Date;
}

export const PROVIDERS = ['gcp', 'openai', 'anthropic', 'deepseek'] as const;
export type Provider = (typeof PROVIDERS)[number];
export const VALIDATION_STATUSES = ['VALID', 'INVALID', 'PENDING', 'UNVERIFIED'] as const;
export type ValidationStatus = (typeof VALIDATION_STATUSES)[number];

/** One provider credential of an org, envelope-encrypted (the plaintext never reaches the store). */
export interface IntegrationRecord {
  readonly credential_id: string;
  readonly org_slug: string;
  readonly provider: Provider;
  readonly credential_name: string | null;
  /** Versioned envelope (JSON text): wrapped data key, IV, ciphertext, tag. */
  readonly encrypted_credential: string;
  readonly key_version: string;
  readonly fingerprint: string | null;
  /** Non-secret settings (e.g. billing_export_path). */
  readonly config: Readonly<Record<string, unknown>> | null;
  readonly validation_status: ValidationStatus;
  readonly last_validated_at: Date | null;
  readonly last_error: string | null;
  readonly created_at: Date;
  readonly updated_at: Date;
}

/** An org's price for one model (USD per 1M tokens, exact decimal text), overriding the defaults. */
export interface PriceOverrideRecord {
  readonly org_slug: string;
  readonly provider: Provider;
  readonly model: string;
  readonly input: string;
  readonly cached_input: string | null;
  readonly cache_write_5m: string | null;
  readonly cache_write_1h: string | null;
  readonly output: string;
  readonly updated_at: Date;
}
