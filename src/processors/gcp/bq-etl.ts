import { Type } from '@sinclair/typebox';
import { defineProcessor, SqlText, type Processor } from '../../pipeline/processor.js';
import { SchemaFiles, SchemaFileOption } from '../schema-files.js';
import { WRITE_DISPOSITIONS } from '../../warehouse/warehouse.js';
import { asStepError, bindParameters, checkScope, ownTable, type DataDeps } from '../data-deps.js';

/**
 * `gcp.bq_etl`: runs a query and writes its rows to a table of the org's dataset. Dispositions
 * follow BigQuery's, plus WRITE_PARTITION, which replaces exactly the day being written so that
 * re-running a date never duplicates rows. The write is atomic: a failing query leaves the
 * destination as it was.
 */
const Config = Type.Object(
  {
    source: Type.Object({ query: SqlText({ minLength: 1, maxLength: 100_000, description: 'SELECT to run; @name binds a variable as a parameter.' }) }, { additionalProperties: false }),
    destination: Type.Object(
      {
        table: SqlText({ minLength: 1, maxLength: 300, description: 'table or {dataset}.table of the org' }),
        write_disposition: Type.Union(WRITE_DISPOSITIONS.map((d) => Type.Literal(d)), { default: 'WRITE_TRUNCATE' }),
        partition_field: Type.String({ pattern: '^[A-Za-z_][A-Za-z0-9_]{0,127}$', default: 'usage_date', description: 'DATE column replaced by WRITE_PARTITION' }),
        partition_value: SqlText({ default: '{date}', description: 'Day replaced by WRITE_PARTITION (default: the run date)' }),
        schema: Type.Optional(SchemaFileOption()),
      },
      { additionalProperties: false },
    ),
  },
  { additionalProperties: false },
);

export function bqEtlProcessor(deps: DataDeps): Processor {
  const schemas = new SchemaFiles();

  return defineProcessor({
    psType: 'gcp.bq_etl',
    description: 'Run a query and write the result to a table of the org (truncate, append, empty-only or partition replace).',
    configSchema: Config,
    checkConfig(config, ctx) {
      return schemas.check(config.destination.schema, 'destination.schema', ctx);
    },
    async preflight(ctx, config) {
      ownTable(config.destination.table, ctx.dataset);
      await checkScope(deps.warehouse, config.source.query, ctx.dataset);
      bindParameters(config.source.query, ctx);
    },
    async run(ctx, config) {
      const table = ownTable(config.destination.table, ctx.dataset);
      const query = config.source.query;
      await checkScope(deps.warehouse, query, ctx.dataset);
      const d = config.destination;
      const schema = d.schema === undefined ? undefined : schemas.load(d.schema, ctx);
      try {
        const result = await deps.warehouse.writeQueryResult(
          {
            dataset: ctx.dataset,
            table,
            query,
            disposition: d.write_disposition,
            schema,
            partition: d.write_disposition === 'WRITE_PARTITION' ? { field: d.partition_field, value: d.partition_value } : undefined,
          },
          { params: bindParameters(query, ctx), defaultDataset: ctx.dataset, signal: ctx.signal },
        );
        return {
          rowsProcessed: result.rowsWritten,
          metadata: {
            destination: `${ctx.dataset}.${table}`,
            write_disposition: d.write_disposition,
            rows_written: result.rowsWritten,
            rows_replaced: result.rowsReplaced,
            table_created: result.tableCreated,
            ...(d.write_disposition === 'WRITE_PARTITION' ? { partition: `${d.partition_field}=${d.partition_value}` } : {}),
          },
          output: { table: `${ctx.dataset}.${table}`, rows_written: result.rowsWritten },
        };
      } catch (e) {
        throw asStepError(e);
      }
    },
  });
}
