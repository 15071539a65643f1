import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { DuckDbDatabase } from '../duckdb/duckdb-database.js';
import {
  addColumnStatement,
  bigQueryString,
  createTableStatements,
  DIALECTS,
  indexName,
  qualifiedName,
  quoteIdent,
  type Dialect,
  type TableRef,
} from './ddl.js';
import { FIELD_TYPES, loadTableSchemaDir, parseTableSchema, type FieldSchema } from './table-schema.js';

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const BOOTSTRAP_SCHEMAS = path.join(REPO_ROOT, 'configs', 'setup', 'bootstrap', 'schemas');

const tempDirs: string[] = [];
function tempDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'convergence-ddl-'));
  tempDirs.push(dir);
  return dir;
}
afterEach(() => {
  for (const dir of tempDirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
});

/** Opens a fresh DuckDB file, runs `fn` with a session, always closes the database. */
async function withDuckDb(fn: (db: DuckDbDatabase) => Promise<void>): Promise<void> {
  const db = await DuckDbDatabase.open(path.join(tempDir(), 'test.duckdb'));
  try {
    await fn(db);
  } finally {
    await db.close();
  }
}

// ---------------------------------------------------------------------------------------------
// A representative schema: every mode, every scalar type, a nested RECORD with a REQUIRED child,
// a REPEATED STRUCT, keys, indexes, TIMESTAMP partitioning and clustering.
// ---------------------------------------------------------------------------------------------

const EVENTS_JSON = {
  description: 'Representative "events" table.\nSecond line with a \\ backslash.',
  primary_key: ['id'],
  unique: [['email'], ['org_slug', 'name']],
  indexes: [['org_slug', 'created_at'], ['email']],
  partitioning: { field: 'created_at', type: 'DAY' },
  clustering: ['org_slug', 'name'],
  fields: [
    { name: 'id', type: 'STRING', mode: 'REQUIRED', description: 'Row "id"' },
    { name: 'org_slug', type: 'STRING', mode: 'REQUIRED' },
    { name: 'name', type: 'STRING' },
    { name: 'email', type: 'STRING', mode: 'NULLABLE' },
    { name: 'tags', type: 'STRING', mode: 'REPEATED' },
    { name: 'created_at', type: 'TIMESTAMP', mode: 'REQUIRED' },
    { name: 'i64', type: 'INT64' },
    { name: 'i', type: 'INTEGER' },
    { name: 'f64', type: 'FLOAT64' },
    { name: 'f', type: 'FLOAT' },
    { name: 'num', type: 'NUMERIC' },
    { name: 'bignum', type: 'BIGNUMERIC' },
    { name: 'b', type: 'BOOL' },
    { name: 'bl', type: 'BOOLEAN' },
    { name: 'd', type: 'DATE' },
    { name: 'dt', type: 'DATETIME' },
    { name: 'tm', type: 'TIME' },
    { name: 'js', type: 'JSON' },
    { name: 'byt', type: 'BYTES' },
    { name: 'geo', type: 'GEOGRAPHY' },
    {
      name: 'address',
      type: 'RECORD',
      fields: [
        { name: 'street', type: 'STRING', mode: 'REQUIRED' },
        { name: 'zip', type: 'INT64' },
      ],
    },
    {
      name: 'history',
      type: 'STRUCT',
      mode: 'REPEATED',
      fields: [
        { name: 'at', type: 'TIMESTAMP', mode: 'REQUIRED' },
        { name: 'labels', type: 'STRING', mode: 'REPEATED' },
      ],
    },
  ],
};
const EVENTS = parseTableSchema('events', EVENTS_JSON, 'events.json');
const EVENTS_REF: TableRef = { dataset: 'acme_co', table: 'events' };

/** A DATE-partitioned table in the bare-array (`bq`) form plus table keys. */
const DAILY = parseTableSchema('daily_costs', {
  partitioning: { field: 'usage_date' },
  clustering: ['provider'],
  fields: [
    { name: 'usage_date', type: 'DATE', mode: 'REQUIRED' },
    { name: 'provider', type: 'STRING', mode: 'REQUIRED' },
    { name: 'cost', type: 'NUMERIC' },
  ],
});
const DAILY_REF: TableRef = { project: 'my-project', dataset: 'acme_co', table: 'daily_costs' };

describe('createTableStatements: representative schema', () => {
  it('covers every scalar type (guard for the fixture)', () => {
    const used = new Set(EVENTS.fields.map((f) => f.type));
    for (const t of FIELD_TYPES) if (t !== 'RECORD' && t !== 'STRUCT') expect(used, t).toContain(t);
  });

  it('duckdb', () => {
    expect(createTableStatements('duckdb', EVENTS_REF, EVENTS)).toEqual([
      `CREATE TABLE IF NOT EXISTS "acme_co"."events" (
  "id" VARCHAR NOT NULL,
  "org_slug" VARCHAR NOT NULL,
  "name" VARCHAR,
  "email" VARCHAR,
  "tags" VARCHAR[],
  "created_at" TIMESTAMPTZ NOT NULL,
  "i64" BIGINT,
  "i" BIGINT,
  "f64" DOUBLE,
  "f" DOUBLE,
  "num" DECIMAL(38,9),
  "bignum" DECIMAL(38,9),
  "b" BOOLEAN,
  "bl" BOOLEAN,
  "d" DATE,
  "dt" TIMESTAMP,
  "tm" TIME,
  "js" JSON,
  "byt" BLOB,
  "geo" VARCHAR,
  "address" STRUCT("street" VARCHAR, "zip" BIGINT),
  "history" STRUCT("at" TIMESTAMPTZ, "labels" VARCHAR[])[],
  PRIMARY KEY ("id"),
  UNIQUE ("email"),
  UNIQUE ("org_slug", "name")
)`,
      'CREATE INDEX IF NOT EXISTS "events__org_slug_created_at_51dd2ac8_idx" ON "acme_co"."events" ("org_slug", "created_at")',
      'CREATE INDEX IF NOT EXISTS "events__email_dde84b50_idx" ON "acme_co"."events" ("email")',
    ]);
  });

  it('postgres', () => {
    expect(createTableStatements('postgres', EVENTS_REF, EVENTS)).toEqual([
      `CREATE TABLE IF NOT EXISTS "acme_co"."events" (
  "id" TEXT NOT NULL,
  "org_slug" TEXT NOT NULL,
  "name" TEXT,
  "email" TEXT,
  "tags" TEXT[],
  "created_at" TIMESTAMPTZ NOT NULL,
  "i64" BIGINT,
  "i" BIGINT,
  "f64" DOUBLE PRECISION,
  "f" DOUBLE PRECISION,
  "num" NUMERIC(38,9),
  "bignum" NUMERIC,
  "b" BOOLEAN,
  "bl" BOOLEAN,
  "d" DATE,
  "dt" TIMESTAMP,
  "tm" TIME,
  "js" JSONB,
  "byt" BYTEA,
  "geo" TEXT,
  "address" JSONB,
  "history" JSONB,
  PRIMARY KEY ("id"),
  UNIQUE ("email"),
  UNIQUE ("org_slug", "name")
)`,
      'CREATE INDEX IF NOT EXISTS "events__org_slug_created_at_51dd2ac8_idx" ON "acme_co"."events" ("org_slug", "created_at")',
      'CREATE INDEX IF NOT EXISTS "events__email_dde84b50_idx" ON "acme_co"."events" ("email")',
    ]);
  });

  it('bigquery (no UNIQUE, no indexes; PK NOT ENFORCED, partitioning, clustering, descriptions)', () => {
    expect(createTableStatements('bigquery', EVENTS_REF, EVENTS)).toEqual([
      [
        'CREATE TABLE IF NOT EXISTS `acme_co.events` (',
        '  `id` STRING NOT NULL OPTIONS(description="Row \\"id\\""),',
        '  `org_slug` STRING NOT NULL,',
        '  `name` STRING,',
        '  `email` STRING,',
        '  `tags` ARRAY<STRING>,',
        '  `created_at` TIMESTAMP NOT NULL,',
        '  `i64` INT64,',
        '  `i` INT64,',
        '  `f64` FLOAT64,',
        '  `f` FLOAT64,',
        '  `num` NUMERIC,',
        '  `bignum` BIGNUMERIC,',
        '  `b` BOOL,',
        '  `bl` BOOL,',
        '  `d` DATE,',
        '  `dt` DATETIME,',
        '  `tm` TIME,',
        '  `js` JSON,',
        '  `byt` BYTES,',
        '  `geo` GEOGRAPHY,',
        '  `address` STRUCT<`street` STRING NOT NULL, `zip` INT64>,',
        '  `history` ARRAY<STRUCT<`at` TIMESTAMP NOT NULL, `labels` ARRAY<STRING>>>,',
        '  PRIMARY KEY (`id`) NOT ENFORCED',
        ')',
        'PARTITION BY TIMESTAMP_TRUNC(`created_at`, DAY)',
        'CLUSTER BY `org_slug`, `name`',
        'OPTIONS(description="Representative \\"events\\" table.\\nSecond line with a \\\\ backslash.")',
      ].join('\n'),
    ]);
  });

  it('DATE partitioning (default DAY) uses the column itself; project-qualified name', () => {
    expect(createTableStatements('bigquery', DAILY_REF, DAILY)).toEqual([
      [
        'CREATE TABLE IF NOT EXISTS `my-project.acme_co.daily_costs` (',
        '  `usage_date` DATE NOT NULL,',
        '  `provider` STRING NOT NULL,',
        '  `cost` NUMERIC',
        ')',
        'PARTITION BY `usage_date`',
        'CLUSTER BY `provider`',
      ].join('\n'),
    ]);
    expect(DAILY.partitioning).toEqual({ field: 'usage_date', type: 'DAY' });
  });

  it('partitioning granularity per column type', () => {
    const schema = (type: string, unit: string) =>
      parseTableSchema('p', { partitioning: { field: 'c', type: unit }, fields: [{ name: 'c', type }] });
    const partitionClause = (type: string, unit: string): string =>
      createTableStatements('bigquery', { dataset: 'ds', table: 'p' }, schema(type, unit))[0]!.split('\n').at(-1)!;
    expect(partitionClause('DATE', 'MONTH')).toBe('PARTITION BY DATE_TRUNC(`c`, MONTH)');
    expect(partitionClause('TIMESTAMP', 'HOUR')).toBe('PARTITION BY TIMESTAMP_TRUNC(`c`, HOUR)');
    expect(partitionClause('DATETIME', 'YEAR')).toBe('PARTITION BY DATETIME_TRUNC(`c`, YEAR)');
  });

  it('duckdb and postgres ignore partitioning, clustering and the table description', () => {
    for (const dialect of ['duckdb', 'postgres'] as const) {
      const sql = createTableStatements(dialect, { dataset: 'acme_co', table: 'daily_costs' }, DAILY).join('\n');
      expect(sql).not.toMatch(/PARTITION|CLUSTER|OPTIONS/);
    }
  });

  it('the DuckDB DDL executes, and its constraints are enforced', async () => {
    await withDuckDb(async (db) => {
      const s = await db.session();
      await s.execute('CREATE SCHEMA acme_co');
      for (const sql of createTableStatements('duckdb', EVENTS_REF, EVENTS)) await s.execute(sql);
      const cols = await s.query<{ column_name: string; is_nullable: string }>(
        "SELECT column_name, is_nullable FROM information_schema.columns WHERE table_schema = 'acme_co' AND table_name = 'events' ORDER BY ordinal_position",
      );
      expect(cols.map((c) => c.column_name)).toEqual(EVENTS.fields.map((f) => f.name));
      expect(cols.filter((c) => c.is_nullable === 'NO').map((c) => c.column_name)).toEqual(['id', 'org_slug', 'created_at']);
      const indexes = await s.query<{ index_name: string }>(
        "SELECT index_name FROM duckdb_indexes() WHERE schema_name = 'acme_co' ORDER BY index_name",
      );
      expect(indexes.map((r) => r.index_name)).toEqual(['events__email_dde84b50_idx', 'events__org_slug_created_at_51dd2ac8_idx']);

      const insert = 'INSERT INTO acme_co.events (id, org_slug, created_at, email) VALUES ($1, $2, now(), $3)';
      await s.execute(insert, ['1', 'acme_co', 'a@example.com']);
      await expect(s.execute(insert, ['1', 'acme_co', 'b@example.com'])).rejects.toThrow(/primary key|constraint/i);
      await expect(s.execute(insert, ['2', 'acme_co', 'a@example.com'])).rejects.toThrow(/unique|constraint/i);
      await expect(
        s.execute('INSERT INTO acme_co.events (id, org_slug, created_at) VALUES ($1, NULL, now())', ['3']),
      ).rejects.toThrow(/NOT NULL/i);
    });
  });
});

// ---------------------------------------------------------------------------------------------
// The real bootstrap schemas
// ---------------------------------------------------------------------------------------------

describe('bootstrap schemas (configs/setup/bootstrap/schemas)', () => {
  const tables = loadTableSchemaDir(BOOTSTRAP_SCHEMAS);

  it('holds exactly the 13 organization tables, sorted by name', () => {
    expect(tables.map((t) => t.name)).toEqual([
      'org_api_keys',
      'org_audit_logs',
      'org_integration_credentials',
      'org_meta_dq_results',
      'org_meta_pipeline_runs',
      'org_meta_step_logs',
      'org_pipeline_configs',
      'org_pipeline_execution_queue',
      'org_price_overrides',
      'org_profiles',
      'org_scheduled_pipeline_runs',
      'org_subscriptions',
      'org_usage_quotas',
    ]);
  });

  it.each(DIALECTS)('generates DDL for every table in %s', (dialect) => {
    for (const t of tables) {
      const statements = createTableStatements(dialect, { dataset: 'organizations', table: t.name }, t);
      const expectedCount = dialect === 'bigquery' ? 1 : 1 + t.indexes.length;
      expect(statements, t.name).toHaveLength(expectedCount);
      expect(statements[0]).toMatch(new RegExp(`^CREATE TABLE IF NOT EXISTS ${dialect === 'bigquery' ? '`organizations\\.' + t.name + '`' : '"organizations"\\."' + t.name + '"'} \\(\\n`));
      for (const f of t.fields) expect(statements[0], `${t.name}.${f.name}`).toContain(quoteIdent(dialect, f.name));
      if (dialect === 'bigquery') {
        expect(statements[0]!.includes('\nPARTITION BY '), t.name).toBe(t.partitioning !== undefined);
        expect(statements[0]!.includes('\nCLUSTER BY '), t.name).toBe(t.clustering.length > 0);
        expect(statements[0]).not.toContain('UNIQUE');
      } else {
        expect(statements.slice(1).every((s) => s.startsWith('CREATE INDEX IF NOT EXISTS '))).toBe(true);
      }
    }
  });

  it('the DuckDB DDL of every table executes against a real database', async () => {
    await withDuckDb(async (db) => {
      const session = await db.session();
      await session.execute('CREATE SCHEMA organizations');
      for (const t of tables) {
        for (const sql of createTableStatements('duckdb', { dataset: 'organizations', table: t.name }, t)) await session.execute(sql);
      }
      const rows = await session.query<{ table_name: string; n: number }>(
        "SELECT table_name, count(*) AS n FROM information_schema.columns WHERE table_schema = 'organizations' GROUP BY table_name ORDER BY table_name",
      );
      expect(rows).toEqual(tables.map((t) => ({ table_name: t.name, n: t.fields.length })));
      const indexCount = await session.query<{ n: number }>("SELECT count(*) AS n FROM duckdb_indexes() WHERE schema_name = 'organizations'");
      expect(indexCount[0]?.n).toBe(tables.reduce((sum, t) => sum + t.indexes.length, 0));
    });
  });
});

// ---------------------------------------------------------------------------------------------
// Identifiers and literals
// ---------------------------------------------------------------------------------------------

// Names that start with a digit are fine once quoted: org slugs (and so datasets) may.
const INJECTIONS = [
  'a"; DROP TABLE x; --',
  'a`; DROP TABLE x; --',
  'a`b',
  '`a`',
  'a.b',
  '',
  'café',
  'naïve_table',
  'tæble',
  '表',
  'a b',
  'a-b',
  "a'b",
  'a\nb',
  'abc\n',
  'a\u0000',
  'x'.repeat(129),
];

describe('quoteIdent / qualifiedName', () => {
  it.each(DIALECTS)('%s quotes valid identifiers', (dialect) => {
    const q = dialect === 'bigquery' ? '`' : '"';
    expect(quoteIdent(dialect, 'org_slug')).toBe(`${q}org_slug${q}`);
    expect(quoteIdent(dialect, '_Mixed_Case9')).toBe(`${q}_Mixed_Case9${q}`);
    expect(quoteIdent(dialect, 'x'.repeat(128))).toBe(`${q}${'x'.repeat(128)}${q}`);
  });

  it.each(DIALECTS)('%s quoteIdent quotes names that start with a digit (org slugs may)', (dialect) => {
    expect(quoteIdent(dialect, '1abc')).toBe(dialect === 'bigquery' ? '`1abc`' : '"1abc"');
  });

  it.each(DIALECTS)('%s quoteIdent rejects injection attempts and non-identifiers', (dialect) => {
    for (const bad of INJECTIONS) expect(() => quoteIdent(dialect, bad), JSON.stringify(bad)).toThrow(/Invalid identifier/);
  });

  it.each(DIALECTS)('%s qualifiedName rejects a bad table name', (dialect) => {
    for (const bad of INJECTIONS) {
      expect(() => qualifiedName(dialect, { dataset: 'acme_co', table: bad }), JSON.stringify(bad)).toThrow(/Invalid identifier/);
      expect(() => qualifiedName(dialect, { project: 'my-project', dataset: 'acme_co', table: bad }), JSON.stringify(bad)).toThrow(
        /Invalid identifier/,
      );
    }
  });

  it.each(['duckdb', 'postgres'] as const)('%s qualifiedName rejects a bad dataset (schema) name', (dialect) => {
    for (const bad of INJECTIONS) {
      expect(() => qualifiedName(dialect, { dataset: bad, table: 't' }), JSON.stringify(bad)).toThrow(/Invalid identifier/);
    }
  });

  it('bigquery qualifiedName rejects a bad dataset when a project is given', () => {
    for (const bad of INJECTIONS) {
      expect(() => qualifiedName('bigquery', { project: 'my-project', dataset: bad, table: 't' }), JSON.stringify(bad)).toThrow(
        /Invalid identifier/,
      );
    }
  });

  // Regression: without a project, `parts.slice(1)` skips the dataset, so it is never validated.
  // qualifiedName('bigquery', { dataset: 'a`; DROP TABLE x; --', table: 't' }) returns "`a`; DROP TABLE x; --.t`".
  it('bigquery qualifiedName rejects a bad dataset without a project', () => {
    for (const bad of INJECTIONS) {
      expect(() => qualifiedName('bigquery', { dataset: bad, table: 't' }), JSON.stringify(bad)).toThrow(/Invalid identifier/);
    }
  });

  it('bigquery qualifiedName validates the project id', () => {
    expect(qualifiedName('bigquery', { project: 'my-project-42', dataset: 'd', table: 't' })).toBe('`my-project-42.d.t`');
    for (const bad of ['My-Project', 'p', 'my-project-', '1project', 'my_project', 'my-project`; DROP TABLE x; --', 'my.project', '']) {
      expect(() => qualifiedName('bigquery', { project: bad, dataset: 'd', table: 't' }), bad).toThrow(/Invalid project id/);
    }
  });

  it('qualifiedName formats per dialect', () => {
    expect(qualifiedName('duckdb', { dataset: 'acme_co', table: 'events' })).toBe('"acme_co"."events"');
    expect(qualifiedName('postgres', { dataset: 'acme_co', table: 'events' })).toBe('"acme_co"."events"');
    expect(qualifiedName('bigquery', { dataset: 'acme_co', table: 'events' })).toBe('`acme_co.events`');
  });

  it('property: every accepted identifier is plain ASCII and the quoted form contains no quote characters inside', () => {
    fc.assert(
      fc.property(fc.constantFrom(...DIALECTS), fc.string({ maxLength: 140 }), (dialect: Dialect, s: string) => {
        let quoted: string;
        try {
          quoted = quoteIdent(dialect, s);
        } catch {
          return; // rejected is always safe
        }
        expect(s).toMatch(/^[A-Za-z0-9_]+$/);
        expect(quoted.slice(1, -1)).toBe(s);
      }),
    );
  });
});

describe('bigQueryString', () => {
  it('escapes quotes, backslashes, newlines and carriage returns', () => {
    expect(bigQueryString('plain')).toBe('"plain"');
    expect(bigQueryString('say "hi"')).toBe('"say \\"hi\\""');
    expect(bigQueryString('C:\\path')).toBe('"C:\\\\path"');
    expect(bigQueryString('line1\nline2\r\n')).toBe('"line1\\nline2\\r\\n"');
    expect(bigQueryString('\\"')).toBe('"\\\\\\""'); // backslash then quote: both escaped, in that order
    expect(bigQueryString('")); DROP TABLE x; --')).toBe('"\\")); DROP TABLE x; --"');
  });

  it('property: the literal never terminates early and holds no raw newline', () => {
    fc.assert(
      fc.property(fc.string({ unit: fc.constantFrom('a', '"', '\\', '\n', '\r', "'", 'é', ' ') }), (s) => {
        const lit = bigQueryString(s);
        expect(lit.startsWith('"') && lit.endsWith('"')).toBe(true);
        const body = lit.slice(1, -1);
        expect(body).not.toMatch(/[\n\r]/);
        // Every quote in the body is preceded by an odd number of backslashes (i.e. escaped).
        expect(body).not.toMatch(/(^|[^\\])(\\\\)*"/);
        // Decoding the escapes gives back the input.
        expect(body.replace(/\\(.)/g, (_, c: string) => ({ n: '\n', r: '\r' })[c] ?? c)).toBe(s);
      }),
    );
  });
});

describe('indexName', () => {
  it('names are a readable prefix plus a hash of the exact column list', () => {
    expect(indexName('org_api_keys', ['org_slug'])).toBe('org_api_keys__org_slug_1aec961f_idx');
    expect(indexName('t', ['a', 'b'])).toBe('t__a_b_1a828578_idx');
  });

  it('long names keep a 50-character prefix and stay within 63 characters', () => {
    const table = 'org_meta_pipeline_runs_with_a_rather_long_name';
    const name = indexName(table, ['organization_slug', 'created_at_timestamp']);
    expect(name).toHaveLength(63);
    expect(name.startsWith(`${table}__organization_slug_created_at_timestamp`.slice(0, 50))).toBe(true);
    expect(name).toMatch(/_[0-9a-f]{8}_idx$/);
    expect(() => quoteIdent('postgres', name)).not.toThrow();
  });

  it('long names that differ only after the prefix stay distinct', () => {
    const table = 't'.repeat(60);
    const a = indexName(table, ['column_a']);
    const b = indexName(table, ['column_b']);
    expect(a.slice(0, 50)).toBe(b.slice(0, 50));
    expect(a).not.toBe(b);
    expect(indexName(table, ['column_a'])).toBe(a); // deterministic
  });

  it('property: ≤ 63 chars, a valid identifier, deterministic, and distinct for distinct long inputs', () => {
    const ident = fc.stringMatching(/^[a-z_][a-z0-9_]{0,60}$/);
    const input = fc.record({ table: ident, columns: fc.array(ident, { minLength: 1, maxLength: 4 }) });
    fc.assert(
      fc.property(input, input, (x, y) => {
        const nx = indexName(x.table, x.columns);
        expect(nx.length).toBeLessThanOrEqual(63);
        expect(() => quoteIdent('postgres', nx)).not.toThrow();
        expect(indexName(x.table, [...x.columns])).toBe(nx);
        if (JSON.stringify(x) !== JSON.stringify(y)) expect(indexName(y.table, y.columns)).not.toBe(nx);
      }),
      { numRuns: 500 },
    );
  });

  it('many long names of one table are all distinct', () => {
    const table = 'org_pipeline_execution_queue_for_tenants';
    const names = new Set<string>();
    for (let i = 0; i < 2000; i++) names.add(indexName(table, [`some_fairly_long_column_name_${i}`, 'created_at']));
    expect(names.size).toBe(2000);
    for (const n of names) expect(n.length).toBeLessThanOrEqual(63);
  });

  // Column names contain underscores, so the joined text alone would make ['a_b'] and ['a', 'b'] collide.
  it('different column lists of one table get different index names', () => {
    expect(indexName('t', ['a_b'])).not.toBe(indexName('t', ['a', 'b']));
  });
});

describe('addColumnStatement', () => {
  const required: FieldSchema = { name: 'extra', type: 'STRING', mode: 'REQUIRED', description: 'An "extra" column' };

  it('produces a nullable column even for a REQUIRED field, in every dialect', () => {
    expect(addColumnStatement('duckdb', EVENTS_REF, required)).toBe('ALTER TABLE "acme_co"."events" ADD COLUMN IF NOT EXISTS "extra" VARCHAR');
    expect(addColumnStatement('postgres', EVENTS_REF, required)).toBe('ALTER TABLE "acme_co"."events" ADD COLUMN IF NOT EXISTS "extra" TEXT');
    expect(addColumnStatement('bigquery', EVENTS_REF, required)).toBe(
      'ALTER TABLE `acme_co.events` ADD COLUMN IF NOT EXISTS `extra` STRING OPTIONS(description="An \\"extra\\" column")',
    );
  });

  it('property: never NOT NULL at top level for any field of the representative schema', () => {
    fc.assert(
      fc.property(fc.constantFrom(...DIALECTS), fc.constantFrom(...EVENTS.fields), (dialect, field) => {
        const stmt = addColumnStatement(dialect, EVENTS_REF, { ...field, mode: field.mode === 'REPEATED' ? 'REPEATED' : 'REQUIRED' });
        // Nested STRUCT members may keep NOT NULL in BigQuery; the column itself must not end with it.
        expect(stmt.replace(/ OPTIONS\(.*\)$/, '')).not.toMatch(/NOT NULL$/);
        expect(stmt.startsWith('ALTER TABLE ')).toBe(true);
      }),
    );
  });
});

// ---------------------------------------------------------------------------------------------
// parseTableSchema
// ---------------------------------------------------------------------------------------------
