/**
 * The error catalogue: every expected failure has a stable `code`, an HTTP status and a title.
 * Clients match on `code`; `detail` is for humans. The API maps `AppError` to an RFC 9457
 * problem in one place (api/problem.ts); anything that is not an `AppError` is a 500 whose
 * body carries no internals.
 */
export const ERROR_CATALOGUE = {
  // 400: the request itself is wrong
  VALIDATION_FAILED: { status: 400, title: 'Request validation failed' },
  MALFORMED_JSON: { status: 400, title: 'Malformed JSON body' },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, title: 'Unsupported media type' },
  INVALID_ORG_SLUG: { status: 400, title: 'Invalid organization slug' },
  RESERVED_ORG_SLUG: { status: 400, title: 'Reserved organization slug' },
  INVALID_EMAIL: { status: 400, title: 'Invalid email address' },
  UNKNOWN_PLAN: { status: 400, title: 'Unknown subscription plan' },
  INVALID_API_KEY_HASH: { status: 400, title: 'Invalid API key hash' },
  INVALID_PARAMETER: { status: 400, title: 'Invalid run parameter' },
  INVALID_PIPELINE: { status: 422, title: 'Invalid pipeline configuration' },
  SQL_NOT_ALLOWED: { status: 422, title: 'SQL refused' },
  INVALID_CREDENTIAL: { status: 422, title: 'Credential rejected' },
  INVALID_INTEGRATION_CONFIG: { status: 400, title: 'Invalid integration settings' },
  // 401/403: who is asking
  ROOT_KEY_REQUIRED: { status: 401, title: 'Root key required' },
  INVALID_ROOT_KEY: { status: 401, title: 'Invalid root key' },
  API_KEY_REQUIRED: { status: 401, title: 'API key required' },
  INVALID_API_KEY: { status: 401, title: 'Invalid API key' },
  // 404
  NOT_FOUND: { status: 404, title: 'Not found' },
  ORG_NOT_FOUND: { status: 404, title: 'Organization not found' },
  API_KEY_NOT_FOUND: { status: 404, title: 'API key not found' },
  PIPELINE_NOT_FOUND: { status: 404, title: 'Pipeline not found' },
  RUN_NOT_FOUND: { status: 404, title: 'Run not found' },
  CONFIG_NOT_FOUND: { status: 404, title: 'Pipeline config not found' },
  SCHEDULE_NOT_FOUND: { status: 404, title: 'Schedule not found' },
  BACKFILL_NOT_FOUND: { status: 404, title: 'Backfill not found' },
  INTEGRATION_NOT_FOUND: { status: 404, title: 'Integration not found' },
  // 409: the state of the system forbids it
  ORG_EXISTS: { status: 409, title: 'Organization already exists' },
  DATASET_NOT_EMPTY: { status: 409, title: 'Dataset already holds data' },
  ORG_DELETED: { status: 409, title: 'Organization is deleted' },
  ORG_NOT_DELETED: { status: 409, title: 'Organization is not deleted' },
  NOT_BOOTSTRAPPED: { status: 409, title: 'Bootstrap required' },
  API_KEY_REVOKED: { status: 409, title: 'API key already revoked' },
  CONFLICT: { status: 409, title: 'Conflict' },
  RUN_FINISHED: { status: 409, title: 'Run already finished' },
  CREDENTIAL_UNREADABLE: { status: 409, title: 'Stored credential cannot be decrypted' },
  SUBSCRIPTION_INACTIVE: { status: 403, title: 'Subscription does not allow runs' },
  // 413/422/429
  PAYLOAD_TOO_LARGE: { status: 413, title: 'Request body too large' },
  DRYRUN_FAILED: { status: 422, title: 'Dry run found problems' },
  RATE_LIMITED: { status: 429, title: 'Too many requests' },
  DAILY_QUOTA_EXCEEDED: { status: 429, title: 'Daily run quota exceeded' },
  MONTHLY_QUOTA_EXCEEDED: { status: 429, title: 'Monthly run quota exceeded' },
  CONCURRENT_LIMIT_REACHED: { status: 429, title: 'Concurrent run limit reached' },
  // 5xx: ours or a dependency's
  INTERNAL: { status: 500, title: 'Internal error' },
  NOT_READY: { status: 503, title: 'Not ready' },
  WAREHOUSE_UNAVAILABLE: { status: 503, title: 'Warehouse unavailable' },
  CONTROL_STORE_UNAVAILABLE: { status: 503, title: 'Control store unavailable' },
  PROVIDER_UNAVAILABLE: { status: 503, title: 'Provider unavailable' },
} as const satisfies Record<string, { status: number; title: string }>;

export type ErrorCode = keyof typeof ERROR_CATALOGUE;

export interface AppErrorOptions {
  /** Extra members of the problem body (e.g. `checks` for a failed dry run). */
  readonly extensions?: Readonly<Record<string, unknown>>;
  /** Seconds, sent as `Retry-After`. */
  readonly retryAfter?: number;
  readonly cause?: unknown;
}

export class AppError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly title: string;
  readonly extensions: Readonly<Record<string, unknown>>;
  readonly retryAfter: number | undefined;

  constructor(code: ErrorCode, detail: string, options: AppErrorOptions = {}) {
    super(detail, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'AppError';
    this.code = code;
    this.status = ERROR_CATALOGUE[code].status;
    this.title = ERROR_CATALOGUE[code].title;
    this.extensions = options.extensions ?? {};
    this.retryAfter = options.retryAfter;
  }
}

export const isAppError = (e: unknown): e is AppError => e instanceof AppError;

export function assertNever(value: never, what = 'value'): never {
  throw new Error(`Unexpected ${what}: ${JSON.stringify(value)}`);
}

/** A message safe to log or store for an unknown thrown value. */
export function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
