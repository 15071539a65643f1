import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Value } from '@sinclair/typebox/value';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DuckDbControlStore } from '../../control-store/duckdb/duckdb-control-store.js';
import { DuckDbDatabase } from '../../duckdb/duckdb-database.js';
import { stepContext, stepError } from '../../../test/helpers/step-context.js';
import { StepError, type Processor, type StepContext, type StepResult } from '../../pipeline/processor.js';
import type { TypedValue } from '../../pipeline/variables.js';
import { DuckDbWarehouse } from '../../warehouse/duckdb/duckdb-warehouse.js';
import { bqEtlProcessor } from './bq-etl.js';

const DS = 'acme';
const OTHER = 'globex';
const CONFIGS = path.resolve('configs');
const PIPELINE_DIR = path.join(CONFIGS, 'demo', 'sample');
const logger = pino({ level: 'silent' });

let dir: string;
let db: DuckDbDatabase;
let warehouse: DuckDbWarehouse;
let processor: Processor;
let seq = 0;
const fresh = (prefix = 'dest'): string => `${prefix}_${++seq}`;

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'convergence-bq-etl-'));
  db = await DuckDbDatabase.open(path.join(dir, 'etl.duckdb'), { readableDirectories: [] });
  warehouse = await DuckDbWarehouse.open(db);
  const controlStore = await DuckDbControlStore.open(db);
  await warehouse.createDataset(DS);
  await warehouse.createDataset(OTHER);
  await warehouse.query(`CREATE TABLE ${DS}.source (usage_date DATE, sku VARCHAR, cost DOUBLE)`);
  await warehouse.query(`INSERT INTO ${DS}.source VALUES ('2025-01-01', 'a', 1), ('2025-01-01', 'b', 2), ('2025-01-02', 'c', 3)`);
  await warehouse.query(`CREATE TABLE ${OTHER}.secrets (usage_date DATE, s VARCHAR)`);
  await warehouse.query(`INSERT INTO ${OTHER}.secrets VALUES ('2025-01-01', 'globex-secret')`);
  processor = bqEtlProcessor({ warehouse, controlStore, now: () => new Date('2025-01-02T00:00:00Z'), logger });
});

afterAll(async () => {
  await db.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

const VARIABLES: Record<string, TypedValue> = {
  org_slug: { type: 'identifier', value: DS },
  dataset: { type: 'identifier', value: DS },
  date: { type: 'date', value: '2025-01-01' },
  company_name: { type: 'string', value: "O'Brien & Co' OR '1'='1" },
};

const context = (over: Partial<StepContext> = {}): StepContext =>
  stepContext({
    orgSlug: DS,
    dataset: DS,
    stepId: 'extract',
    pipelineDir: PIPELINE_DIR,
    configsDir: CONFIGS,
    variables: VARIABLES,
    run: { pipelineId: `${DS}_test_pipeline`, status: 'RUNNING', failures: [] },
    ...over,
  });

/** The config as the pipeline loader hands it over: schema defaults applied. */
const withDefaults = (config: Record<string, unknown>): never => {
  const c = Value.Default(processor.configSchema, Value.Clone(config));
  expect(Value.Check(processor.configSchema, c), JSON.stringify([...Value.Errors(processor.configSchema, c)].map((e) => e.message))).toBe(true);
  return c as never;
};

const etl = (query: string, destination: Record<string, unknown>, ctx = context()): Promise<StepResult> =>
  processor.run(ctx, withDefaults({ source: { query }, destination }));


const rows = (table: string, order = '1') => warehouse.query(`SELECT * FROM ${warehouse.tableReference(DS, table)} ORDER BY ${order}`);

describe('gcp.bq_etl', () => {
  it('defaults to WRITE_TRUNCATE and partition field usage_date', () => {
    const c = Value.Default(processor.configSchema, { source: { query: 'SELECT 1' }, destination: { table: 't' } }) as { destination: Record<string, unknown> };
    expect(c.destination).toMatchObject({ write_disposition: 'WRITE_TRUNCATE', partition_field: 'usage_date', partition_value: '{date}' });
  });

  it('writes the rows and reports them in metadata and output', async () => {
    const t = fresh();
    const r = await etl('SELECT sku, cost FROM source WHERE usage_date = DATE \'2025-01-01\'', { table: t });
    expect(r.rowsProcessed).toBe(2);
    expect(r.metadata).toEqual({
      destination: `${DS}.${t}`,
      write_disposition: 'WRITE_TRUNCATE',
      rows_written: 2,
      rows_replaced: 0,
      table_created: true,
    });
    expect(r.output).toEqual({ table: `${DS}.${t}`, rows_written: 2 });
    expect(await rows(t)).toEqual([
      { sku: 'a', cost: 1 },
      { sku: 'b', cost: 2 },
    ]);
    const again = await etl('SELECT sku, cost FROM source', { table: `${DS}.${t}` });
    expect(again.metadata).toMatchObject({ rows_written: 3, rows_replaced: 2, table_created: false });
  });

  it('WRITE_PARTITION replaces only the day and reports it', async () => {
    const t = fresh();
    const q = (d: string) => `SELECT usage_date, sku, cost FROM source WHERE usage_date = DATE '${d}'`;
    const dest = (d: string) => ({ table: t, write_disposition: 'WRITE_PARTITION', partition_value: d });
    await etl(q('2025-01-01'), dest('2025-01-01'));
    await etl(q('2025-01-02'), dest('2025-01-02'));
    const r = await etl(q('2025-01-01'), dest('2025-01-01'));
    expect(r.metadata).toMatchObject({ rows_written: 2, rows_replaced: 2, partition: 'usage_date=2025-01-01', write_disposition: 'WRITE_PARTITION' });
    expect(await rows(t, 'usage_date, sku')).toHaveLength(3);
  });

  it('WRITE_PARTITION refuses rows of another day with a StepError and writes nothing', async () => {
    const t = fresh();
    await etl("SELECT usage_date, sku FROM source WHERE usage_date = DATE '2025-01-02'", { table: t, write_disposition: 'WRITE_PARTITION', partition_value: '2025-01-02' });
    const e = await stepError(etl('SELECT usage_date, sku FROM source', { table: t, write_disposition: 'WRITE_PARTITION', partition_value: '2025-01-01' }));
    expect(e.retryable).toBe(false);
    expect(e.message).toMatch(/other days/);
    expect(await rows(t)).toEqual([{ usage_date: '2025-01-02', sku: 'c' }]);
  });

  it('WRITE_EMPTY on a non-empty table is a final StepError', async () => {
    const t = fresh();
    await etl('SELECT 1 AS x', { table: t, write_disposition: 'WRITE_EMPTY' });
    const e = await stepError(etl('SELECT 2 AS x', { table: t, write_disposition: 'WRITE_EMPTY' }));
    expect(e.retryable).toBe(false);
    expect(await rows(t)).toEqual([{ x: 1 }]);
  });

  it('binds @name parameters from the run variables (verbatim, not spliced)', async () => {
    const t = fresh();
    await etl('SELECT @company_name AS company, CAST(@date AS DATE) AS d', { table: t });
    expect(await rows(t)).toEqual([{ company: VARIABLES.company_name?.value, d: '2025-01-01' }]);
  });

  it('an @name that is not a variable of the run is a StepError', async () => {
    const t = fresh();
    const e = await stepError(etl('SELECT @nope AS x', { table: t }));
    expect(e.message).toMatch(/@nope/);
    expect(await warehouse.listTables(DS)).not.toContain(t);
  });

  describe('destination', () => {
    it.each([`${OTHER}.stolen`, 'organizations.org_profiles', 'a.b.c', 'bad-name', 'x; DROP TABLE source'])('refuses %s', async (table) => {
      const e = await stepError(etl('SELECT 1 AS x', { table }));
      expect(e.retryable).toBe(false);
      expect(await warehouse.listTables(OTHER)).toEqual(['secrets']);
    });

    it('accepts the own dataset written explicitly', async () => {
      const t = fresh();
      const r = await etl('SELECT 1 AS x', { table: `${DS}.${t}` });
      expect(r.metadata).toMatchObject({ destination: `${DS}.${t}` });
    });
  });

  describe('source SQL scope', () => {
    it.each([
      ['another dataset', `SELECT * FROM ${OTHER}.secrets`],
      ['the central dataset', 'SELECT * FROM organizations.org_profiles'],
      ['a subquery reaching out', `SELECT (SELECT s FROM ${OTHER}.secrets) AS s`],
      ['a file reader', "SELECT * FROM read_csv('/etc/passwd')"],
      ['a second statement', 'SELECT 1 AS x; DROP TABLE source'],
      ['a non-SELECT', 'DELETE FROM source'],
    ])('refuses %s before running anything', async (_what, query) => {
      const t = fresh();
      const e = await stepError(etl(query, { table: t }));
      expect(e.message).toMatch(/^SQL refused/);
      expect(e.retryable).toBe(false);
      expect(await warehouse.listTables(DS)).not.toContain(t);
      expect(await warehouse.query(`SELECT count(*)::BIGINT AS n FROM ${DS}.source`)).toEqual([{ n: 3 }]);
    });

    it('engine errors keep their message and stay retryable (not StepError)', async () => {
      const t = fresh();
      const e = await etl("SELECT error('engine boom') AS x", { table: t }).then(
        () => undefined,
        (err: unknown) => err,
      );
      expect(e).toBeInstanceOf(Error);
      expect(e).not.toBeInstanceOf(StepError);
      expect((e as Error).message).toMatch(/engine boom/);
    });

    it('a cancelled run does not write', async () => {
      const t = fresh();
      const ac = new AbortController();
      ac.abort();
      await expect(etl('SELECT 1 AS x', { table: t }, context({ signal: ac.signal }))).rejects.toThrow();
      expect(await warehouse.listTables(DS)).not.toContain(t);
    });
  });

  describe('schema file', () => {
    const demoQuery = `SELECT DATE '2025-01-01' AS usage_date, i AS line_id, 'gcp' AS provider, 'compute' AS service, 'SKU-1' AS sku,
      1.5 AS cost, -0.25 AS credits, 'USD' AS currency, TIMESTAMPTZ '2025-01-01 12:00:00+00' AS loaded_at FROM range(1, 4) AS t(i)`;

    it('creates typed columns from configs/demo/sample/schemas/demo_cost_daily_raw.json', async () => {
      const t = fresh('demo');
      const r = await etl(demoQuery, { table: t, write_disposition: 'WRITE_PARTITION', partition_value: '2025-01-01', schema: 'demo/sample/schemas/demo_cost_daily_raw.json' });
      expect(r.metadata).toMatchObject({ rows_written: 3, table_created: true });
      const cols = await warehouse.query<{ column_name: string; data_type: string; is_nullable: string }>(
        'SELECT column_name, data_type, is_nullable FROM information_schema.columns WHERE table_schema = $1 AND table_name = $2 ORDER BY ordinal_position',
        [DS, t],
      );
      expect(cols.map((c) => [c.column_name, c.data_type])).toEqual([
        ['usage_date', 'DATE'],
        ['line_id', 'BIGINT'],
        ['provider', 'VARCHAR'],
        ['service', 'VARCHAR'],
        ['sku', 'VARCHAR'],
        ['cost', 'DECIMAL(38,9)'],
        ['credits', 'DECIMAL(38,9)'],
        ['currency', 'VARCHAR'],
        ['loaded_at', 'TIMESTAMP WITH TIME ZONE'],
      ]);
      expect(cols.every((c) => c.is_nullable === 'NO')).toBe(true);
    });

    it('accepts a schema relative to the pipeline file (./)', async () => {
      const t = fresh('demo');
      const r = await etl(demoQuery, { table: t, schema: './schemas/demo_cost_daily_raw.json' });
      expect(r.metadata).toMatchObject({ rows_written: 3, table_created: true });
    });

    it('a result missing a REQUIRED column of the schema fails and writes nothing', async () => {
      const t = fresh('demo');
      await expect(etl("SELECT DATE '2025-01-01' AS usage_date", { table: t, schema: 'demo/sample/schemas/demo_cost_daily_raw.json' })).rejects.toThrow();
      expect(await warehouse.query(`SELECT count(*)::BIGINT AS n FROM ${DS}.${t}`)).toEqual([{ n: 0 }]);
    });

    it('run refuses a schema path escaping configs/', async () => {
      const e = await stepError(etl('SELECT 1 AS x', { table: fresh(), schema: '../package.json' }));
      expect(e.message).toMatch(/outside configs/);
    });

    describe('checkConfig', () => {
      const check = (schema: string, pipelineDir = PIPELINE_DIR) =>
        processor.checkConfig?.(withDefaults({ source: { query: 'SELECT 1' }, destination: { table: 't', schema } }), { pipelineDir, configsDir: CONFIGS });

      it('accepts an existing schema (configs-relative and ./-relative)', () => {
        expect(check('demo/sample/schemas/demo_cost_daily_raw.json')).toBeUndefined();
        expect(check('./schemas/demo_cost_daily_raw.json')).toBeUndefined();
      });

      it('accepts a config without schema', () => {
        expect(processor.checkConfig?.(withDefaults({ source: { query: 'SELECT 1' }, destination: { table: 't' } }), { pipelineDir: PIPELINE_DIR, configsDir: CONFIGS })).toBeUndefined();
      });

      it('reports a missing schema file', () => {
        expect(check('demo/sample/schemas/nope.json')).toMatch(/destination\.schema: .*nope\.json does not exist/);
        expect(check('./nope.json')).toMatch(/does not exist/);
      });

      it.each(['../package.json', 'demo/../../package.json', './../../../package.json', '../configs/../tsconfig.json'])('reports %s as escaping configs/', (schema) => {
        expect(check(schema)).toMatch(/destination\.schema: .*outside configs/);
      });

      it('reports a file that is not a valid table schema', () => {
        const configsDir = fs.mkdtempSync(path.join(dir, 'configs-'));
        fs.writeFileSync(path.join(configsDir, 'bad.json'), JSON.stringify({ fields: [{ name: 'x', type: 'NOT_A_TYPE' }] }));
        fs.writeFileSync(path.join(configsDir, 'broken.json'), '{ not json');
        const problem = (schema: string) =>
          processor.checkConfig?.(withDefaults({ source: { query: 'SELECT 1' }, destination: { table: 't', schema } }), { pipelineDir: configsDir, configsDir });
        expect(problem('bad.json')).toMatch(/^destination\.schema: /);
        expect(problem('broken.json')).toMatch(/^destination\.schema: /);
      });
    });
  });
});
