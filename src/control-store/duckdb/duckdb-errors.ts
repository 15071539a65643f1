import { AppError } from '../../core/errors.js';
import type { Row, SqlExecutor } from '../../core/sql.js';
import { CENTRAL_DATASET } from '../control-store.js';

/**
 * Translates DuckDB errors that have a meaning for callers: a central table that does not exist
 * means the service has not been bootstrapped (rather than an internal error).
 */
const MISSING_CENTRAL_TABLE = new RegExp(`^Catalog Error: (Table|Schema) with name "?(${CENTRAL_DATASET}\\.)?(${CENTRAL_DATASET}|org_[a-z_]+)"? does not exist`);

export function translateDuckDbError(e: unknown): unknown {
  if (e instanceof Error && MISSING_CENTRAL_TABLE.test(e.message)) {
    return new AppError('NOT_BOOTSTRAPPED', 'the central tables do not exist yet; run POST /api/v1/admin/bootstrap first', { cause: e });
  }
  return e;
}

export function withDuckDbErrors(db: SqlExecutor): SqlExecutor {
  return {
    query: <T extends Row>(sql: string, params?: Parameters<SqlExecutor['query']>[1]) =>
      db.query<T>(sql, params).catch((e: unknown) => Promise.reject(translateDuckDbError(e))),
    execute: (sql, params) => db.execute(sql, params).catch((e: unknown) => Promise.reject(translateDuckDbError(e))),
  };
}
