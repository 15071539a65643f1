import { AppError } from '../../core/errors.js';
import { SerialQueue } from '../../core/serial-queue.js';
import { rewriteNamedParameters } from '../../core/sql-lexer.js';
import type { Row, SqlValue } from '../../core/sql.js';
import type { DuckDbDatabase, DuckDbSession } from '../../duckdb/duckdb-database.js';
import { columnType, qualifiedName, quoteIdent } from '../../schema/ddl.js';
import { SqlSchemaManager } from '../../schema/schema-manager.js';
import { TABLE_REFERENCE, type QueryOptions, type RowsWriteRequest, type Warehouse, type WriteRequest, type WriteResult } from '../warehouse.js';
import { withSources } from './duckdb-file-sources.js';
import { footprintOf, scopeProblems } from './duckdb-query-scope.js';

/**
 * The embedded warehouse: one DuckDB schema per dataset, in the same file as the control store
 * but on sessions of its own, so long queries never hold up the control plane. Pipeline queries
 * each borrow a session from a small pool, which lets a cancellation interrupt exactly the
 * statement of the run being cancelled.
 */
export class DuckDbWarehouse implements Warehouse {
  readonly kind = 'duckdb' as const;
  private readonly schema: SqlSchemaManager;
  private readonly idle: DuckDbSession[] = [];
  /** Writes to one table, one at a time (see writeQueryResult). */
  private readonly tableLocks = new Map<string, { queue: SerialQueue; users: number }>();

  private constructor(
    private readonly db: DuckDbDatabase,
    private readonly session: DuckDbSession,
  ) {
    this.schema = new SqlSchemaManager(session, 'duckdb');
  }

  static async open(db: DuckDbDatabase): Promise<DuckDbWarehouse> {
    return new DuckDbWarehouse(db, await db.session());
  }

  async ping(): Promise<void> {
    await this.session.query('SELECT 1 AS ok');
  }

  datasetExists(dataset: string): Promise<boolean> {
    return this.schema.schemaExists(dataset);
  }

  // DuckDB schemas carry no labels or descriptions; the options matter to BigQuery.
  createDataset(dataset: string): Promise<boolean> {
    return this.schema.createSchema(dataset);
  }

  dropDataset(dataset: string): Promise<boolean> {
    return this.schema.dropSchema(dataset);
  }

  ensureTables(...args: Parameters<Warehouse['ensureTables']>): ReturnType<Warehouse['ensureTables']> {
    return this.schema.ensureTables(...args);
  }

  async createOrReplaceView(dataset: string, view: string, sql: string): Promise<void> {
    const body = sql.replace(TABLE_REFERENCE, (_, d: string, t: string) => qualifiedName('duckdb', { dataset: d, table: t }));
    await this.session.execute(`CREATE OR REPLACE VIEW ${qualifiedName('duckdb', { dataset, table: view })} AS\n${body}`);
  }

  async listTables(dataset: string): Promise<string[]> {
    return [...(await this.schema.existingTables(dataset))].sort();
  }

  async reservedDatasetNames(): Promise<string[]> {
    // A schema named like an attached catalog (the file's own name, system, temp) makes
    // two-part names ambiguous in DuckDB.
    const rows = await this.session.query<{ database_name: string }>('SELECT database_name FROM duckdb_databases()');
    return rows.map((r) => r.database_name);
  }

  query<T extends Row = Row>(sql: string, params: readonly SqlValue[] = []): Promise<T[]> {
    return this.session.query<T>(sql, params);
  }

  runQuery<T extends Row = Row>(sql: string, opts: QueryOptions = {}): Promise<T[]> {
    return this.withSession(opts, (s) => {
      const [text, params] = named(withSources(sql, opts.sources ?? {}), opts.params ?? {});
      return s.query<T>(text, params);
    }).catch(withoutCatalogHints);
  }

  async writeQueryResult(req: WriteRequest, opts: QueryOptions = {}): Promise<WriteResult> {
    const target = qualifiedName('duckdb', { dataset: req.dataset, table: req.table });
    const [query, params] = named(withSources(req.query, req.sources ?? {}), opts.params ?? {});
    let createdFromResult = false;
    try {
      return await this.withSession(opts, async (s) => {
        let tableCreated = false;
        if (req.schema !== undefined) {
          tableCreated = (await this.schema.ensureTables(req.dataset, [{ ...req.schema, name: req.table }]))[0]?.action === 'created';
        } else if (!(await this.tableExists(s, req.dataset, req.table))) {
          // No schema file: the first result defines the table. Created (empty) and committed before
          // the write, so concurrent first runs for different days do not conflict on the catalog.
          try {
            await s.execute(`CREATE TABLE IF NOT EXISTS ${target} AS SELECT * FROM (${query}) WITH NO DATA`, params as never);
            tableCreated = createdFromResult = true;
          } catch (e) {
            if (!(await this.tableExists(s, req.dataset, req.table))) throw e;
          }
        }
        return await this.write(s, req, target, query, params, tableCreated, opts.signal);
      });
    } catch (e) {
      // A table this call created from the result goes again when the write failed and it is still
      // empty (on the metadata session: the pooled one is being interrupted).
      if (createdFromResult) {
        await this.session
          .transaction(async (tx) => {
            const [row] = await tx.query<{ n: number }>(`SELECT count(*)::BIGINT AS n FROM ${target}`);
            if (row?.n === 0) await tx.execute(`DROP TABLE ${target}`);
          })
          .catch(() => undefined);
      }
      throw withoutCatalogHints(e);
    }
  }

  private async withTableLock<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const entry = this.tableLocks.get(key) ?? { queue: new SerialQueue(), users: 0 };
    this.tableLocks.set(key, entry);
    entry.users++;
    try {
      return await entry.queue.run(fn);
    } finally {
      if (--entry.users === 0) this.tableLocks.delete(key);
    }
  }

  /**
   * The write itself: one transaction, so a failure leaves the table as it was. Dispositions that
   * replace or test the table's contents (truncate, empty-only, partition) are staged first — the
   * query runs into a session temp table, and a partition's rows are checked there — and then
   * applied under a per-table lock: DuckDB's optimistic concurrency does not see two transactions
   * that each replace a slice nobody loaded yet (both delete nothing, both insert) as a conflict, so
   * two runs of one day would otherwise both commit their rows. The lock covers only the short
   * apply, never the query: a long run does not hold up another day of the same table. A conflict
   * that still happens (a write from outside this warehouse) is tried again.
   */
  private async write(s: DuckDbSession, req: WriteRequest, target: string, query: string, params: Record<string, SqlValue>, tableCreated: boolean, signal?: AbortSignal): Promise<WriteResult> {
    const staged = req.disposition !== 'WRITE_APPEND';
    let slice: { where: string; params: SqlValue[] } | undefined;
    if (staged) {
      await s.execute(`CREATE OR REPLACE TEMP TABLE _convergence_stage AS SELECT * FROM (${query})`, params as never);
      if (req.disposition === 'WRITE_PARTITION') slice = await this.checkedSlice(s, req);
    }
    const apply = (): Promise<WriteResult> =>
      s.transaction(async (tx) => {
        let rowsReplaced = 0;
        if (req.disposition === 'WRITE_TRUNCATE') rowsReplaced = await tx.execute(`DELETE FROM ${target}`);
        if (req.disposition === 'WRITE_EMPTY') {
          const [row] = await tx.query<{ n: number }>(`SELECT count(*)::BIGINT AS n FROM ${target}`);
          if ((row?.n ?? 0) > 0) throw new AppError('CONFLICT', `WRITE_EMPTY: table ${req.dataset}.${req.table} already holds ${row?.n} rows`);
        }
        if (slice !== undefined) rowsReplaced = await tx.execute(`DELETE FROM ${target} WHERE ${slice.where}`, slice.params);
        const rowsWritten = staged
          ? await tx.execute(`INSERT INTO ${target} BY NAME SELECT * FROM _convergence_stage`)
          : await tx.execute(`INSERT INTO ${target} BY NAME SELECT * FROM (${query})`, params as never);
        return { rowsWritten, rowsReplaced, tableCreated };
      });
    const retried = async (): Promise<WriteResult> => {
      for (let attempt = 1; ; attempt++) {
        try {
          return await apply();
        } catch (e) {
          if (attempt >= 5 || !/Conflict on tuple deletion|write-write conflict|Conflict on update/i.test((e as Error).message) || signal?.aborted === true) throw e;
          await new Promise((r) => setTimeout(r, 20 * attempt + Math.random() * 30));
        }
      }
    };
    try {
      return staged ? await this.withTableLock(`${req.dataset}.${req.table}`, retried) : await retried();
    } finally {
      if (staged) await s.execute('DROP TABLE IF EXISTS _convergence_stage').catch(() => undefined);
    }
  }

  /** The slice a partition write replaces (the day, narrowed by key columns); refuses staged rows outside it. */
  private async checkedSlice(s: DuckDbSession, req: WriteRequest): Promise<{ where: string; params: SqlValue[] }> {
    const p = req.partition;
    if (p === undefined) throw new AppError('VALIDATION_FAILED', 'WRITE_PARTITION needs a partition field and value');
    const keys = Object.entries(p.keys ?? {});
    // $1 is the day, $2, $3, … the key columns' values.
    const where = [`${quoteIdent('duckdb', p.field)} = CAST($1 AS DATE)`, ...keys.map(([k], i) => `${quoteIdent('duckdb', k)} = $${i + 2}`)].join(' AND ');
    const params = [p.value, ...keys.map(([, v]) => v)];
    const [bad] = await s.query<{ n: number }>(`SELECT count(*)::BIGINT AS n FROM _convergence_stage WHERE (${where}) IS NOT TRUE`, params);
    if ((bad?.n ?? 0) > 0) {
      const what = [`${p.field}=${p.value}`, ...keys.map(([k, v]) => `${k}=${v}`)].join(', ');
      throw new AppError('VALIDATION_FAILED', `WRITE_PARTITION ${what}: ${bad?.n} rows of the result belong to other days or keys (or have no ${p.field})`);
    }
    return { where, params };
  }

  writeRows(req: RowsWriteRequest, opts: Pick<QueryOptions, 'signal'> = {}): Promise<WriteResult> {
    // One statement for the whole batch: the rows travel as one JSON parameter and are cast to
    // the table's row type, so values are never spliced into SQL and a bad value fails the write.
    const rowType = `STRUCT(${req.schema.fields.map((f) => `${quoteIdent('duckdb', f.name)} ${columnType('duckdb', f)}`).join(', ')})[]`;
    const names = req.schema.fields.map((f) => f.name);
    const rows = req.rows.map((r) => Object.fromEntries(names.map((n) => [n, r[n] ?? null])));
    const query = `SELECT r.* FROM (SELECT unnest(CAST(@convergence_rows::JSON AS ${rowType})) AS r)`;
    return this.writeQueryResult({ ...req, query }, { params: { convergence_rows: JSON.stringify(rows, jsonValue) }, signal: opts.signal });
  }

  async checkQueryScope(sql: string, dataset: string, opts: { relations?: readonly string[] } = {}): Promise<void> {
    const [text] = named(sql, undefined);
    const [row] = await this.session.query<{ j: string }>('SELECT json_serialize_sql($1::VARCHAR) AS j', [text]);
    const parsed = JSON.parse(row?.j ?? '{}') as { error?: boolean; error_message?: string; statements?: unknown[] };
    if (parsed.error === true) {
      const why = /Only SELECT/i.test(parsed.error_message ?? '') ? 'only a single SELECT statement is allowed' : (parsed.error_message ?? 'could not parse');
      throw new AppError('SQL_NOT_ALLOWED', why);
    }
    if ((parsed.statements ?? []).length !== 1) throw new AppError('SQL_NOT_ALLOWED', 'only a single SELECT statement is allowed');
    const parsedFootprint = footprintOf(parsed as never);
    // Relations the processor supplies behave as CTEs of the query (and may not shadow system names either).
    const footprint = { ...parsedFootprint, cteNames: new Set([...parsedFootprint.cteNames, ...(opts.relations ?? []).map((r) => r.toLowerCase())]) };
    // Only unqualified names that are not CTEs need the dataset's table list.
    const needsTables = footprint.tables.some((t) => t.schema === '' && t.catalog === '' && !footprint.cteNames.has(t.table));
    const problems = scopeProblems(
      footprint,
      dataset,
      needsTables ? await this.schema.existingTables(dataset) : new Set(),
      footprint.cteNames.size > 0 && [...footprint.cteNames].every((n) => /^[a-z_][a-z0-9_]*$/.test(n)) ? await this.namesOutside([...footprint.cteNames]) : new Set(),
    );
    if (problems.length > 0) throw new AppError('SQL_NOT_ALLOWED', problems.join('; '), { extensions: { problems } });
  }

  /**
   * Which of `names` an unqualified reference could reach besides the dataset: tables and views of
   * the system and temp catalogs and of the main, pg_catalog and information_schema schemas. Other
   * orgs' schemas are never on the search path, and asking about them would tell one org what
   * another has.
   */
  private async namesOutside(names: string[]): Promise<Set<string>> {
    const where = `(database_name IN ('system', 'temp') OR schema_name IN ('main', 'pg_catalog', 'information_schema'))`;
    const rows = await this.session.query<{ name: string }>(
      `SELECT lower(table_name) AS name FROM duckdb_tables() WHERE ${where} AND list_contains($1::VARCHAR[], lower(table_name))
       UNION SELECT lower(view_name) AS name FROM duckdb_views() WHERE ${where} AND list_contains($1::VARCHAR[], lower(view_name))`,
      [JSON.stringify(names.map((n) => n.toLowerCase()))],
    );
    return new Set(rows.map((r) => r.name));
  }

  /** duckdb_tables() answers from the catalog directly; information_schema is a view over several. */
  private async tableExists(db: { query: DuckDbSession['query'] }, dataset: string, table: string): Promise<boolean> {
    const rows = await db.query('SELECT 1 AS found FROM duckdb_tables() WHERE schema_name = $1 AND table_name = $2', [dataset, table]);
    return rows.length > 0;
  }

  quoteIdentifier(name: string): string {
    return quoteIdent('duckdb', name);
  }

  tableReference(dataset: string, table: string): string {
    return qualifiedName('duckdb', { dataset, table });
  }

  async close(): Promise<void> {
    // Sessions close with the shared database in the composition root.
  }

  /** Borrows a pooled session, scoped to `defaultDataset`, interruptible through `signal`. */
  private async withSession<T>(opts: QueryOptions, fn: (s: DuckDbSession) => Promise<T>): Promise<T> {
    opts.signal?.throwIfAborted();
    const s = this.idle.pop() ?? (await this.db.session());
    // An interrupt only stops the statement running at that instant; the work may be between two
    // statements of a write. Keep interrupting until the work gives up, so no later one runs on.
    let repeat: NodeJS.Timeout | undefined;
    const onAbort = (): void => {
      s.interrupt();
      repeat ??= setInterval(() => s.interrupt(), 25);
    };
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    try {
      await s.execute(opts.defaultDataset === undefined ? 'RESET search_path' : `SET search_path = '${quoteIdent('duckdb', opts.defaultDataset).slice(1, -1)}'`);
      return await fn(s);
    } finally {
      opts.signal?.removeEventListener('abort', onAbort);
      if (repeat !== undefined) clearInterval(repeat);
      this.idle.push(s);
    }
  }
}

/**
 * DuckDB's "Did you mean "other_org.table"?" hints name tables of the whole database; errors of
 * an org's SQL are shown to that org, so the hints go.
 */
function withoutCatalogHints(e: unknown): never {
  if (e instanceof Error) e.message = e.message.replace(/\s*Did you mean "[^"]*"\??/g, '');
  throw e;
}

/** Dates as ISO text and bigints as digits: what the JSON-to-row cast reads. */
function jsonValue(_key: string, v: unknown): unknown {
  return typeof v === 'bigint' ? v.toString() : v;
}

/** `@name` → DuckDB's `$name`, with only the parameters the text uses (DuckDB refuses extras). */
function named(sql: string, params: Readonly<Record<string, SqlValue>> | undefined): [string, Record<string, SqlValue>] {
  const used: Record<string, SqlValue> = {};
  const text = rewriteNamedParameters(sql, (name) => {
    if (params !== undefined) {
      if (!Object.hasOwn(params, name)) throw new AppError('SQL_NOT_ALLOWED', `query parameter @${name} has no value`);
      used[name] = params[name] as SqlValue;
    }
    return `$${name}`;
  });
  return [text, used];
}
