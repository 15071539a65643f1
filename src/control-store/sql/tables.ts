import { CENTRAL_DATASET } from '../control-store.js';

/** Qualified names of the central tables (constant identifiers, validated by construction). */
const q = (table: string): string => `"${CENTRAL_DATASET}"."${table}"`;

export const T = {
  profiles: q('org_profiles'),
  apiKeys: q('org_api_keys'),
  subscriptions: q('org_subscriptions'),
  usage: q('org_usage_quotas'),
  credentials: q('org_integration_credentials'),
  prices: q('org_price_overrides'),
  pipelineConfigs: q('org_pipeline_configs'),
  schedules: q('org_scheduled_pipeline_runs'),
  queue: q('org_pipeline_execution_queue'),
  runs: q('org_meta_pipeline_runs'),
  steps: q('org_meta_step_logs'),
  dq: q('org_meta_dq_results'),
  audit: q('org_audit_logs'),
  /** Purge order: dependants before the profile. Audit rows stay: they record the purge itself. */
  get everyOrgTable(): readonly string[] {
    return [this.queue, this.schedules, this.pipelineConfigs, this.credentials, this.prices, this.dq, this.steps, this.runs, this.usage, this.apiKeys, this.subscriptions, this.profiles];
  },
} as const;

/** JSON columns come back as text from DuckDB and as objects from PostgreSQL. */
export function parseJsonColumn<T>(value: unknown): T | null {
  if (value === null || value === undefined) return null;
  return (typeof value === 'string' ? JSON.parse(value) : value) as T;
}

/** JSON text for a JSON column; lone UTF-16 surrogates (which no JSON column accepts) become U+FFFD. */
export const jsonParam = (value: unknown): string | null =>
  value === null || value === undefined ? null : JSON.stringify(value, (_key, v: unknown) => (typeof v === 'string' ? toWellFormed(v) : v));

/** String.prototype.toWellFormed (ES2024), for the ES2022 library this project compiles against. */
const toWellFormed = (s: string): string => s.replace(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, '\uFFFD');
