import path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The service configuration, parsed once from the environment (DESIGN.md §9) and passed down.
 * Nothing outside src/config/ reads `process.env`.
 */
export const ENVIRONMENTS = ['development', 'staging', 'production'] as const;
export type Environment = (typeof ENVIRONMENTS)[number];
export const CONTROL_STORES = ['duckdb', 'postgres'] as const;
export type ControlStoreKind = (typeof CONTROL_STORES)[number];
export const WAREHOUSES = ['duckdb', 'bigquery'] as const;
export type WarehouseKind = (typeof WAREHOUSES)[number];
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export interface Config {
  /** (Default: 8080; 0 picks a free port.) */
  readonly port: number;
  /** (Default: 127.0.0.1 in development, 0.0.0.0 otherwise.) */
  readonly host: string;
  readonly environment: Environment;
  /** Holds the DuckDB file, the generated root key and master key. (Default: ./data) */
  readonly dataDir: string;
  /** (Default: {dataDir}/convergence.duckdb) */
  readonly duckdbPath: string;
  /** Most memory the embedded DuckDB engine may use; beyond it, work spills to disk. (Default: 768MB) */
  readonly duckdbMemoryLimit: string;
  /** Pipelines, table schemas, plans. (Default: the repository's configs/) */
  readonly configsDir: string;
  /** Unset in development means: read or generate {dataDir}/root-api-key. */
  readonly rootApiKey: string | undefined;
  readonly controlStore: ControlStoreKind;
  readonly databaseUrl: string | undefined;
  readonly warehouse: WarehouseKind;
  readonly gcpProjectId: string | undefined;
  /** (Default: US) */
  readonly bigqueryLocation: string;
  readonly kmsKeyName: string | undefined;
  readonly masterKey: string | undefined;
  /** Earlier master keys, kept readable while `keys:rotate` re-wraps data keys under the new one. */
  readonly previousMasterKeys: readonly string[];
  /** (Default: true, except in production.) */
  readonly enableApiDocs: boolean;
  readonly smtpUrl: string | undefined;
  /** Sender of notification emails. */
  readonly mailFrom: string;
  /** Origins allowed by CORS; empty means no CORS headers. (Default: none) */
  readonly corsOrigins: readonly string[];
  readonly outboundAllowlist: readonly string[];
  /** (Default: info) */
  readonly logLevel: LogLevel;
  /** (Default: 4) */
  readonly workerConcurrency: number;
  /** How long a worker's claim on a run lasts without renewal (renewed every third of it). */
  readonly queueLeaseMs: number;
  /** How often a worker looks at the queue when nothing woke it. */
  readonly queuePollMs: number;
  /** How often the scheduler looks for due schedules. */
  readonly schedulerTickMs: number;
  /** On SIGTERM, how long running runs may finish before they are stopped and requeued. */
  readonly shutdownGraceMs: number;
  /** (Default: true) */
  readonly schedulerEnabled: boolean;
  /** (Default: ./import) */
  readonly importDir: string;
  readonly providerBaseUrls: { readonly openai: string; readonly anthropic: string; readonly deepseek: string };
  /** Largest accepted request body. (Default: 1 MiB) */
  readonly bodyLimitBytes: number;
  /** Requests per minute per API key (and per root key). (Default: 600) */
  readonly rateLimitPerKey: number;
  /** Requests per minute per client address, whatever key it presents. (Default: 1200) */
  readonly rateLimitPerAddress: number;
  /**
   * How long a validated API key is trusted without a store lookup. Revocations made by this
   * process take effect at once; the TTL bounds staleness for revocations made by another
   * replica. (Default: 10000 ms)
   */
  readonly apiKeyCacheTtlMs: number;
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

type Env = Readonly<Record<string, string | undefined>>;

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

export function loadConfig(env: Env = process.env, cwd: string = process.cwd()): Config {
  const read = (name: string): string | undefined => {
    const v = env[name]?.trim();
    return v === undefined || v === '' ? undefined : v;
  };
  const oneOf = <T extends string>(name: string, allowed: readonly T[], fallback: T): T => {
    const v = read(name);
    if (v === undefined) return fallback;
    if (!(allowed as readonly string[]).includes(v)) {
      throw new ConfigError(`${name} must be one of ${allowed.join(', ')} (got "${v}")`);
    }
    return v as T;
  };
  const int = (name: string, fallback: number, min: number, max: number): number => {
    const v = read(name);
    if (v === undefined) return fallback;
    if (!/^\d+$/.test(v) || Number(v) < min || Number(v) > max) {
      throw new ConfigError(`${name} must be an integer between ${min} and ${max} (got "${v}")`);
    }
    return Number(v);
  };
  const bool = (name: string, fallback: boolean): boolean => {
    const v = read(name)?.toLowerCase();
    if (v === undefined) return fallback;
    if (['true', '1', 'yes', 'on'].includes(v)) return true;
    if (['false', '0', 'no', 'off'].includes(v)) return false;
    throw new ConfigError(`${name} must be true or false (got "${v}")`);
  };
  const list = (name: string): string[] =>
    (read(name) ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s !== '');
  const url = (name: string, fallback: string): string => {
    const v = read(name) ?? fallback;
    try {
      const u = new URL(v);
      if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error('not http(s)');
    } catch {
      throw new ConfigError(`${name} must be an http(s) URL (got "${v}")`);
    }
    return v.replace(/\/+$/, '');
  };

  /** A DuckDB size such as 768MB, 2GB or 1.5GiB (it becomes a SQL setting, so the form is strict). */
  const memory = (name: string, fallback: string): string => {
    const v = read(name) ?? fallback;
    if (!/^\d+(\.\d+)?\s?(KB|MB|GB|TB|KiB|MiB|GiB|TiB)$/i.test(v)) throw new ConfigError(`${name} must be a size like 768MB or 2GB (got "${v}")`);
    return v;
  };

  const environment = oneOf('ENVIRONMENT', ENVIRONMENTS, 'development');
  const dataDir = path.resolve(cwd, read('CONVERGENCE_DATA_DIR') ?? './data');
  const config: Config = {
    port: int('PORT', 8080, 0, 65535),
    host: read('HOST') ?? (environment === 'development' ? '127.0.0.1' : '0.0.0.0'),
    environment,
    dataDir,
    duckdbPath: path.resolve(dataDir, read('CONVERGENCE_DUCKDB_FILE') ?? 'convergence.duckdb'),
    duckdbMemoryLimit: memory('DUCKDB_MEMORY_LIMIT', '768MB'),
    configsDir: path.resolve(cwd, read('CONVERGENCE_CONFIGS_DIR') ?? path.join(REPO_ROOT, 'configs')),
    rootApiKey: read('CA_ROOT_API_KEY'),
    controlStore: oneOf('CONTROL_STORE', CONTROL_STORES, 'duckdb'),
    databaseUrl: read('DATABASE_URL'),
    warehouse: oneOf('WAREHOUSE', WAREHOUSES, 'duckdb'),
    gcpProjectId: read('GCP_PROJECT_ID'),
    bigqueryLocation: read('BIGQUERY_LOCATION') ?? 'US',
    kmsKeyName: read('KMS_KEY_NAME'),
    masterKey: read('CONVERGENCE_MASTER_KEY'),
    previousMasterKeys: list('CONVERGENCE_PREVIOUS_MASTER_KEYS'),
    enableApiDocs: bool('ENABLE_API_DOCS', environment !== 'production'),
    smtpUrl: read('SMTP_URL'),
    mailFrom: read('MAIL_FROM') ?? 'Convergence <convergence@localhost>',
    corsOrigins: list('CORS_ORIGINS'),
    outboundAllowlist: list('OUTBOUND_ALLOWLIST'),
    logLevel: oneOf('LOG_LEVEL', LOG_LEVELS, 'info'),
    workerConcurrency: int('WORKER_CONCURRENCY', 4, 1, 256),
    queueLeaseMs: int('QUEUE_LEASE_MS', 30_000, 300, 3_600_000),
    queuePollMs: int('QUEUE_POLL_MS', 500, 10, 60_000),
    schedulerTickMs: int('SCHEDULER_TICK_MS', 1000, 50, 60_000),
    shutdownGraceMs: int('SHUTDOWN_GRACE_MS', 10_000, 0, 3_600_000),
    schedulerEnabled: bool('SCHEDULER_ENABLED', true),
    importDir: path.resolve(cwd, read('IMPORT_DIR') ?? './import'),
    providerBaseUrls: {
      openai: url('OPENAI_BASE_URL', 'https://api.openai.com'),
      anthropic: url('ANTHROPIC_BASE_URL', 'https://api.anthropic.com'),
      deepseek: url('DEEPSEEK_BASE_URL', 'https://api.deepseek.com'),
    },
    bodyLimitBytes: int('BODY_LIMIT_BYTES', 1024 * 1024, 1024, 64 * 1024 * 1024),
    rateLimitPerKey: int('RATE_LIMIT_PER_KEY', 600, 1, 1_000_000),
    rateLimitPerAddress: int('RATE_LIMIT_PER_ADDRESS', 1200, 1, 1_000_000),
    apiKeyCacheTtlMs: int('API_KEY_CACHE_TTL_MS', 10_000, 0, 3_600_000),
  };
  checkStartupRules(config);
  return config;
}

/** Refuse configurations that are unsafe or incomplete before anything starts. */
function checkStartupRules(c: Config): void {
  if (c.environment !== 'development') {
    if (c.rootApiKey === undefined || c.rootApiKey.length < 32) {
      throw new ConfigError(
        `ENVIRONMENT=${c.environment} requires CA_ROOT_API_KEY of at least 32 characters ` +
          '(generate one with: openssl rand -base64 36)',
      );
    }
  }
  if (c.controlStore === 'postgres' && c.databaseUrl === undefined) {
    throw new ConfigError('CONTROL_STORE=postgres requires DATABASE_URL');
  }
  if (c.environment === 'production' && c.masterKey === undefined && c.kmsKeyName === undefined) {
    throw new ConfigError('ENVIRONMENT=production requires KMS_KEY_NAME or CONVERGENCE_MASTER_KEY (32 random bytes, base64: openssl rand -base64 32) to encrypt provider credentials');
  }
  if (c.previousMasterKeys.length > 0 && c.masterKey === undefined) {
    throw new ConfigError('CONVERGENCE_PREVIOUS_MASTER_KEYS is only meaningful with CONVERGENCE_MASTER_KEY (the new key)');
  }
  if (c.warehouse === 'bigquery' && c.gcpProjectId === undefined) {
    throw new ConfigError('WAREHOUSE=bigquery requires GCP_PROJECT_ID');
  }
}
