import type { Row, SqlValue } from '../core/sql.js';
import type { TableReport } from '../schema/schema-manager.js';
import type { FieldSchema, TableSchema } from '../schema/table-schema.js';

/**
 * The warehouse port: datasets (one per org plus the central one), tables from JSON schemas,
 * views, and queries with bound parameters. Implementations: duckdb/ (embedded), bigquery/ (later).
 */
export interface DatasetOptions {
  readonly description?: string;
  readonly labels?: Readonly<Record<string, string>>;
}

/** Options of queries that run pipeline SQL. */
export interface QueryOptions {
  /** Values for the `@name` parameters of the SQL; bound, never spliced. */
  readonly params?: Readonly<Record<string, SqlValue>>;
  /** Dataset that unqualified table names resolve to. */
  readonly defaultDataset?: string;
  /** Aborting it interrupts the running statement. */
  readonly signal?: AbortSignal;
  /** Files the query reads as named relations (see WriteRequest.sources); supplied by processors only. */
  readonly sources?: Readonly<Record<string, FileSource>>;
}

export const WRITE_DISPOSITIONS = ['WRITE_TRUNCATE', 'WRITE_APPEND', 'WRITE_EMPTY', 'WRITE_PARTITION'] as const;
export type WriteDisposition = (typeof WRITE_DISPOSITIONS)[number];

/** Writes the result of a query into a table, atomically: on failure the table is as it was. */
export interface WriteRequest {
  readonly dataset: string;
  readonly table: string;
  readonly query: string;
  readonly disposition: WriteDisposition;
  /** Used to create the table when it does not exist (and to add new columns when it does). */
  readonly schema?: TableSchema;
  /**
   * For WRITE_PARTITION: the DATE column and the day being replaced; rows for any other day are
   * refused. `keys` narrows the slice further (e.g. one provider's day of a shared table): only
   * rows with these column values are replaced, and the result may hold no others.
   */
  readonly partition?: { readonly field: string; readonly value: string; readonly keys?: Readonly<Record<string, string>> };
  /**
   * Files the query reads as named relations (`SELECT … FROM export`), e.g. billing export files
   * under IMPORT_DIR. Supplied by processors, never by an org's SQL, which cannot name files.
   */
  readonly sources?: Readonly<Record<string, FileSource>>;
}

/** Export files with the columns they hold (BigQuery schema form, nested records included). */
export interface FileSource {
  readonly files: readonly { readonly path: string; readonly format: 'ndjson' | 'parquet' }[];
  readonly columns: readonly FieldSchema[];
}

/** Rows built by a processor (e.g. from a provider API), written like a query result. */
export interface RowsWriteRequest extends Omit<WriteRequest, 'query' | 'sources' | 'schema'> {
  readonly schema: TableSchema;
  /** Values by column name; missing columns are NULL. Decimals as exact text. */
  readonly rows: readonly Readonly<Record<string, unknown>>[];
}

export interface WriteResult {
  readonly rowsWritten: number;
  readonly rowsReplaced: number;
  readonly tableCreated: boolean;
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
  /** Runs pipeline SQL (`@name` parameters); interruptible through `opts.signal`. */
  runQuery<T extends Row = Row>(sql: string, opts?: QueryOptions): Promise<T[]>;
  /** Runs `req.query` and writes its rows per `req.disposition`; all or nothing. */
  writeQueryResult(req: WriteRequest, opts?: QueryOptions): Promise<WriteResult>;
  /** Writes `req.rows` per `req.disposition`; all or nothing, like writeQueryResult. */
  writeRows(req: RowsWriteRequest, opts?: Pick<QueryOptions, 'signal'>): Promise<WriteResult>;
  /**
   * Refuses (SQL_NOT_ALLOWED) a query that is not a single SELECT or that reaches outside
   * `dataset`: other datasets, the central tables, files, catalogs, system functions. Names in
   * `relations` are allowed as the relations a processor will supply (WriteRequest.sources).
   */
  checkQueryScope(sql: string, dataset: string, opts?: { relations?: readonly string[] }): Promise<void>;
  /** The engine's quoted form of an identifier and of a table reference. */
  quoteIdentifier(name: string): string;
  tableReference(dataset: string, table: string): string;
  close(): Promise<void>;
}

/** `{table:dataset.table}` placeholders in warehouse SQL templates. */
export const TABLE_REFERENCE = /\{table:([A-Za-z_][A-Za-z0-9_]*)\.([A-Za-z_][A-Za-z0-9_]*)\}/g;
