/**
 * The narrow seam between repositories and a SQL engine (one method to read, one to write, as in
 * pg-boss's `executeSql`). Values are always bound as parameters (`$1`, `$2`, … in both DuckDB
 * and PostgreSQL), never spliced into the text.
 */
export type SqlValue = string | number | bigint | boolean | null | Date;
export type Row = Record<string, unknown>;

export interface SqlExecutor {
  /** Rows as plain objects: integers as numbers, TIMESTAMP as Date, DATE as 'YYYY-MM-DD'. */
  query<T extends Row = Row>(sql: string, params?: readonly SqlValue[]): Promise<T[]>;
  /** Number of rows inserted, updated or deleted. */
  execute(sql: string, params?: readonly SqlValue[]): Promise<number>;
}

export interface TransactionalExecutor extends SqlExecutor {
  /** Runs `fn` in one transaction on one connection; rolls back if it throws. */
  transaction<T>(fn: (tx: SqlExecutor) => Promise<T>): Promise<T>;
}
