import type { Row, SqlValue } from '../core/sql.js';
import type { TableReport } from '../schema/schema-manager.js';
import type { TableSchema } from '../schema/table-schema.js';

/**
 * The warehouse port: datasets (one per org plus the central one), tables from JSON schemas,
 * views, and queries with bound parameters. Implementations: duckdb/ (embedded), bigquery/ (later).
 */
export interface DatasetOptions {
  readonly description?: string;
  readonly labels?: Readonly<Record<string, string>>;
}

export interface Warehouse {
  readonly kind: 'duckdb' | 'bigquery';
  ping(): Promise<void>;
  datasetExists(dataset: string): Promise<boolean>;
  /** True when it was created, false when it already existed. */
  createDataset(dataset: string, opts?: DatasetOptions): Promise<boolean>;
  /** True when it existed. Drops everything in it. */
  dropDataset(dataset: string): Promise<boolean>;
  ensureTables(dataset: string, tables: readonly TableSchema[], opts?: { recreate?: boolean }): Promise<TableReport[]>;
  /**
   * Creates or replaces a view. `sql` may use `{table:dataset.table}` references, which the
   * warehouse renders as its own qualified names.
   */
  createOrReplaceView(dataset: string, view: string, sql: string): Promise<void>;
  /** Base tables of a dataset (views excluded). */
  listTables(dataset: string): Promise<string[]>;
  /** Names the engine itself gives meaning to, which a dataset must not take (e.g. catalog names). */
  reservedDatasetNames(): Promise<string[]>;
  /** Runs a statement with its positional parameters bound (never spliced into the text); returns its rows. */
  query<T extends Row = Row>(sql: string, params?: readonly SqlValue[]): Promise<T[]>;
  close(): Promise<void>;
}

/** `{table:dataset.table}` placeholders in warehouse SQL templates. */
export const TABLE_REFERENCE = /\{table:([A-Za-z_][A-Za-z0-9_]*)\.([A-Za-z_][A-Za-z0-9_]*)\}/g;
