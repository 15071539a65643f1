import { Type, type Static } from '@sinclair/typebox';
import type { Provider } from '../control-store/records.js';
import { addDecimals } from '../core/money.js';
import { defineProcessor, SqlText, type Processor, type StepContext } from '../pipeline/processor.js';
import { DayOption, dayOf, ownTable } from './data-deps.js';
import { SchemaFileOption, SchemaFiles } from './schema-files.js';
import { providerStepError, type SourceDeps } from './source-deps.js';

/**
 * The shape shared by the processors that pull one day from a provider API and store it: read the
 * org's credential, fetch, write the rows into the destination, replacing exactly that day
 * (`usage_date`), so a re-run never duplicates and a failed fetch or write leaves the table as it was.
 */
export const ApiSourceConfig = Type.Object(
  {
    date: DayOption('UTC day to load (default: the run date)'),
    destination: Type.Object(
      {
        table: SqlText({ minLength: 1, maxLength: 300, description: 'table or {dataset}.table of the org' }),
        schema: SchemaFileOption(),
      },
      { additionalProperties: false },
    ),
  },
  { additionalProperties: false },
);
export type ApiSourceConfig = Static<typeof ApiSourceConfig>;

export interface Fetched {
  readonly rows: readonly Readonly<Record<string, unknown>>[];
  /** Non-secret facts for the step log (row counts, source totals). */
  readonly metadata?: Readonly<Record<string, unknown>>;
  /** Handed to later steps (e.g. the source's totals for reconciliation). */
  readonly output?: Readonly<Record<string, unknown>>;
}

export interface ApiSourceSpec {
  readonly psType: string;
  readonly description: string;
  readonly provider: Provider;
  fetch(ctx: StepContext, credential: { secret: string; config: Readonly<Record<string, unknown>> }, day: string): Promise<Fetched>;
}

export function defineApiSource(deps: SourceDeps, spec: ApiSourceSpec): Processor {
  const schemas = new SchemaFiles();
  return defineProcessor({
    psType: spec.psType,
    description: spec.description,
    configSchema: ApiSourceConfig,
    checkConfig: (config, ctx) => schemas.check(config.destination.schema, 'destination.schema', ctx),
    async preflight(ctx, config) {
      ownTable(config.destination.table, ctx.dataset);
      await deps.credentials.credentialFor(ctx.orgSlug, spec.provider).catch((e: unknown) => {
        throw providerStepError(e, spec.provider);
      });
    },
    async run(ctx, config) {
      const day = dayOf(config.date);
      const table = ownTable(config.destination.table, ctx.dataset);
      const schema = { ...schemas.load(config.destination.schema, ctx), name: table };
      let fetched: Fetched;
      try {
        const credential = await deps.credentials.credentialFor(ctx.orgSlug, spec.provider);
        fetched = await spec.fetch(ctx, credential, day);
      } catch (e) {
        throw providerStepError(e, spec.provider);
      }
      const loadedAt = deps.now().toISOString();
      const rows = fetched.rows.map((r) => ({ usage_date: day, loaded_at: loadedAt, pipeline_logging_id: ctx.pipelineLoggingId, ...r }));
      try {
        const result = await deps.warehouse.writeRows(
          { dataset: ctx.dataset, table, schema, rows, disposition: 'WRITE_PARTITION', partition: { field: 'usage_date', value: day } },
          { signal: ctx.signal },
        );
        return {
          rowsProcessed: result.rowsWritten,
          metadata: { destination: `${ctx.dataset}.${table}`, day: day, rows_written: result.rowsWritten, rows_replaced: result.rowsReplaced, ...fetched.metadata },
          output: { table: `${ctx.dataset}.${table}`, rows_written: result.rowsWritten, ...fetched.output },
        };
      } catch (e) {
        throw providerStepError(e, spec.provider);
      }
    },
  });
}

/** Σ of decimal amounts per currency, exact: the source's own total a reconciliation check compares with. */
export function totalsByCurrency(rows: readonly { readonly currency: string; readonly amount: string }[]): Record<string, string> {
  const by = new Map<string, string[]>();
  for (const r of rows) by.set(r.currency, [...(by.get(r.currency) ?? []), r.amount]);
  return Object.fromEntries([...by].sort(([a], [b]) => a.localeCompare(b)).map(([c, v]) => [c, addDecimals(v)]));
}

/**
 * What a cost API step stores and reports: its rows with bucket times as ISO text and the billing
 * account from the integration's settings, plus the source's totals per currency.
 */
export function costReport<R extends { readonly bucket_start: Date; readonly bucket_end: Date; readonly currency: string; readonly amount: string; readonly amount_as_reported: string }>(
  rows: readonly R[],
  accountId: unknown,
): Fetched {
  // Amounts are stored at the money scale (9 decimal places); the reconciliation compares with the
  // source's lines at that scale, and the step log keeps the exact reported totals beside them.
  const totals = totalsByCurrency(rows);
  const reported = totalsByCurrency(rows.map((r) => ({ currency: r.currency, amount: r.amount_as_reported })));
  return {
    rows: rows.map(({ amount_as_reported: _, ...r }) => ({ ...r, bucket_start: r.bucket_start.toISOString(), bucket_end: r.bucket_end.toISOString(), billing_account_id: typeof accountId === 'string' ? accountId : null })),
    metadata: { source_rows: rows.length, source_totals: totals, ...(JSON.stringify(reported) === JSON.stringify(totals) ? {} : { source_totals_as_reported: reported }) },
    output: { source_totals: totals },
  };
}

/** Usage rows with bucket times as ISO text. */
export const withIsoBuckets = <T extends { readonly bucket_start: Date; readonly bucket_end: Date }>(r: T): Omit<T, 'bucket_start' | 'bucket_end'> & { bucket_start: string; bucket_end: string } => ({
  ...r,
  bucket_start: r.bucket_start.toISOString(),
  bucket_end: r.bucket_end.toISOString(),
});
