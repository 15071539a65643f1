import { Type } from '@sinclair/typebox';
import { defineProcessor, SqlText, StepError, type Processor, type StepContext } from '../../pipeline/processor.js';
import type { ImportFile } from '../../providers/gcp.js';
import { importReadError, orgImportFiles, requiredColumns } from '../import-files.js';
import { bindParameters, checkScope, ownTable, DayOption, dayOf } from '../data-deps.js';
import { SchemaFileOption, SchemaFiles } from '../schema-files.js';
import { providerStepError, type SourceDeps } from '../source-deps.js';

/**
 * `gcp.billing_extract`: one UTC day of the org's Cloud Billing export into a table of its dataset.
 * The export is offered to `query` as the relation `export` (columns per `source_schema`, nested
 * records as in BigQuery); in embedded mode it is the files `billing_export_path` matches under
 * IMPORT_DIR. The day is replaced as a whole, so rows Google re-exports later are picked up by
 * re-running the day and never duplicated; a bad line fails the run, naming file and line, with
 * nothing written.
 */
const Config = Type.Object(
  {
    date: DayOption('UTC usage day (default: the run date)'),
    source_schema: SchemaFileOption('Columns of the export (BigQuery JSON schema), relative to configs/'),
    query: SqlText({ minLength: 1, maxLength: 100_000, description: 'SELECT over the relation `export`; must return only rows of the day' }),
    destination: Type.Object(
      {
        table: SqlText({ minLength: 1, maxLength: 300 }),
        schema: SchemaFileOption(),
        partition_field: Type.String({ pattern: '^[A-Za-z_][A-Za-z0-9_]{0,127}$', default: 'usage_date' }),
      },
      { additionalProperties: false },
    ),
  },
  { additionalProperties: false },
);

const RELATION = 'export';

export function billingExtractProcessor(deps: SourceDeps): Processor {
  const schemas = new SchemaFiles();

  async function exportFiles(ctx: StepContext): Promise<ImportFile[]> {
    const { config } = await deps.credentials.credentialFor(ctx.orgSlug, 'gcp').catch((e: unknown) => {
      throw providerStepError(e, 'gcp');
    });
    if (typeof config.billing_export_path !== 'string') {
      throw new StepError(
        deps.warehouse.kind === 'duckdb'
          ? 'the GCP integration has no billing_export_path: in embedded mode the export is read from files under IMPORT_DIR (billing_export_table needs WAREHOUSE=bigquery)'
          : 'reading billing_export_table from BigQuery is not available in this version',
      );
    }
    return orgImportFiles(deps, ctx, 'gcp', 'billing_export_path');
  }

  return defineProcessor({
    psType: 'gcp.billing_extract',
    description: "Read one day of the org's GCP billing export (files under IMPORT_DIR in embedded mode) into a table of the org.",
    configSchema: Config,
    checkConfig: (config, ctx) => schemas.check(config.source_schema, 'source_schema', ctx) ?? schemas.check(config.destination.schema, 'destination.schema', ctx),
    async preflight(ctx, config) {
      ownTable(config.destination.table, ctx.dataset);
      await checkScope(deps.warehouse, config.query, ctx.dataset, [RELATION]);
      await exportFiles(ctx);
    },
    async run(ctx, config) {
      const day = dayOf(config.date);
      const table = ownTable(config.destination.table, ctx.dataset);
      await checkScope(deps.warehouse, config.query, ctx.dataset, [RELATION]);
      const files = await exportFiles(ctx);
      const d = config.destination;
      try {
        const result = await deps.warehouse.writeQueryResult(
          {
            dataset: ctx.dataset,
            table,
            query: config.query,
            disposition: 'WRITE_PARTITION',
            schema: { ...schemas.load(d.schema, ctx), name: table },
            partition: { field: d.partition_field, value: day },
            sources: { [RELATION]: { files: files.map((f) => ({ path: f.path, format: f.format })), columns: schemas.load(config.source_schema, ctx).fields } },
          },
          { params: bindParameters(config.query, ctx), defaultDataset: ctx.dataset, signal: ctx.signal },
        );
        return {
          rowsProcessed: result.rowsWritten,
          metadata: { destination: `${ctx.dataset}.${table}`, day: day, files: files.length, rows_written: result.rowsWritten, rows_replaced: result.rowsReplaced },
          output: { table: `${ctx.dataset}.${table}`, rows_written: result.rowsWritten, files: files.length },
        };
      } catch (e) {
        throw await importReadError(e, files, 'billing export', requiredColumns(schemas.load(config.source_schema, ctx).fields));
      }
    },
  });
}
