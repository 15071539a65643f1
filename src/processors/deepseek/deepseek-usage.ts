import { Type } from '@sinclair/typebox';
import { defineProcessor, SqlText, StepError, type Processor } from '../../pipeline/processor.js';
import { bindParameters, checkScope, DayOption, dayOf, ownTable } from '../data-deps.js';
import { importReadError, orgImportFiles, requiredColumns } from '../import-files.js';
import { SchemaFileOption, SchemaFiles } from '../schema-files.js';
import { providerStepError, type SourceDeps } from '../source-deps.js';

/**
 * `deepseek.usage`: DeepSeek reports no usage history, so token usage comes from the org's own
 * log of chat-completion responses (`usage_log_path` files under IMPORT_DIR). `query` aggregates
 * the day from the relation `log`; each row is priced here from the org's price table (defaults
 * in configs/deepseek/seed/pricing.csv, overrides per org) and the day is replaced.
 */
const Config = Type.Object(
  {
    date: DayOption(),
    source_schema: SchemaFileOption('Columns of the usage log (JSON schema), relative to configs/'),
    query: SqlText({
      minLength: 1,
      maxLength: 50_000,
      description: 'SELECT over `log` returning model, api_key_alias, requests, cache_hit_tokens, cache_miss_tokens, output_tokens for the day',
    }),
    destination: Type.Object({ table: SqlText({ minLength: 1, maxLength: 300 }), schema: SchemaFileOption() }, { additionalProperties: false }),
  },
  { additionalProperties: false },
);

const RELATION = 'log';

interface Aggregated {
  model: string | null;
  api_key_alias: string | null;
  requests: unknown;
  cache_hit_tokens: unknown;
  cache_miss_tokens: unknown;
  output_tokens: unknown;
}

export function deepSeekUsageProcessor(deps: SourceDeps): Processor {
  const schemas = new SchemaFiles();
  return defineProcessor({
    psType: 'deepseek.usage',
    description: "Price one day of the org's DeepSeek usage log (files under IMPORT_DIR) with the price table and store it.",
    configSchema: Config,
    checkConfig: (config, ctx) => schemas.check(config.source_schema, 'source_schema', ctx) ?? schemas.check(config.destination.schema, 'destination.schema', ctx),
    async preflight(ctx, config) {
      ownTable(config.destination.table, ctx.dataset);
      await checkScope(deps.warehouse, config.query, ctx.dataset, [RELATION]);
      await orgImportFiles(deps, ctx, 'deepseek', 'usage_log_path');
    },
    async run(ctx, config) {
      const day = dayOf(config.date);
      const table = ownTable(config.destination.table, ctx.dataset);
      await checkScope(deps.warehouse, config.query, ctx.dataset, [RELATION]);
      const files = await orgImportFiles(deps, ctx, 'deepseek', 'usage_log_path');
      let rows: Aggregated[];
      try {
        rows = await deps.warehouse.runQuery<Aggregated & Record<string, unknown>>(config.query, {
          params: bindParameters(config.query, ctx),
          defaultDataset: ctx.dataset,
          signal: ctx.signal,
          sources: { [RELATION]: { files: files.map((f) => ({ path: f.path, format: f.format })), columns: schemas.load(config.source_schema, ctx).fields } },
        });
      } catch (e) {
        throw await importReadError(e, files, 'usage log', requiredColumns(schemas.load(config.source_schema, ctx).fields));
      }
      const prices = await deps.prices.tableFor(ctx.orgSlug, 'deepseek');
      const count = (v: unknown, what: string): number => {
        const n = Number(v ?? 0);
        if (!Number.isSafeInteger(n) || n < 0) throw new StepError(`usage query: ${what} is not a token count (${String(v)})`);
        return n;
      };
      const unpriced = new Set<string>();
      const loadedAt = deps.now().toISOString();
      const out = rows.map((r) => {
        const usage = { cachedInput: count(r.cache_hit_tokens, 'cache_hit_tokens'), uncachedInput: count(r.cache_miss_tokens, 'cache_miss_tokens'), output: count(r.output_tokens, 'output_tokens') };
        const estimate = r.model === null ? undefined : prices.estimate(r.model, usage);
        if (estimate === undefined) unpriced.add(r.model ?? '(none)');
        return {
          usage_date: day,
          model: r.model,
          api_key_alias: r.api_key_alias ?? null,
          requests: count(r.requests, 'requests'),
          cache_hit_tokens: usage.cachedInput,
          cache_miss_tokens: usage.uncachedInput,
          output_tokens: usage.output,
          estimated_cost: estimate?.cost ?? null,
          price_model: estimate?.price.model ?? null,
          pipeline_logging_id: ctx.pipelineLoggingId,
          loaded_at: loadedAt,
        };
      });
      if (unpriced.size > 0) ctx.logger.warn({ models: [...unpriced] }, 'DeepSeek usage of models without a price: set one with PUT /api/v1/integrations/{org}/deepseek/pricing');
      try {
        const result = await deps.warehouse.writeRows(
          { dataset: ctx.dataset, table, schema: { ...schemas.load(config.destination.schema, ctx), name: table }, rows: out, disposition: 'WRITE_PARTITION', partition: { field: 'usage_date', value: day } },
          { signal: ctx.signal },
        );
        return {
          rowsProcessed: result.rowsWritten,
          metadata: { destination: `${ctx.dataset}.${table}`, day, files: files.length, rows_written: result.rowsWritten, unpriced_models: [...unpriced] },
          output: { table: `${ctx.dataset}.${table}`, rows_written: result.rowsWritten },
        };
      } catch (e) {
        throw providerStepError(e, 'deepseek');
      }
    },
  });
}
