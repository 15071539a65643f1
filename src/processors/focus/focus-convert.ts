import { Type } from '@sinclair/typebox';
import { PROVIDERS } from '../../control-store/records.js';
import { defineProcessor, SqlText, type Processor } from '../../pipeline/processor.js';
import { asStepError, bindParameters, checkScope, ownTable, type DataDeps, DayOption, dayOf } from '../data-deps.js';
import { SchemaFileOption, SchemaFiles } from '../schema-files.js';

/**
 * `focus.convert`: maps a provider's tables into the FOCUS-shaped `cost_focus_daily`, replacing
 * only that provider's day (`x_ChargeDate` = date, `x_ProviderCode` = provider), so every provider
 * writes the shared table independently and a re-run never duplicates. The mapping itself is the
 * step's SQL (in the pipeline YAML); the table's schema holds the FOCUS columns.
 */
const Config = Type.Object(
  {
    provider: Type.Union(PROVIDERS.map((p) => Type.Literal(p)), { description: 'Provider whose day is replaced' }),
    date: DayOption(),
    query: SqlText({ minLength: 1, maxLength: 100_000, description: 'SELECT returning FOCUS columns for the day, with x_ChargeDate and x_ProviderCode' }),
    destination: Type.Optional(
      Type.Object(
        {
          table: Type.Optional(SqlText({ minLength: 1, maxLength: 300, description: 'default: cost_focus_daily of the org' })),
          schema: Type.Optional(SchemaFileOption(`default: ${'focus/schemas/cost_focus_daily.json'}`)),
        },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false },
);

export const FOCUS_DATE_COLUMN = 'x_ChargeDate';
export const FOCUS_PROVIDER_COLUMN = 'x_ProviderCode';
export const FOCUS_SCHEMA = 'focus/schemas/cost_focus_daily.json';

export function focusConvertProcessor(deps: DataDeps): Processor {
  const schemas = new SchemaFiles();
  return defineProcessor({
    psType: 'focus.convert',
    description: "Map a provider's day into cost_focus_daily (FOCUS 1.2 columns, 1.3 provider columns, x_ extensions), replacing only that provider's day.",
    configSchema: Config,
    checkConfig: (config, ctx) => schemas.check(config.destination?.schema ?? FOCUS_SCHEMA, 'destination.schema', ctx),
    async preflight(ctx, config) {
      ownTable(config.destination?.table ?? 'cost_focus_daily', ctx.dataset);
      await checkScope(deps.warehouse, config.query, ctx.dataset);
    },
    async run(ctx, config) {
      const day = dayOf(config.date);
      const table = ownTable(config.destination?.table ?? 'cost_focus_daily', ctx.dataset);
      await checkScope(deps.warehouse, config.query, ctx.dataset);
      try {
        const result = await deps.warehouse.writeQueryResult(
          {
            dataset: ctx.dataset,
            table,
            query: config.query,
            disposition: 'WRITE_PARTITION',
            schema: { ...schemas.load(config.destination?.schema ?? FOCUS_SCHEMA, ctx), name: table },
            partition: { field: FOCUS_DATE_COLUMN, value: day, keys: { [FOCUS_PROVIDER_COLUMN]: config.provider } },
          },
          { params: bindParameters(config.query, ctx), defaultDataset: ctx.dataset, signal: ctx.signal },
        );
        return {
          rowsProcessed: result.rowsWritten,
          metadata: { destination: `${ctx.dataset}.${table}`, provider: config.provider, day: day, rows_written: result.rowsWritten, rows_replaced: result.rowsReplaced },
          output: { table: `${ctx.dataset}.${table}`, rows_written: result.rowsWritten },
        };
      } catch (e) {
        throw asStepError(e);
      }
    },
  });
}
