/**
 * A deterministic synthetic Google Cloud Billing "standard usage cost" export
 * (`gcp_billing_export_v1_…`, providers.md §1.2), written the way a BigQuery extract job writes it:
 * one newline-delimited JSON object per row, or the same rows as Parquet.
 *
 * Glossary:
 * - *usage day*: the UTC date of `usage_start_time`. One file per usage day; late re-exported rows
 *   stay in their usage day's file and only their `export_time` is later.
 * - *micros*: money as integer millionths of the billing currency. Every cost and credit is drawn
 *   as an integer number of micros; the JSON number is that integer divided by 10^6, so the file
 *   and the totals (summed as BigInt) agree exactly.
 *
 * Same seed and arguments → byte-identical files; each day has its own PRNG stream derived from
 * (seed, day), so days can be generated independently. Rows are produced by a generator and
 * streamed to disk, so memory stays constant whatever `rowsPerDay` is.
 *
 * The implementation lives in `./gcp-billing/`; this module is its public API.
 */
export { GCP_BILLING_ACCOUNTS, type GcpBillingAccountSpec, type GcpBillingProjectSpec } from './gcp-billing/catalogue.js';
export { formatMicros, gcpBillingRows, parseUtcDay, type GcpBillingRowsOptions } from './gcp-billing/rows.js';
export { serializeGcpBillingRow } from './gcp-billing/serialize.js';
export {
  GCP_BILLING_FORMATS,
  GCP_BILLING_PARQUET_COLUMNS,
  GCP_COST_TYPES,
  GCP_CREDIT_TYPES,
  type GcpAdjustmentInfo,
  type GcpBillingFormat,
  type GcpBillingRow,
  type GcpCostType,
  type GcpCredit,
  type GcpCreditType,
  type GcpKeyValue,
  type GcpLocation,
  type GcpProject,
  type GcpTag,
  type GeneratedGcpBillingRow,
} from './gcp-billing/types.js';
export {
  MAX_DAYS,
  gcpBillingFileName,
  gcpBillingOptionProblems,
  generateGcpBillingExport,
  type CurrencyTotals,
  type GcpBillingExportOptions,
  type GcpBillingExportResult,
  type GcpBillingTotals,
  type GeneratedGcpBillingFile,
} from './gcp-billing/write.js';
