import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AppError } from '../../core/errors.js';
import { DuckDbDatabase } from '../../duckdb/duckdb-database.js';
import { parseTableSchema } from '../../schema/table-schema.js';
import type { WriteRequest } from '../warehouse.js';
import { DuckDbWarehouse } from './duckdb-warehouse.js';

const DS = 'acme';
const OTHER = 'globex';

let dir: string;
let db: DuckDbDatabase;
let w: DuckDbWarehouse;
let tableSeq = 0;
/** A fresh table name per test, so tests share one database file without sharing tables. */
const freshTable = (prefix = 't'): string => `${prefix}_${++tableSeq}`;

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'convergence-warehouse-'));
  db = await DuckDbDatabase.open(path.join(dir, 'wh.duckdb'), { readableDirectories: [] });
  w = await DuckDbWarehouse.open(db);
  await w.createDataset(DS);
  await w.createDataset(OTHER);
  await w.createDataset('organizations');
  await w.query(`CREATE TABLE ${OTHER}.secrets (s VARCHAR)`);
  await w.query(`INSERT INTO ${OTHER}.secrets VALUES ('globex-secret')`);
  await w.query('CREATE TABLE organizations.org_profiles (org_slug VARCHAR)');
  await w.query("INSERT INTO organizations.org_profiles VALUES ('globex')");
  // Tables of the dataset that the scope tests may reference unqualified.
  await w.query(`CREATE TABLE ${DS}.costs (usage_date DATE, sku VARCHAR, cost DOUBLE)`);
  await w.query(`INSERT INTO ${DS}.costs VALUES ('2025-01-01', 'a', 1.5), ('2025-01-02', 'b', 2.5)`);
  await w.query(`CREATE TABLE ${DS}.skus (sku VARCHAR, name VARCHAR)`);
});

afterAll(async () => {
  await db.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

const rowsOf = (table: string, order = '1') => w.query(`SELECT * FROM ${w.tableReference(DS, table)} ORDER BY ${order}`);
const countOf = async (table: string, where = 'TRUE'): Promise<number> => {
  const [r] = await w.query<{ n: number }>(`SELECT count(*)::BIGINT AS n FROM ${w.tableReference(DS, table)} WHERE ${where}`);
  return r?.n ?? -1;
};
const write = (table: string, query: string, disposition: WriteRequest['disposition'], extra: Partial<WriteRequest> = {}, params = {}) =>
  w.writeQueryResult({ dataset: DS, table, query, disposition, ...extra }, { params });
const columnTypes = async (table: string): Promise<Record<string, string>> => {
  const rows = await w.query<{ column_name: string; data_type: string }>(
    'SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = $1 AND table_name = $2 ORDER BY ordinal_position',
    [DS, table],
  );
  return Object.fromEntries(rows.map((r) => [r.column_name, r.data_type]));
};

/** Rejects with an AppError of `code`. */
async function expectCode(p: Promise<unknown>, code: string): Promise<AppError> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e, 'expected a rejection').toBeInstanceOf(AppError);
  expect((e as AppError).code).toBe(code);
  return e as AppError;
}

const day = (d: string, n: number, offset = 0): string =>
  `SELECT DATE '${d}' AS usage_date, (range + ${offset})::BIGINT AS id, 'v' || (range + ${offset}) AS v FROM range(${n})`;

describe('DuckDbWarehouse.writeQueryResult', () => {
  it('WRITE_TRUNCATE replaces the whole table and reports the rows replaced', async () => {
    const t = freshTable();
    expect(await write(t, 'SELECT range::BIGINT AS id FROM range(3)', 'WRITE_TRUNCATE')).toEqual({ rowsWritten: 3, rowsReplaced: 0, tableCreated: true });
    expect(await write(t, 'SELECT (range + 10)::BIGINT AS id FROM range(2)', 'WRITE_TRUNCATE')).toEqual({ rowsWritten: 2, rowsReplaced: 3, tableCreated: false });
    expect(await rowsOf(t)).toEqual([{ id: 10 }, { id: 11 }]);
  });

  it('WRITE_APPEND adds rows and keeps the existing ones', async () => {
    const t = freshTable();
    await write(t, 'SELECT range::BIGINT AS id FROM range(2)', 'WRITE_APPEND');
    expect(await write(t, 'SELECT (range + 5)::BIGINT AS id FROM range(3)', 'WRITE_APPEND')).toEqual({ rowsWritten: 3, rowsReplaced: 0, tableCreated: false });
    expect((await rowsOf(t)).map((r) => r.id)).toEqual([0, 1, 5, 6, 7]);
  });

  it('WRITE_APPEND matches columns by name, not by position', async () => {
    const t = freshTable();
    await write(t, "SELECT 1::BIGINT AS a, 'x' AS b", 'WRITE_APPEND');
    await write(t, "SELECT 'y' AS b, 2::BIGINT AS a", 'WRITE_APPEND');
    expect(await rowsOf(t)).toEqual([
      { a: 1, b: 'x' },
      { a: 2, b: 'y' },
    ]);
  });

  it('WRITE_EMPTY writes into an empty table and refuses a second write, leaving the table unchanged', async () => {
    const t = freshTable();
    expect(await write(t, 'SELECT range::BIGINT AS id FROM range(2)', 'WRITE_EMPTY')).toMatchObject({ rowsWritten: 2, rowsReplaced: 0 });
    await expectCode(write(t, 'SELECT 99::BIGINT AS id', 'WRITE_EMPTY'), 'CONFLICT');
    expect(await rowsOf(t)).toEqual([{ id: 0 }, { id: 1 }]);
  });

  it('WRITE_EMPTY accepts a table that exists but holds no rows', async () => {
    const t = freshTable();
    await w.query(`CREATE TABLE ${w.tableReference(DS, t)} (id BIGINT)`);
    expect(await write(t, 'SELECT 7::BIGINT AS id', 'WRITE_EMPTY')).toEqual({ rowsWritten: 1, rowsReplaced: 0, tableCreated: false });
  });

  describe('WRITE_PARTITION', () => {
    const part = (value: string) => ({ partition: { field: 'usage_date', value } });

    it('re-running a day replaces exactly that day', async () => {
      const t = freshTable('daily');
      expect(await write(t, day('2025-01-01', 3), 'WRITE_PARTITION', part('2025-01-01'))).toEqual({ rowsWritten: 3, rowsReplaced: 0, tableCreated: true });
      expect(await write(t, day('2025-01-02', 2), 'WRITE_PARTITION', part('2025-01-02'))).toEqual({ rowsWritten: 2, rowsReplaced: 0, tableCreated: false });
      expect(await write(t, day('2025-01-01', 4, 100), 'WRITE_PARTITION', part('2025-01-01'))).toEqual({ rowsWritten: 4, rowsReplaced: 3, tableCreated: false });
      expect(await countOf(t, "usage_date = DATE '2025-01-01'")).toBe(4);
      expect(await countOf(t, "usage_date = DATE '2025-01-02'")).toBe(2);
      // Day 1 holds only the rows of the last run; day 2 is untouched.
      const ids = (await rowsOf(t, 'usage_date, id')).map((r) => `${String(r.usage_date)}:${String(r.id)}`);
      expect(ids).toEqual(['2025-01-01:100', '2025-01-01:101', '2025-01-01:102', '2025-01-01:103', '2025-01-02:0', '2025-01-02:1']);
    });

    it('running the same day twice is idempotent', async () => {
      const t = freshTable('daily');
      await write(t, day('2025-03-01', 5), 'WRITE_PARTITION', part('2025-03-01'));
      expect(await write(t, day('2025-03-01', 5), 'WRITE_PARTITION', part('2025-03-01'))).toMatchObject({ rowsWritten: 5, rowsReplaced: 5 });
      expect(await countOf(t)).toBe(5);
    });

    it('refuses a result with a row of another day and leaves the table unchanged', async () => {
      const t = freshTable('daily');
      await write(t, day('2025-01-01', 3), 'WRITE_PARTITION', part('2025-01-01'));
      await write(t, day('2025-01-02', 2), 'WRITE_PARTITION', part('2025-01-02'));
      const before = await rowsOf(t, 'usage_date, id');
      const mixed = `${day('2025-01-01', 4, 50)} UNION ALL SELECT DATE '2025-01-02' AS usage_date, 999::BIGINT AS id, 'intruder' AS v`;
      const e = await expectCode(write(t, mixed, 'WRITE_PARTITION', part('2025-01-01')), 'VALIDATION_FAILED');
      expect(e.message).toMatch(/other days/);
      expect(await rowsOf(t, 'usage_date, id')).toEqual(before);
    });

    it('refuses rows whose partition field is NULL', async () => {
      const t = freshTable('daily');
      await write(t, day('2025-01-01', 2), 'WRITE_PARTITION', part('2025-01-01'));
      const withNull = `${day('2025-01-01', 1, 10)} UNION ALL SELECT NULL::DATE, 11::BIGINT, 'null day'`;
      await expectCode(write(t, withNull, 'WRITE_PARTITION', part('2025-01-01')), 'VALIDATION_FAILED');
      expect(await countOf(t)).toBe(2);
    });

    it('needs a partition', async () => {
      const t = freshTable('daily');
      await expectCode(write(t, day('2025-01-01', 1), 'WRITE_PARTITION'), 'VALIDATION_FAILED');
    });

    it('uses the declared partition field', async () => {
      const t = freshTable('daily');
      const q = (d: string, n: number) => `SELECT DATE '${d}' AS day, range::BIGINT AS id FROM range(${n})`;
      await write(t, q('2025-05-01', 2), 'WRITE_PARTITION', { partition: { field: 'day', value: '2025-05-01' } });
      await write(t, q('2025-05-02', 3), 'WRITE_PARTITION', { partition: { field: 'day', value: '2025-05-02' } });
      expect(await write(t, q('2025-05-01', 1), 'WRITE_PARTITION', { partition: { field: 'day', value: '2025-05-01' } })).toMatchObject({ rowsWritten: 1, rowsReplaced: 2 });
      expect(await countOf(t)).toBe(4);
    });
  });

  describe('atomicity', () => {
    // error() raises while rows are being produced, i.e. after DELETE has run for truncate/partition.
    const failing = "SELECT range::BIGINT AS id FROM range(5) WHERE CASE WHEN range = 3 THEN error('boom mid-write') ELSE TRUE END";
    const failingDay = `SELECT DATE '2025-01-01' AS usage_date, range::BIGINT AS id, 'v' AS v FROM range(5) WHERE CASE WHEN range = 3 THEN error('boom mid-write') ELSE TRUE END`;

    it.each(['WRITE_TRUNCATE', 'WRITE_APPEND'] as const)('%s: a query error leaves the table as it was', async (disposition) => {
      const t = freshTable();
      await write(t, 'SELECT (range + 100)::BIGINT AS id FROM range(2)', 'WRITE_APPEND');
      await expect(write(t, failing, disposition)).rejects.toThrow(/boom mid-write/);
      expect(await rowsOf(t)).toEqual([{ id: 100 }, { id: 101 }]);
    });

    it('WRITE_PARTITION: a query error leaves the day as it was', async () => {
      const t = freshTable('daily');
      await write(t, day('2025-01-01', 3), 'WRITE_PARTITION', { partition: { field: 'usage_date', value: '2025-01-01' } });
      const before = await rowsOf(t, 'id');
      await expect(write(t, failingDay, 'WRITE_PARTITION', { partition: { field: 'usage_date', value: '2025-01-01' } })).rejects.toThrow(/boom mid-write/);
      expect(await rowsOf(t, 'id')).toEqual(before);
    });

    it('a failing first write does not leave a table created from the result behind', async () => {
      const t = freshTable();
      await expect(write(t, failing, 'WRITE_TRUNCATE')).rejects.toThrow(/boom mid-write/);
      expect(await w.listTables(DS)).not.toContain(t);
    });

    it('the pooled session is usable after a failed write', async () => {
      const t = freshTable();
      await expect(write(t, failing, 'WRITE_APPEND')).rejects.toThrow(/boom/);
      expect(await write(t, 'SELECT 1::BIGINT AS id', 'WRITE_APPEND')).toMatchObject({ rowsWritten: 1 });
    });
  });

  describe('table creation', () => {
    it('creates the table from a TableSchema with the declared types', async () => {
      const t = freshTable('typed');
      const schema = parseTableSchema('ignored_name', [
        { name: 'usage_date', type: 'DATE', mode: 'REQUIRED' },
        { name: 'amount', type: 'NUMERIC' },
        { name: 'n', type: 'INT64' },
        { name: 'label', type: 'STRING' },
        { name: 'at', type: 'TIMESTAMP' },
        { name: 'extra', type: 'STRING' },
      ]);
      // The query yields strings/ints that are cast to the declared types on insert; `extra` is absent.
      const q = "SELECT '2025-01-01' AS usage_date, 1.25 AS amount, 3 AS n, 'x' AS label, TIMESTAMP '2025-01-01 10:00:00' AS at";
      const r = await write(t, q, 'WRITE_TRUNCATE', { schema });
      expect(r).toEqual({ rowsWritten: 1, rowsReplaced: 0, tableCreated: true });
      expect(await columnTypes(t)).toEqual({
        usage_date: 'DATE',
        amount: 'DECIMAL(38,9)',
        n: 'BIGINT',
        label: 'VARCHAR',
        at: 'TIMESTAMP WITH TIME ZONE',
        extra: 'VARCHAR',
      });
      const [row] = await rowsOf(t);
      expect(row).toMatchObject({ usage_date: '2025-01-01', n: 3, label: 'x', extra: null });
      // A second write with the schema reports the table as existing.
      expect(await write(t, q, 'WRITE_TRUNCATE', { schema })).toMatchObject({ tableCreated: false, rowsReplaced: 1 });
    });

    it('without a schema the first result defines the table', async () => {
      const t = freshTable('inferred');
      const q = "SELECT DATE '2025-01-01' AS usage_date, 1.25::DOUBLE AS amount, 3::INTEGER AS n, 'x' AS label";
      expect(await write(t, q, 'WRITE_TRUNCATE')).toMatchObject({ tableCreated: true });
      expect(await columnTypes(t)).toEqual({ usage_date: 'DATE', amount: 'DOUBLE', n: 'INTEGER', label: 'VARCHAR' });
    });

    it('a schema adds columns that are new to an existing table', async () => {
      const t = freshTable('evolving');
      await write(t, 'SELECT 1::BIGINT AS id', 'WRITE_TRUNCATE');
      const schema = parseTableSchema('x', [
        { name: 'id', type: 'INT64' },
        { name: 'note', type: 'STRING' },
      ]);
      await write(t, "SELECT 2::BIGINT AS id, 'n' AS note", 'WRITE_APPEND', { schema });
      expect(await rowsOf(t)).toEqual([
        { id: 1, note: null },
        { id: 2, note: 'n' },
      ]);
    });
  });

  describe('@name parameters', () => {
    it('are bound, never spliced: a value with quotes is stored verbatim', async () => {
      const t = freshTable('params');
      const evil = "x' OR '1'='1";
      await write(t, 'SELECT @label AS label, @n AS n', 'WRITE_APPEND', {}, { label: evil, n: 5 });
      await write(t, "SELECT 'other' AS label, 6 AS n", 'WRITE_APPEND');
      expect(await rowsOf(t, 'n')).toEqual([
        { label: evil, n: 5 },
        { label: 'other', n: 6 },
      ]);
      // As a filter, the quoted value matches nothing instead of everything.
      expect(await w.runQuery(`SELECT count(*)::BIGINT AS c FROM ${w.tableReference(DS, t)} WHERE label = @v`, { params: { v: "nobody' OR '1'='1" } })).toEqual([{ c: 0 }]);
    });

    it('WRITE_PARTITION binds parameters in the staged query', async () => {
      const t = freshTable('params_daily');
      const q = 'SELECT CAST(@date AS DATE) AS usage_date, @label AS label';
      await w.writeQueryResult(
        { dataset: DS, table: t, query: q, disposition: 'WRITE_PARTITION', partition: { field: 'usage_date', value: '2025-02-03' } },
        { params: { date: '2025-02-03', label: "it's" } },
      );
      expect(await rowsOf(t)).toEqual([{ usage_date: '2025-02-03', label: "it's" }]);
    });

    it('an @name inside a string literal or comment is not a parameter', async () => {
      expect(await w.runQuery("SELECT '@notaparam' AS s -- @neither\n, @yes AS y", { params: { yes: 1 } })).toEqual([{ s: '@notaparam', y: 1 }]);
    });

    it('a missing parameter is an error (runQuery and writeQueryResult)', async () => {
      const e = await expectCode(w.runQuery('SELECT @missing AS m', { params: { other: 1 } }), 'SQL_NOT_ALLOWED');
      expect(e.message).toMatch(/@missing/);
      await expectCode(w.runQuery('SELECT @missing AS m'), 'SQL_NOT_ALLOWED');
      const t = freshTable();
      await expectCode(write(t, 'SELECT @missing AS m', 'WRITE_TRUNCATE'), 'SQL_NOT_ALLOWED');
      expect(await w.listTables(DS)).not.toContain(t);
    });

    it('unused extra parameters are ignored', async () => {
      expect(await w.runQuery('SELECT @a AS a', { params: { a: 'x', b: 'unused' } })).toEqual([{ a: 'x' }]);
    });

    it('any string round-trips through a parameter unchanged (property)', async () => {
      await fc.assert(
        fc.asyncProperty(fc.string({ unit: 'grapheme', maxLength: 40 }).filter((s) => !s.includes('\u0000')), async (s) => {
          const [row] = await w.runQuery<{ v: string }>('SELECT @v AS v', { params: { v: s } });
          expect(row?.v).toBe(s);
        }),
        { numRuns: 40 },
      );
    });
  });

  describe('runQuery', () => {
    it('engine errors carry no hints naming tables of other datasets', async () => {
      await w.query(`CREATE TABLE ${OTHER}.secret_table (x INTEGER)`);
      const e = await w.runQuery('SELECT * FROM secret_tabl', { defaultDataset: DS }).then(
        () => undefined,
        (err: unknown) => err as Error,
      );
      expect(e?.message).toMatch(/secret_tabl/);
      expect(e?.message).not.toMatch(/Did you mean|secret_table/);
    });

    it('resolves unqualified names in defaultDataset, and only while it is set', async () => {
      await w.query(`CREATE TABLE ${DS}.same_name (who VARCHAR)`);
      await w.query(`INSERT INTO ${DS}.same_name VALUES ('${DS}')`);
      await w.query(`CREATE TABLE ${OTHER}.same_name (who VARCHAR)`);
      await w.query(`INSERT INTO ${OTHER}.same_name VALUES ('${OTHER}')`);
      expect(await w.runQuery('SELECT who FROM same_name', { defaultDataset: DS })).toEqual([{ who: DS }]);
      expect(await w.runQuery('SELECT who FROM same_name', { defaultDataset: OTHER })).toEqual([{ who: OTHER }]);
      // The pooled session does not keep the search path of its previous borrower.
      await expect(w.runQuery('SELECT who FROM same_name')).rejects.toThrow(/same_name/);
    });

    it('the same parameterized text resolves in each borrower\'s own dataset', async () => {
      await w.query(`CREATE TABLE ${DS}.same_param (k BIGINT, who VARCHAR)`);
      await w.query(`INSERT INTO ${DS}.same_param VALUES (1, '${DS}')`);
      await w.query(`CREATE TABLE ${OTHER}.same_param (k BIGINT, who VARCHAR)`);
      await w.query(`INSERT INTO ${OTHER}.same_param VALUES (1, '${OTHER}')`);
      const sql = 'SELECT who FROM same_param WHERE k = @k';
      for (const ds of [DS, OTHER, DS, OTHER]) {
        expect(await w.runQuery(sql, { defaultDataset: ds, params: { k: 1 } })).toEqual([{ who: ds }]);
      }
      const t = freshTable();
      for (const ds of [DS, OTHER]) {
        await w.writeQueryResult({ dataset: DS, table: t, query: sql, disposition: 'WRITE_APPEND' }, { defaultDataset: ds, params: { k: 1 } });
      }
      expect(await rowsOf(t)).toEqual([{ who: DS }, { who: OTHER }]);
    });

    it('writeQueryResult resolves unqualified names in defaultDataset', async () => {
      const t = freshTable();
      await w.writeQueryResult({ dataset: DS, table: t, query: 'SELECT sku FROM costs ORDER BY sku', disposition: 'WRITE_TRUNCATE' }, { defaultDataset: DS });
      expect(await rowsOf(t)).toEqual([{ sku: 'a' }, { sku: 'b' }]);
    });

    it('an AbortSignal interrupts a long query quickly and the session works afterwards', async () => {
      const ac = new AbortController();
      const started = Date.now();
      const running = w.runQuery('SELECT count(*) FROM range(100000000000)', { signal: ac.signal });
      setTimeout(() => ac.abort(), 150);
      await expect(running).rejects.toThrow(/interrupt/i);
      expect(Date.now() - started).toBeLessThan(5_000);
      // The same pooled session (the only idle one) answers again.
      expect(await w.runQuery('SELECT 42 AS x', { defaultDataset: DS })).toEqual([{ x: 42 }]);
      expect(await w.runQuery('SELECT count(*)::BIGINT AS n FROM costs', { defaultDataset: DS })).toEqual([{ n: 2 }]);
    });

    it('an AbortSignal interrupts a long write, which leaves the table as it was', async () => {
      const t = freshTable();
      await write(t, 'SELECT 1::BIGINT AS n', 'WRITE_APPEND');
      const ac = new AbortController();
      const running = w.writeQueryResult(
        { dataset: DS, table: t, query: 'SELECT count(*)::BIGINT AS n FROM range(100000000000)', disposition: 'WRITE_TRUNCATE' },
        { signal: ac.signal },
      );
      setTimeout(() => ac.abort(), 150);
      await expect(running).rejects.toThrow(/interrupt/i);
      expect(await rowsOf(t)).toEqual([{ n: 1 }]);
    });

    it('an already aborted signal refuses to start', async () => {
      const ac = new AbortController();
      ac.abort();
      await expect(w.runQuery('SELECT 1', { signal: ac.signal })).rejects.toThrow();
    });
  });
});

describe('DuckDbWarehouse.checkQueryScope', () => {
  const allowed = [
    'SELECT * FROM costs',
    `SELECT * FROM ${DS}.costs`,
    `SELECT c.sku, s.name FROM costs AS c LEFT JOIN ${DS}.skus AS s USING (sku)`,
    'WITH daily AS (SELECT usage_date, sum(cost) AS c FROM costs GROUP BY 1) SELECT * FROM daily',
    'WITH a AS (SELECT 1 AS x), b AS (SELECT x + 1 AS y FROM a) SELECT * FROM b',
    'SELECT * FROM range(10)',
    'SELECT * FROM generate_series(1, 3)',
    'SELECT unnest([1, 2, 3]) AS x',
    'SELECT * FROM unnest([1, 2, 3])',
    'SELECT * FROM costs WHERE sku IN (SELECT sku FROM skus)',
    'SELECT * FROM costs WHERE usage_date = @date AND sku = @sku',
    "SELECT lower('X'), coalesce(NULL, 1), strftime(DATE '2025-01-01', '%Y')",
    'SELECT * FROM (VALUES (1, 2)) AS v(a, b)',
  ];

  it.each(allowed)('accepts %s', async (sql) => {
    await expect(w.checkQueryScope(sql, DS)).resolves.toBeUndefined();
  });

  const refused: [string, string][] = [
    ['another dataset', `SELECT * FROM ${OTHER}.secrets`],
    ['the central dataset', 'SELECT * FROM organizations.org_profiles'],
    ['information_schema', 'SELECT * FROM information_schema.tables'],
    ['pg_catalog', 'SELECT * FROM pg_catalog.pg_tables'],
    ['a catalog-qualified name', `SELECT * FROM wh.${DS}.costs`],
    ['a catalog-qualified name of the system catalog', 'SELECT * FROM system.main.duckdb_tables'],
    ['an unqualified system view', 'SELECT * FROM duckdb_tables'],
    ['an unqualified name that is not a table of the dataset', 'SELECT * FROM no_such_table'],
    ['a file path as a table', "SELECT * FROM '/etc/passwd'"],
    ['a quoted file path as a table', 'SELECT * FROM "/etc/passwd"'],
    ['read_csv', "SELECT * FROM read_csv('/etc/passwd')"],
    ['read_parquet', "SELECT * FROM read_parquet('x.parquet')"],
    ['read_text', "SELECT * FROM read_text('/etc/passwd')"],
    ['glob', "SELECT * FROM glob('/*')"],
    ['duckdb_tables()', 'SELECT * FROM duckdb_tables()'],
    ['duckdb_settings()', 'SELECT * FROM duckdb_settings()'],
    ['query()', "SELECT * FROM query('SELECT * FROM organizations.org_profiles')"],
    ['query_table()', "SELECT * FROM query_table('organizations.org_profiles')"],
    ['current_setting()', "SELECT current_setting('allowed_directories')"],
    ['getenv()', "SELECT getenv('HOME')"],
    ['ATTACH', "ATTACH '/tmp/x.duckdb' AS x"],
    ['COPY', "COPY (SELECT 1) TO '/tmp/x.csv'"],
    ['INSTALL', 'INSTALL httpfs'],
    ['LOAD', 'LOAD httpfs'],
    ['CREATE', 'CREATE TABLE costs2 AS SELECT * FROM costs'],
    ['DELETE', 'DELETE FROM costs'],
    ['INSERT', 'INSERT INTO costs SELECT * FROM costs'],
    ['UPDATE', 'UPDATE costs SET cost = 0'],
    ['DROP', 'DROP TABLE costs'],
    ['PRAGMA', 'PRAGMA database_list'],
    ['SET', "SET search_path = 'organizations'"],
    ['multiple statements', 'SELECT 1; SELECT 2'],
    ['a SELECT followed by a DELETE', 'SELECT * FROM costs; DELETE FROM costs'],
    ['a scalar subquery reaching out', `SELECT (SELECT s FROM ${OTHER}.secrets) AS s`],
    ['an EXISTS subquery reaching out', 'SELECT * FROM costs WHERE EXISTS (SELECT 1 FROM organizations.org_profiles)'],
    ['an IN subquery reaching out', `SELECT * FROM costs WHERE sku IN (SELECT s FROM ${OTHER}.secrets)`],
    ['a CTE reaching out', `WITH x AS (SELECT * FROM ${OTHER}.secrets) SELECT * FROM x`],
    ['a join reaching out', `SELECT * FROM costs, ${OTHER}.secrets`],
    ['a lateral subquery reaching out', `SELECT * FROM costs, LATERAL (SELECT * FROM ${OTHER}.secrets)`],
    ['a UNION branch reaching out', `SELECT sku FROM costs UNION ALL SELECT s FROM ${OTHER}.secrets`],
    ['a lambda subquery reaching out', `SELECT list_transform([1], x -> (SELECT count(*) FROM ${OTHER}.secrets))`],
    ['DESCRIBE of another dataset', `SELECT * FROM (DESCRIBE ${OTHER}.secrets)`],
    ['SUMMARIZE of another dataset', `SELECT * FROM (SUMMARIZE ${OTHER}.secrets)`],
    ['a syntax error', 'SELEC 1'],
    // A name defined by a WITH clause but used out of its scope would be read as a file path.
    ['a path used out of its CTE scope', `WITH a AS (SELECT * FROM "/etc/hosts"), "/etc/hosts" AS (SELECT 1 AS y) SELECT * FROM a`],
    ['a CTE named like a path that reads itself', `WITH "/etc/hosts" AS (SELECT * FROM "/etc/hosts") SELECT * FROM "/etc/hosts"`],
    ['a quoted name that is not a plain identifier', 'SELECT * FROM "costs.csv"'],
  ];

  it.each(refused)('refuses %s', async (_what, sql) => {
    await expectCode(w.checkQueryScope(sql, DS), 'SQL_NOT_ALLOWED');
  });

  it('names the problem', async () => {
    const e = await expectCode(w.checkQueryScope(`SELECT * FROM ${OTHER}.secrets`, DS), 'SQL_NOT_ALLOWED');
    expect(e.message).toMatch(/globex\.secrets.*outside dataset acme/);
    expect(e.extensions.problems).toEqual([expect.stringMatching(/globex\.secrets/)]);
    const f = await expectCode(w.checkQueryScope("SELECT * FROM read_csv('/etc/passwd')", DS), 'SQL_NOT_ALLOWED');
    expect(f.message).toMatch(/read_csv/);
  });

  it('a table of the dataset is refused for another dataset', async () => {
    await expectCode(w.checkQueryScope('SELECT * FROM costs', OTHER), 'SQL_NOT_ALLOWED');
    await expectCode(w.checkQueryScope(`SELECT * FROM ${DS}.costs`, OTHER), 'SQL_NOT_ALLOWED');
  });

  // Regression (fixed): SHOW/DESCRIBE table references (SHOW_REF nodes) are not inspected, so these list every
  // schema, table and column of the database (other orgs' and the central dataset included).
  it.each([
    ['SHOW ALL TABLES', 'SELECT * FROM (SHOW ALL TABLES)'],
    ['bare DESCRIBE', 'SELECT * FROM (DESCRIBE)'],
    ['SHOW SCHEMAS', 'SELECT * FROM (SHOW SCHEMAS)'],
  ])('refuses %s (catalog listing of other datasets)', async (_what, sql) => {
    await expectCode(w.checkQueryScope(sql, DS), 'SQL_NOT_ALLOWED');
  });

  // Regression (fixed): a CTE name defined in one scope whitelists that unqualified name everywhere in the query,
  // so a reference outside the CTE's scope resolves to the system view of the same name.
  it('refuses an unqualified system view shadowed by a CTE in another scope only', async () => {
    await expectCode(w.checkQueryScope('SELECT * FROM (WITH duckdb_tables AS (SELECT 1 AS x) SELECT * FROM duckdb_tables) AS a, duckdb_tables', DS), 'SQL_NOT_ALLOWED');
  });
});

describe('file access wall (the database itself)', () => {
  let rdir: string;
  let rdb: DuckDbDatabase;
  let rw: DuckDbWarehouse;
  let csv: string;

  beforeAll(async () => {
    rdir = fs.mkdtempSync(path.join(os.tmpdir(), 'convergence-wall-'));
    const readable = path.join(rdir, 'imports');
    fs.mkdirSync(readable);
    csv = path.join(readable, 'rows.csv');
    fs.writeFileSync(csv, 'a,b\n1,x\n2,y\n');
    fs.writeFileSync(path.join(rdir, 'outside.csv'), 'a,b\n3,z\n');
    rdb = await DuckDbDatabase.open(path.join(rdir, 'db', 'wall.duckdb'), { readableDirectories: [readable] });
    rw = await DuckDbWarehouse.open(rdb);
  });

  afterAll(async () => {
    await rdb.close();
    fs.rmSync(rdir, { recursive: true, force: true });
  });

  it('refuses to read /etc/passwd even from SQL sent directly', async () => {
    await expect(w.query("SELECT * FROM read_csv('/etc/passwd')")).rejects.toThrow(/permission/i);
    await expect(rw.query("SELECT * FROM read_csv('/etc/passwd')")).rejects.toThrow(/permission/i);
    await expect(rw.query("SELECT * FROM read_text('/etc/passwd')")).rejects.toThrow(/permission/i);
  });

  it('refuses a file next to, but outside, the readable directory', async () => {
    await expect(rw.query(`SELECT * FROM read_csv('${path.join(rdir, 'outside.csv')}')`)).rejects.toThrow(/permission/i);
  });

  it('reads a file in a readable directory', async () => {
    expect(await rw.query(`SELECT a::BIGINT AS a, b FROM read_csv('${csv}') ORDER BY a`)).toEqual([
      { a: 1, b: 'x' },
      { a: 2, b: 'y' },
    ]);
  });

  it('refuses writing files, ATTACH and re-enabling external access', async () => {
    await expect(rw.query(`COPY (SELECT 1 AS x) TO '${path.join(rdir, 'out.csv')}'`)).rejects.toThrow(/permission/i);
    expect(fs.existsSync(path.join(rdir, 'out.csv'))).toBe(false);
    await expect(rw.query(`ATTACH '${path.join(rdir, 'other.duckdb')}' AS other`)).rejects.toThrow(/permission/i);
    await expect(rw.query('SET enable_external_access = true')).rejects.toThrow();
    await expect(rw.query(`SELECT * FROM read_csv('/etc/passwd')`)).rejects.toThrow(/permission/i);
  });
});
