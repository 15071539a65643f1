import path from 'node:path';
import { Type } from '@sinclair/typebox';
import { CENTRAL_DATASET } from '../../control-store/control-store.js';
import type { TableReport } from '../../schema/schema-manager.js';
import { loadTableSchemaDir } from '../../schema/table-schema.js';
import { defineProcessor } from '../../pipeline/processor.js';
import type { SetupDeps } from './setup-deps.js';

/**
 * setup.initial.onetime_bootstrap: creates the central dataset and every table whose schema is
 * in `schemas_dir`, in the control store; the log tables named in `warehouse_tables` also in the
 * warehouse. Idempotent; inputs `force_recreate_dataset` / `force_recreate_tables` recreate.
 */
const Config = Type.Object(
  {
    schemas_dir: Type.String({ default: 'schemas', description: 'Directory of table schema JSON files, relative to the pipeline.' }),
    warehouse_tables: Type.Array(Type.String(), { default: [], description: 'Tables that also live in the warehouse (centralized logs).' }),
  },
  { additionalProperties: false },
);

export interface BootstrapReport {
  readonly dataset: string;
  readonly dataset_created: boolean;
  readonly dataset_recreated: boolean;
  readonly tables_created: string[];
  readonly tables_existing: string[];
  readonly tables_recreated: string[];
  readonly columns_added: Record<string, readonly string[]>;
  readonly type_mismatches: Record<string, TableReport['type_mismatches']>;
  readonly total_tables: number;
}

export const onetimeBootstrapProcessor = (deps: SetupDeps) =>
  defineProcessor({
    psType: 'setup.initial.onetime_bootstrap',
    description: 'Create the central organizations dataset and tables from JSON schemas.',
    configSchema: Config,
    async run(ctx, config) {
      const schemas = loadTableSchemaDir(path.resolve(ctx.pipelineDir, config.schemas_dir));
      const byName = new Map(schemas.map((s) => [s.name, s]));
      const missing = config.warehouse_tables.filter((t) => !byName.has(t));
      if (missing.length > 0) throw new Error(`warehouse_tables without a schema file: ${missing.join(', ')}`);
      const recreateDataset = ctx.inputs.force_recreate_dataset === true;
      const recreateTables = ctx.inputs.force_recreate_tables === true;

      const control = await deps.controlStore.ensureCentralSchema(schemas, { recreateDataset, recreateTables });
      const reports = new Map(control.tables.map((t) => [t.table, t]));
      if (!deps.warehouseSharesControlStore && config.warehouse_tables.length > 0) {
        if (recreateDataset) await deps.warehouse.dropDataset(CENTRAL_DATASET);
        await deps.warehouse.createDataset(CENTRAL_DATASET, { description: 'Convergence central logs', labels: { managed_by: 'convergence' } });
        const tables = config.warehouse_tables.map((t) => byName.get(t)).filter((t) => t !== undefined);
        for (const w of await deps.warehouse.ensureTables(CENTRAL_DATASET, tables, { recreate: recreateTables })) {
          const c = reports.get(w.table);
          // A table is reported created if either home created it.
          if (c === undefined || (c.action === 'existing' && w.action !== 'existing')) reports.set(w.table, w);
        }
      }
      const all = [...reports.values()];
      const names = (action: TableReport['action']): string[] => all.filter((t) => t.action === action).map((t) => t.table);
      const report: BootstrapReport = {
        dataset: CENTRAL_DATASET,
        dataset_created: control.dataset_created,
        dataset_recreated: control.dataset_recreated,
        tables_created: names('created'),
        tables_existing: names('existing'),
        tables_recreated: names('recreated'),
        columns_added: Object.fromEntries(all.filter((t) => t.columns_added.length > 0).map((t) => [t.table, t.columns_added])),
        type_mismatches: Object.fromEntries(all.filter((t) => t.type_mismatches.length > 0).map((t) => [t.table, t.type_mismatches])),
        total_tables: all.length,
      };
      return { metadata: { ...report }, output: { ...report } };
    },
  });
