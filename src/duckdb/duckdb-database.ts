import fs from 'node:fs';
import path from 'node:path';
import {
  DuckDBInstance,
  DuckDBTimestampTZValue,
  DuckDBTypeId,
  type DuckDBConnection,
  type DuckDBPreparedStatement,
  type DuckDBResultReader,
  type DuckDBValue,
} from '@duckdb/node-api';
import { SerialQueue } from '../core/serial-queue.js';
import type { Row, SqlExecutor, SqlValue, TransactionalExecutor } from '../core/sql.js';

/**
 * One DuckDB file shared by the embedded control store and the embedded warehouse.
 * Each `DuckDbSession` is a connection with its own lock: the control store keeps one session for
 * its short transactions, the warehouse opens others for long queries, so a pipeline query never
 * blocks authentication or run bookkeeping.
 */
export class DuckDbDatabase {
  private readonly sessions: DuckDbSession[] = [];

  private constructor(
    private readonly instance: DuckDBInstance,
    readonly file: string,
  ) {}

  /**
   * Opens (or creates) the file. Unless `externalAccess` is true, the engine is then locked out of
   * the file system except `readableDirectories` and its own spill directory: no ATTACH, COPY,
   * file readers or extension installs, whatever SQL reaches it — a wall under the query checks.
   */
  static async open(file: string, opts: { readableDirectories?: readonly string[]; externalAccess?: boolean; memoryLimit?: string } = {}): Promise<DuckDbDatabase> {
    if (file !== ':memory:') fs.mkdirSync(path.dirname(file), { recursive: true });
    // Extensions this build does not embed must never be fetched from the network at run time.
    // Without a memory limit DuckDB takes up to 80% of the machine; with one, big sorts and
    // aggregations spill to the database's .tmp directory instead.
    const instance = await DuckDBInstance.create(file, {
      autoinstall_known_extensions: 'false',
      autoload_known_extensions: 'true',
      ...(opts.memoryLimit === undefined ? {} : { memory_limit: opts.memoryLimit }),
    });
    if (opts.externalAccess !== true) {
      const dirs = [...(opts.readableDirectories ?? []), ...(file === ':memory:' ? [] : [`${file}.tmp`])].map((d) => path.resolve(d));
      const c = await instance.connect();
      try {
        // Settings cannot be given as parameters; the paths are quoted as SQL string literals.
        await c.run(`SET allowed_directories = [${dirs.map((d) => `'${d.replace(/'/g, "''")}'`).join(', ')}]`);
        await c.run('SET enable_external_access = false');
      } finally {
        c.closeSync();
      }
    }
    return new DuckDbDatabase(instance, file);
  }

  async session(): Promise<DuckDbSession> {
    const connection = await this.instance.connect();
    // TIMESTAMPTZ values are read and cast in UTC whatever the host's zone.
    await connection.run("SET TimeZone = 'UTC'");
    const session = new DuckDbSession(connection);
    this.sessions.push(session);
    return session;
  }

  /**
   * Flushes the WAL into the file and releases it. Each session closes behind whatever it still
   * has queued (a late lease renewal, a last log write): closing a connection under a running
   * statement would crash the process, not fail the statement.
   */
  async close(): Promise<void> {
    const s = await this.session();
    await s.execute('CHECKPOINT').catch(() => undefined);
    await Promise.all(this.sessions.map((session) => session.close()));
    this.instance.closeSync();
  }
}

export class DuckDbSession implements TransactionalExecutor {
  private readonly lock = new SerialQueue();
  private readonly statements: PreparedCache;
  private closed = false;

  constructor(private readonly connection: DuckDBConnection) {
    this.statements = new PreparedCache(connection);
  }

  query<T extends Row = Row>(sql: string, params: SqlParams = []): Promise<T[]> {
    return this.lock.run(() => this.open().query<T>(sql, params));
  }

  execute(sql: string, params: SqlParams = []): Promise<number> {
    return this.lock.run(() => this.open().execute(sql, params));
  }

  transaction<T>(fn: (tx: SqlExecutor) => Promise<T>): Promise<T> {
    return this.lock.run(async () => {
      this.open();
      const tx: SqlExecutor = {
        query: (sql, params = []) => this.statements.query(sql, params),
        execute: (sql, params = []) => this.statements.execute(sql, params),
      };
      await this.connection.run('BEGIN TRANSACTION');
      try {
        const result = await fn(tx);
        await this.connection.run('COMMIT');
        return result;
      } catch (e) {
        await this.connection.run('ROLLBACK').catch(() => undefined);
        throw e;
      }
    });
  }

  /** Aborts the statement running on this session (used for cancellation and timeouts). */
  interrupt(): void {
    if (!this.closed) this.connection.interrupt();
  }

  /** Closes after the statements already queued on this session (each interrupted if still running after a moment). */
  close(): Promise<void> {
    const stuck = setTimeout(() => this.interrupt(), 2000);
    return this.lock.run(async () => {
      clearTimeout(stuck);
      if (this.closed) return;
      this.closed = true;
      this.statements.clear();
      this.connection.closeSync();
    });
  }

  /** The statements of an open session; a statement that arrives after close fails instead of touching a closed connection. */
  private open(): PreparedCache {
    if (this.closed) throw new Error('the database is closed');
    return this.statements;
  }
}

/**
 * Parameterized statements are prepared once per session and reused: parsing, binding and
 * planning cost DuckDB about as much as running a small statement, and the repositories send the
 * same statements over and over (run and step transitions, auth lookups).
 */
class PreparedCache {
  private static readonly LIMIT = 256;
  private readonly cache = new Map<string, DuckDBPreparedStatement>();

  constructor(private readonly connection: DuckDBConnection) {}

  async query<T extends Row>(sql: string, params: SqlParams): Promise<T[]> {
    if (isEmpty(params)) return runQuery<T>(this.connection, sql, params);
    const p = await this.prepared(sql);
    p.bind(toDuckDbValues(params));
    return toRows<T>(await p.runAndReadAll());
  }

  async execute(sql: string, params: SqlParams): Promise<number> {
    if (isEmpty(params)) return runExecute(this.connection, sql, params);
    const p = await this.prepared(sql);
    p.bind(toDuckDbValues(params));
    return (await p.run()).rowsChanged;
  }

  clear(): void {
    for (const p of this.cache.values()) p.destroySync();
    this.cache.clear();
  }

  private async prepared(sql: string): Promise<DuckDBPreparedStatement> {
    let p = this.cache.get(sql);
    if (p === undefined) {
      if (this.cache.size >= PreparedCache.LIMIT) this.clear();
      p = await this.connection.prepare(sql);
      this.cache.set(sql, p);
    }
    return p;
  }
}

const isEmpty = (params: SqlParams): boolean => (Array.isArray(params) ? params.length === 0 : Object.keys(params).length === 0);

async function runQuery<T extends Row>(c: DuckDBConnection, sql: string, params: SqlParams): Promise<T[]> {
  const reader = await c.runAndReadAll(sql, toDuckDbValues(params));
  return toRows<T>(reader);
}

async function runExecute(c: DuckDBConnection, sql: string, params: SqlParams): Promise<number> {
  const result = await c.run(sql, toDuckDbValues(params));
  return result.rowsChanged;
}

/** Positional (`$1`) or named (`$name`) parameters. */
export type SqlParams = readonly SqlValue[] | Readonly<Record<string, SqlValue>>;

const toDuckDbValue = (v: SqlValue): DuckDBValue => (v instanceof Date ? new DuckDBTimestampTZValue(BigInt(v.getTime()) * 1000n) : v);

function toDuckDbValues(params: SqlParams): DuckDBValue[] | Record<string, DuckDBValue> {
  if (Array.isArray(params)) return (params as readonly SqlValue[]).map(toDuckDbValue);
  return Object.fromEntries(Object.entries(params as Record<string, SqlValue>).map(([k, v]) => [k, toDuckDbValue(v)]));
}

/** Plain values for callers: no bigint where a number fits, DATE as an ISO day string. */
function toRows<T extends Row>(reader: DuckDBResultReader): T[] {
  const names = reader.columnNames();
  const dateColumns = new Set(names.filter((_, i) => reader.columnTypeId(i) === DuckDBTypeId.DATE));
  return reader.getRowObjectsJS().map((raw) => {
    const row: Row = {};
    for (const name of names) row[name] = normalize(raw[name], dateColumns.has(name));
    return row as T;
  });
}

function normalize(v: unknown, isDate: boolean): unknown {
  if (typeof v === 'bigint') return v <= BigInt(Number.MAX_SAFE_INTEGER) && v >= BigInt(Number.MIN_SAFE_INTEGER) ? Number(v) : v.toString();
  if (isDate && v instanceof Date) return v.toISOString().slice(0, 10);
  return v;
}
