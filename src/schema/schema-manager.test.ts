import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DuckDbDatabase, type DuckDbSession } from '../duckdb/duckdb-database.js';
import { SqlSchemaManager } from './schema-manager.js';
import { loadTableSchemaDir, parseTableSchema, type TableSchema } from './table-schema.js';

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

let dir: string;
let db: DuckDbDatabase;
let session: DuckDbSession;
let manager: SqlSchemaManager;

beforeEach(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'convergence-schema-manager-'));
  db = await DuckDbDatabase.open(path.join(dir, 'test.duckdb'));
  session = await db.session();
  manager = new SqlSchemaManager(session, 'duckdb');
});

afterEach(async () => {
  await db.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

const widgetsV1 = parseTableSchema('widgets', {
  primary_key: ['id'],
  indexes: [['name']],
  fields: [
    { name: 'id', type: 'STRING', mode: 'REQUIRED' },
    { name: 'name', type: 'STRING' },
    { name: 'amount', type: 'INT64' },
  ],
});
const gadgets = parseTableSchema('gadgets', [{ name: 'id', type: 'INT64', mode: 'REQUIRED' }]);

/** v1 plus a REQUIRED column and a nullable array column. */
const widgetsV2 = parseTableSchema('widgets', {
  primary_key: ['id'],
  fields: [
    { name: 'id', type: 'STRING', mode: 'REQUIRED' },
    { name: 'name', type: 'STRING' },
    { name: 'amount', type: 'INT64' },
    { name: 'owner', type: 'STRING', mode: 'REQUIRED' },
    { name: 'tags', type: 'STRING', mode: 'REPEATED' },
  ],
});

const columns = (table: string) =>
  session.query<{ column_name: string; data_type: string; is_nullable: string }>(
    "SELECT column_name, data_type, is_nullable FROM information_schema.columns WHERE table_schema = 'acme_co' AND table_name = $1 ORDER BY ordinal_position",
    [table],
  );
const widgets = () => session.query('SELECT * FROM acme_co.widgets ORDER BY id');

describe('SqlSchemaManager (DuckDB)', () => {
  it('createSchema / schemaExists / dropSchema report what they did', async () => {
    expect(await manager.schemaExists('acme_co')).toBe(false);
    expect(await manager.dropSchema('acme_co')).toBe(false);
    expect(await manager.createSchema('acme_co')).toBe(true);
    expect(await manager.schemaExists('acme_co')).toBe(true);
    expect(await manager.createSchema('acme_co')).toBe(false);
    await manager.ensureTables('acme_co', [widgetsV1]);
    expect(await manager.dropSchema('acme_co')).toBe(true); // CASCADE: drops the table with it
    expect(await manager.schemaExists('acme_co')).toBe(false);
    expect(await manager.dropSchema('acme_co')).toBe(false);
  });

  it('createSchema refuses an unsafe name', async () => {
    await expect(manager.createSchema('x"; DROP SCHEMA main; --')).rejects.toThrow(/Invalid identifier/);
    expect(await manager.schemaExists('main')).toBe(true);
  });

  it('ensureTables creates missing tables, then reports them as existing and changes nothing', async () => {
    await manager.createSchema('acme_co');
    expect(await manager.ensureTables('acme_co', [widgetsV1, gadgets])).toEqual([
      { table: 'widgets', action: 'created', columns_added: [], type_mismatches: [] },
      { table: 'gadgets', action: 'created', columns_added: [], type_mismatches: [] },
    ]);
    expect(await manager.existingTables('acme_co')).toEqual(new Set(['widgets', 'gadgets']));
    await session.execute("INSERT INTO acme_co.widgets VALUES ('w1', 'first', 42)");
    const before = await columns('widgets');

    expect(await manager.ensureTables('acme_co', [widgetsV1, gadgets])).toEqual([
      { table: 'widgets', action: 'existing', columns_added: [], type_mismatches: [] },
      { table: 'gadgets', action: 'existing', columns_added: [], type_mismatches: [] },
    ]);
    expect(await widgets()).toEqual([{ id: 'w1', name: 'first', amount: 42 }]);
    expect(await columns('widgets')).toEqual(before);
  });

  it('a table missing from an existing schema is created next to the others', async () => {
    await manager.createSchema('acme_co');
    await manager.ensureTables('acme_co', [widgetsV1]);
    expect((await manager.ensureTables('acme_co', [widgetsV1, gadgets])).map((r) => r.action)).toEqual(['existing', 'created']);
  });

  it('adds new columns as nullable, keeping existing rows (new columns are NULL)', async () => {
    await manager.createSchema('acme_co');
    await manager.ensureTables('acme_co', [widgetsV1]);
    await session.execute("INSERT INTO acme_co.widgets VALUES ('w1', 'first', 42), ('w2', NULL, 7)");

    expect(await manager.ensureTables('acme_co', [widgetsV2])).toEqual([
      { table: 'widgets', action: 'existing', columns_added: ['owner', 'tags'], type_mismatches: [] },
    ]);
    expect(await widgets()).toEqual([
      { id: 'w1', name: 'first', amount: 42, owner: null, tags: null },
      { id: 'w2', name: null, amount: 7, owner: null, tags: null },
    ]);
    expect(await columns('widgets')).toEqual([
      { column_name: 'id', data_type: 'VARCHAR', is_nullable: 'NO' },
      { column_name: 'name', data_type: 'VARCHAR', is_nullable: 'YES' },
      { column_name: 'amount', data_type: 'BIGINT', is_nullable: 'YES' },
      { column_name: 'owner', data_type: 'VARCHAR', is_nullable: 'YES' },
      { column_name: 'tags', data_type: 'VARCHAR[]', is_nullable: 'YES' },
    ]);
    // Idempotent afterwards.
    expect(await manager.ensureTables('acme_co', [widgetsV2])).toEqual([
      { table: 'widgets', action: 'existing', columns_added: [], type_mismatches: [] },
    ]);
  });

  it('column names are matched case-insensitively (no duplicate ADD COLUMN)', async () => {
    await manager.createSchema('acme_co');
    await manager.ensureTables('acme_co', [widgetsV1]);
    const upper = parseTableSchema('widgets', [
      { name: 'ID', type: 'STRING', mode: 'REQUIRED' },
      { name: 'Name', type: 'STRING' },
      { name: 'AMOUNT', type: 'INT64' },
    ]);
    expect(await manager.ensureTables('acme_co', [upper])).toEqual([
      { table: 'widgets', action: 'existing', columns_added: [], type_mismatches: [] },
    ]);
  });

  it('recreate: true drops and recreates existing tables (data gone); missing ones are just created', async () => {
    await manager.createSchema('acme_co');
    await manager.ensureTables('acme_co', [widgetsV1]);
    await session.execute("INSERT INTO acme_co.widgets VALUES ('w1', 'first', 42)");

    expect(await manager.ensureTables('acme_co', [widgetsV2, gadgets], { recreate: true })).toEqual([
      { table: 'widgets', action: 'recreated', columns_added: [], type_mismatches: [] },
      { table: 'gadgets', action: 'created', columns_added: [], type_mismatches: [] },
    ]);
    expect(await widgets()).toEqual([]);
    // Recreated from the new schema: `owner` is REQUIRED again.
    expect((await columns('widgets')).map((c) => `${c.column_name}:${c.is_nullable}`)).toEqual([
      'id:NO',
      'name:YES',
      'amount:YES',
      'owner:NO',
      'tags:YES',
    ]);
  });

  it('a changed type is reported in type_mismatches and not altered', async () => {
    await manager.createSchema('acme_co');
    await manager.ensureTables('acme_co', [widgetsV1]);
    await session.execute("INSERT INTO acme_co.widgets VALUES ('w1', 'first', 42)");
    const changed = parseTableSchema('widgets', [
      { name: 'id', type: 'STRING', mode: 'REQUIRED' },
      { name: 'name', type: 'STRING' },
      { name: 'amount', type: 'NUMERIC' },
    ]);

    expect(await manager.ensureTables('acme_co', [changed])).toEqual([
      {
        table: 'widgets',
        action: 'existing',
        columns_added: [],
        type_mismatches: [{ column: 'amount', expected: 'DECIMAL(38,9)', actual: 'BIGINT' }],
      },
    ]);
    expect((await columns('widgets'))[2]).toEqual({ column_name: 'amount', data_type: 'BIGINT', is_nullable: 'YES' });
    expect(await widgets()).toEqual([{ id: 'w1', name: 'first', amount: 42 }]);
  });

  it('reports no spurious mismatches for every scalar type, arrays and records', async () => {
    const all = parseTableSchema('all_types', {
      fields: [
        ...['STRING', 'INT64', 'INTEGER', 'FLOAT64', 'FLOAT', 'NUMERIC', 'BIGNUMERIC', 'BOOL', 'BOOLEAN', 'TIMESTAMP', 'DATE', 'DATETIME', 'TIME', 'JSON', 'BYTES', 'GEOGRAPHY'].map(
          (type) => ({ name: `c_${type.toLowerCase()}`, type }),
        ),
        { name: 'tss', type: 'TIMESTAMP', mode: 'REPEATED' },
        { name: 'rec', type: 'RECORD', fields: [{ name: 'at', type: 'TIMESTAMP', mode: 'REQUIRED' }, { name: 'n', type: 'INT64' }] },
        { name: 'recs', type: 'RECORD', mode: 'REPEATED', fields: [{ name: 'k', type: 'STRING' }, { name: 'v', type: 'JSON' }] },
      ],
    });
    await manager.createSchema('acme_co');
    await manager.ensureTables('acme_co', [all]);
    expect(await manager.ensureTables('acme_co', [all])).toEqual([
      { table: 'all_types', action: 'existing', columns_added: [], type_mismatches: [] },
    ]);
  });

  // Regression: `s.replace('TIMESTAMP WITH TIME ZONE', 'TIMESTAMPTZ')` replaces only the
  // first occurrence, so a RECORD with two TIMESTAMP members is reported as a type mismatch against
  // itself: expected 'STRUCT("a" TIMESTAMPTZ, "b" TIMESTAMPTZ)', actual 'STRUCT(a TIMESTAMP WITH TIME ZONE, b TIMESTAMP WITH TIME ZONE)'.
  it('a RECORD with two TIMESTAMP members is not reported as a mismatch against itself', async () => {
    const t = parseTableSchema('spans', [
      { name: 'span', type: 'RECORD', fields: [{ name: 'a', type: 'TIMESTAMP' }, { name: 'b', type: 'TIMESTAMP' }] },
    ]);
    await manager.createSchema('acme_co');
    await manager.ensureTables('acme_co', [t]);
    expect((await manager.ensureTables('acme_co', [t]))[0]?.type_mismatches).toEqual([]);
  });

  it('the bootstrap schemas are created, then found existing with no mismatches', async () => {
    const tables: TableSchema[] = loadTableSchemaDir(path.join(REPO_ROOT, 'configs', 'setup', 'bootstrap', 'schemas'));
    expect(tables).toHaveLength(13);
    await manager.createSchema('organizations');
    const first = await manager.ensureTables('organizations', tables);
    expect(first.map((r) => r.action)).toEqual(Array(13).fill('created'));
    expect(await manager.existingTables('organizations')).toEqual(new Set(tables.map((t) => t.name)));
    const second = await manager.ensureTables('organizations', tables);
    expect(second).toEqual(tables.map((t) => ({ table: t.name, action: 'existing', columns_added: [], type_mismatches: [] })));
  });
});
