import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Value } from '@sinclair/typebox/value';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DuckDbControlStore } from '../../control-store/duckdb/duckdb-control-store.js';
import type { DqResultRecord } from '../../control-store/records.js';
import { DuckDbDatabase } from '../../duckdb/duckdb-database.js';
import { stepContext } from '../../../test/helpers/step-context.js';
import { StepError, type Processor, type StepContext, type StepResult } from '../../pipeline/processor.js';
import type { TypedValue } from '../../pipeline/variables.js';
import { loadTableSchemaDir } from '../../schema/table-schema.js';
import { DuckDbWarehouse } from '../../warehouse/duckdb/duckdb-warehouse.js';
import { dataQualityProcessor } from './check.js';

const DS = 'acme';
const OTHER = 'globex';
const SECRET = 'globex-secret-value';
const logger = pino({ level: 'silent' });

let dir: string;
let db: DuckDbDatabase;
let warehouse: DuckDbWarehouse;
let controlStore: DuckDbControlStore;
let processor: Processor;
let now = new Date('2025-01-02T10:00:00Z');

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'convergence-dq-'));
  db = await DuckDbDatabase.open(path.join(dir, 'dq.duckdb'), { readableDirectories: [] });
  warehouse = await DuckDbWarehouse.open(db);
  controlStore = await DuckDbControlStore.open(db);
  await controlStore.ensureCentralSchema(loadTableSchemaDir('configs/setup/bootstrap/schemas'));
  await warehouse.createDataset(DS);
  await warehouse.createDataset(OTHER);
  await warehouse.query(`CREATE TABLE ${DS}.orders (id INTEGER, status VARCHAR, amount DOUBLE, day DATE, updated_at TIMESTAMPTZ, note VARCHAR)`);
  await warehouse.query(`INSERT INTO ${DS}.orders VALUES
    (1, 'open',   10, '2025-01-01', '2025-01-01 10:00:00+00', 'it''s'),
    (2, 'closed', 20, '2025-01-01', '2025-01-01 11:00:00+00', NULL),
    (3, 'open',   -5, '2025-01-02', '2025-01-02 08:00:00+00', 'x'),
    (3, 'weird',   7, '2025-01-02', '2025-01-02 07:00:00+00', 'x'),
    (4, NULL,      1, '2025-01-02', '2025-01-02 06:00:00+00', 'y')`);
  await warehouse.query(`CREATE TABLE ${DS}.empty_table (id INTEGER, seen_at TIMESTAMPTZ)`);
  await warehouse.query(`CREATE TABLE ${OTHER}.secrets (s VARCHAR)`);
  await warehouse.query(`INSERT INTO ${OTHER}.secrets VALUES ('${SECRET}')`);
  processor = dataQualityProcessor({ warehouse, controlStore, now: () => now, logger });
});

afterAll(async () => {
  await db.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

const VARIABLES: Record<string, TypedValue> = {
  org_slug: { type: 'identifier', value: DS },
  dataset: { type: 'identifier', value: DS },
  date: { type: 'date', value: '2025-01-01' },
};

const context = (over: Partial<StepContext> = {}): StepContext =>
  stepContext({
    orgSlug: DS,
    dataset: DS,
    stepId: 'check',
    variables: VARIABLES,
    run: { pipelineId: `${DS}_dq_test`, status: 'RUNNING', failures: [] },
    ...over,
  });

const withDefaults = (config: Record<string, unknown>): never => {
  const c = Value.Default(processor.configSchema, Value.Clone(config));
  expect(Value.Check(processor.configSchema, c), JSON.stringify([...Value.Errors(processor.configSchema, c)].map((e) => `${e.path} ${e.message}`))).toBe(true);
  return c as never;
};

interface Outcome {
  readonly result?: StepResult;
  readonly error?: unknown;
  readonly rows: DqResultRecord[];
  readonly ctx: StepContext;
}

/** Runs the step and returns its result or error together with the rows it wrote. */
async function check(config: Record<string, unknown>, ctx = context()): Promise<Outcome> {
  const cfg = withDefaults(config);
  let result: StepResult | undefined;
  let error: unknown;
  try {
    result = await processor.run(ctx, cfg);
  } catch (e) {
    error = e;
  }
  const rows = await controlStore.runs.listDqResults(ctx.orgSlug, ctx.pipelineLoggingId);
  return { result, error, rows, ctx };
}

/** One check of severity warn (so the step succeeds), returning its stored row. */
async function one(c: Record<string, unknown>, opts: { table?: string; where?: string } = {}): Promise<DqResultRecord> {
  const o = await check({ table: opts.table ?? 'orders', ...(opts.where === undefined ? {} : { where: opts.where }), checks: [{ name: 'c', severity: 'warn', ...c }] });
  expect(o.error).toBeUndefined();
  expect(o.rows).toHaveLength(1);
  return o.rows[0] as DqResultRecord;
}

describe('data_quality.check', () => {
  describe('not_null', () => {
    it('fails with the number of nulls', async () => {
      const r = await one({ type: 'not_null', column: 'status' });
      expect(r).toMatchObject({ status: 'FAIL', check_type: 'not_null', observed_value: '1 nulls', expected_value: '0 nulls', row_count: 5, failed_row_count: 1 });
      expect(r.message).toBe('c: expected 0 nulls, observed 1 nulls');
    });

    it('passes', async () => {
      const r = await one({ type: 'not_null', column: 'id' });
      expect(r).toMatchObject({ status: 'PASS', observed_value: '0 nulls', row_count: 5, failed_row_count: 0, message: null });
    });

    it('honours the check-level where', async () => {
      expect(await one({ type: 'not_null', column: 'status', where: "day = DATE '2025-01-01'" })).toMatchObject({ status: 'PASS', row_count: 2 });
    });
  });

  describe('unique', () => {
    it('fails with the duplicated keys and the rows involved', async () => {
      const r = await one({ type: 'unique', columns: ['id'] });
      expect(r).toMatchObject({ status: 'FAIL', observed_value: '1 duplicated keys', expected_value: 'unique (id)', row_count: 5, failed_row_count: 2 });
    });

    it('passes on a composite key', async () => {
      expect(await one({ type: 'unique', columns: ['id', 'status'] })).toMatchObject({ status: 'PASS', row_count: 5, failed_row_count: 0 });
    });

    it('honours the table-level where', async () => {
      expect(await one({ type: 'unique', columns: ['id'] }, { where: "day = DATE '2025-01-01'" })).toMatchObject({ status: 'PASS', row_count: 2 });
    });
  });

  describe('accepted_values', () => {
    it('fails on values outside the list (NULLs are not counted)', async () => {
      const r = await one({ type: 'accepted_values', column: 'status', values: ['open', 'closed'] });
      expect(r).toMatchObject({ status: 'FAIL', observed_value: '1 rows outside the list', expected_value: 'one of 2 values', row_count: 5, failed_row_count: 1 });
    });

    it('binds values, so a value with a quote matches literally', async () => {
      expect(await one({ type: 'accepted_values', column: 'note', values: ["it's", 'x', 'y'] })).toMatchObject({ status: 'PASS', failed_row_count: 0 });
      expect(await one({ type: 'accepted_values', column: 'note', values: ["it's"] })).toMatchObject({ status: 'FAIL', failed_row_count: 3 });
      // A quote that would break out of a spliced literal is just a value that matches nothing.
      expect(await one({ type: 'accepted_values', column: 'note', values: ["x') OR ('1'='1"] })).toMatchObject({ status: 'FAIL', failed_row_count: 4 });
    });

    it('accepts numbers', async () => {
      expect(await one({ type: 'accepted_values', column: 'id', values: [1, 2, 3, 4] })).toMatchObject({ status: 'PASS' });
      expect(await one({ type: 'accepted_values', column: 'id', values: [1, 2] })).toMatchObject({ status: 'FAIL', failed_row_count: 3 });
    });

    it('honours where', async () => {
      expect(await one({ type: 'accepted_values', column: 'status', values: ['open', 'closed'], where: "day = DATE '2025-01-01'" })).toMatchObject({ status: 'PASS', row_count: 2 });
    });
  });

  describe('row_count', () => {
    it.each([
      [{ min: 1 }, 'PASS', '1..∞'],
      [{ min: 5, max: 5 }, 'PASS', '5..5'],
      [{ min: 6 }, 'FAIL', '6..∞'],
      [{ max: 4 }, 'FAIL', '0..4'],
      [{}, 'PASS', '0..∞'],
    ])('%o → %s', async (bounds, status, expected) => {
      const r = await one({ type: 'row_count', ...bounds });
      expect(r).toMatchObject({ status, observed_value: '5', expected_value: expected, row_count: 5, failed_row_count: null });
    });

    it('counts only the rows matching both where conditions', async () => {
      const r = await one({ type: 'row_count', max: 1, where: 'amount > 5' }, { where: "day = DATE '2025-01-02'" });
      expect(r).toMatchObject({ status: 'PASS', observed_value: '1' });
    });

    it('an empty table fails min 1', async () => {
      expect(await one({ type: 'row_count', min: 1 }, { table: 'empty_table' })).toMatchObject({ status: 'FAIL', observed_value: '0' });
    });
  });

  describe('freshness (injected now = 2025-01-02T10:00Z)', () => {
    it('passes when the newest timestamp is recent enough', async () => {
      const r = await one({ type: 'freshness', column: 'updated_at', max_age: '3h' });
      expect(r).toMatchObject({ status: 'PASS', observed_value: '2025-01-02T08:00:00.000Z', expected_value: 'newer than 3h', row_count: 5 });
    });

    it('fails when it is too old', async () => {
      expect(await one({ type: 'freshness', column: 'updated_at', max_age: '1h59m' })).toMatchObject({ status: 'FAIL', observed_value: '2025-01-02T08:00:00.000Z' });
    });

    it('follows the clock', async () => {
      const saved = now;
      try {
        now = new Date('2025-01-02T08:30:00Z');
        expect(await one({ type: 'freshness', column: 'updated_at', max_age: '1h' })).toMatchObject({ status: 'PASS' });
        now = new Date('2025-01-03T08:30:00Z');
        expect(await one({ type: 'freshness', column: 'updated_at', max_age: '1h' })).toMatchObject({ status: 'FAIL' });
      } finally {
        now = saved;
      }
    });

    it('works on a DATE column (midnight UTC of the latest day)', async () => {
      expect(await one({ type: 'freshness', column: 'day', max_age: '1d' })).toMatchObject({ status: 'PASS', observed_value: '2025-01-02T00:00:00.000Z' });
      expect(await one({ type: 'freshness', column: 'day', max_age: '9h' })).toMatchObject({ status: 'FAIL' });
    });

    it('honours where', async () => {
      expect(await one({ type: 'freshness', column: 'updated_at', max_age: '22h', where: "day = DATE '2025-01-01'" })).toMatchObject({
        status: 'FAIL',
        observed_value: '2025-01-01T11:00:00.000Z',
      });
    });

    it('fails on no rows', async () => {
      expect(await one({ type: 'freshness', column: 'seen_at', max_age: '1d' }, { table: 'empty_table' })).toMatchObject({ status: 'FAIL', observed_value: 'no rows', row_count: 0 });
    });
  });

  describe('expression', () => {
    it('fails with the rows violating it', async () => {
      const r = await one({ type: 'expression', expression: 'amount >= 0' });
      expect(r).toMatchObject({ status: 'FAIL', observed_value: '1 rows violate it', expected_value: 'amount >= 0', row_count: 5, failed_row_count: 1 });
    });

    it('passes', async () => {
      expect(await one({ type: 'expression', expression: 'amount < 100 AND id > 0' })).toMatchObject({ status: 'PASS', failed_row_count: 0 });
    });

    it('honours where', async () => {
      expect(await one({ type: 'expression', expression: 'amount >= 0', where: "day = DATE '2025-01-01'" })).toMatchObject({ status: 'PASS', row_count: 2 });
    });

    it('may bind run variables as @parameters', async () => {
      expect(await one({ type: 'expression', expression: 'day >= CAST(@date AS DATE)' })).toMatchObject({ status: 'PASS', row_count: 5 });
    });
  });

  describe('severity', () => {
    it('warn failures are recorded and the step succeeds', async () => {
      const o = await check({
        table: 'orders',
        checks: [
          { name: 'has_rows', type: 'row_count', min: 1 },
          { name: 'status_set', type: 'not_null', column: 'status', severity: 'warn' },
        ],
      });
      expect(o.error).toBeUndefined();
      expect(o.result?.metadata).toEqual({ checks: 2, passed: 1, failed: 1, failed_errors: 0, warnings: 1 });
      expect(o.result?.output).toEqual(o.result?.metadata);
      expect(o.result?.rowsProcessed).toBe(5);
      expect(o.rows.map((r) => [r.check_name, r.status, r.severity])).toEqual([
        ['has_rows', 'PASS', 'error'],
        ['status_set', 'FAIL', 'warn'],
      ]);
    });

    it('an error failure throws a StepError naming the failed checks, after every result was written', async () => {
      const o = await check({
        table: `${DS}.orders`,
        checks: [
          { name: 'ids_unique', type: 'unique', columns: ['id'] },
          { name: 'too_many', type: 'row_count', max: 2, severity: 'error' },
          { name: 'status_set', type: 'not_null', column: 'status', severity: 'warn' },
          { name: 'has_rows', type: 'row_count', min: 1 },
        ],
      });
      expect(o.error).toBeInstanceOf(StepError);
      const e = o.error as StepError;
      expect(e.retryable).toBe(false);
      expect(e.message).toMatch(/2 check\(s\) failed/);
      expect(e.message).toMatch(/ids_unique/);
      expect(e.message).toMatch(/too_many/);
      expect(e.message).not.toMatch(/status_set|has_rows/);
      expect(o.rows).toHaveLength(4);
      const byName = Object.fromEntries(o.rows.map((r) => [r.check_name, r]));
      expect(byName.ids_unique).toMatchObject({ status: 'FAIL', severity: 'error', failed_row_count: 2 });
      expect(byName.too_many).toMatchObject({ status: 'FAIL', severity: 'error', observed_value: '5', expected_value: '0..2' });
      expect(byName.status_set).toMatchObject({ status: 'FAIL', severity: 'warn' });
      expect(byName.has_rows).toMatchObject({ status: 'PASS', severity: 'error', message: null });
    });

    it('severity defaults to error', async () => {
      const o = await check({ table: 'orders', checks: [{ name: 'nope', type: 'row_count', max: 0 }] });
      expect(o.error).toBeInstanceOf(StepError);
      expect(o.rows[0]?.severity).toBe('error');
    });
  });

  it('writes every result to organizations.org_meta_dq_results with run, step and table', async () => {
    const ctx = context({ stepId: 'quality' });
    await check(
      {
        table: 'orders',
        checks: [
          { name: 'a', type: 'row_count', min: 1, severity: 'warn' },
          { name: 'b', type: 'not_null', column: 'status', severity: 'warn' },
          { name: 'c', type: 'expression', expression: 'amount >= 0', severity: 'warn' },
        ],
      },
      ctx,
    );
    const stored = await warehouse.query<Record<string, unknown>>(
      'SELECT * FROM organizations.org_meta_dq_results WHERE pipeline_logging_id = $1 ORDER BY check_name',
      [ctx.pipelineLoggingId],
    );
    expect(stored).toHaveLength(3);
    for (const r of stored) {
      expect(r).toMatchObject({ org_slug: DS, step_id: 'quality', target_table: `${DS}.orders`, severity: 'warn' });
      expect(typeof r.dq_result_id).toBe('string');
      expect(r.created_at).toEqual(now);
    }
    expect(stored.map((r) => [r.check_name, r.check_type, r.status, r.observed_value, r.expected_value, r.row_count, r.failed_row_count])).toEqual([
      ['a', 'row_count', 'PASS', '5', '1..∞', 5, null],
      ['b', 'not_null', 'FAIL', '1 nulls', '0 nulls', 5, 1],
      ['c', 'expression', 'FAIL', '1 rows violate it', 'amount >= 0', 5, 1],
    ]);
    expect(new Set(stored.map((r) => r.dq_result_id)).size).toBe(3);
  });

  describe('failures of the step itself', () => {
    it('a missing table is a StepError and records nothing', async () => {
      const o = await check({ table: 'no_such_table', checks: [{ name: 'x', type: 'row_count', min: 1 }] });
      expect(o.error).toBeInstanceOf(StepError);
      expect((o.error as Error).message).toMatch(/acme\.no_such_table does not exist/);
      expect(o.rows).toEqual([]);
    });

    it('a table of another dataset is a StepError', async () => {
      const o = await check({ table: `${OTHER}.secrets`, checks: [{ name: 'x', type: 'row_count', min: 1 }] });
      expect(o.error).toBeInstanceOf(StepError);
      expect((o.error as Error).message).toMatch(/outside dataset acme/);
      expect(o.rows).toEqual([]);
    });

    it('an unknown column is recorded as ERROR', async () => {
      const o = await check({ table: 'orders', checks: [{ name: 'ghost', type: 'not_null', column: 'ghost' }] });
      expect(o.error).toBeInstanceOf(StepError);
      expect(o.rows[0]).toMatchObject({ status: 'ERROR', observed_value: null, row_count: null });
      expect(o.rows[0]?.message).toMatch(/ghost/);
    });
  });

  describe('SQL reaching outside the dataset', () => {
    const outside = [
      ['expression with a subquery on another dataset', { type: 'expression', expression: `(SELECT count(*) FROM ${OTHER}.secrets WHERE s = '${SECRET}') = 0` }],
      ['expression with a central table', { type: 'expression', expression: '(SELECT count(*) FROM organizations.org_api_keys) >= 0' }],
      ['expression reading a file', { type: 'expression', expression: "(SELECT count(*) FROM read_text('/etc/passwd')) > 0" }],
      ['where with a subquery on another dataset', { type: 'row_count', min: 1, where: `status IN (SELECT s FROM ${OTHER}.secrets)` }],
      ['where breaking out of its parentheses', { type: 'row_count', min: 1, where: `TRUE) UNION ALL SELECT count(*) FROM ${OTHER}.secrets WHERE (TRUE` }],
    ] as const;

    it.each(outside)('%s: recorded as ERROR (refused, never run), nothing leaks', async (_what, spec) => {
      const o = await check({ table: 'orders', checks: [{ name: 'sneaky', severity: 'error', ...spec }] });
      expect(o.error).toBeInstanceOf(StepError);
      expect(o.rows).toHaveLength(1);
      const r = o.rows[0] as DqResultRecord;
      expect(r.status).toBe('ERROR');
      expect(r.message).toMatch(/SQL refused/);
      expect(r.observed_value).toBeNull();
      expect(r.row_count).toBeNull();
      expect(r.failed_row_count).toBeNull();
      expect(JSON.stringify(o.rows)).not.toContain(SECRET);
      expect((o.error as Error).message).not.toContain(SECRET.replace(/-value$/, 'x'));
    });

    // Regression (fixed, duckdb-query-scope.ts): SHOW/DESCRIBE references are not inspected, so an expression can
    // probe the catalog of other datasets; the counts stored in the result carry the answer out.
    it('an expression probing the catalog of another dataset is refused', async () => {
      const o = await check({
        table: 'orders',
        checks: [{ name: 'probe', severity: 'warn', type: 'expression', expression: `(SELECT count(*) FROM (SHOW ALL TABLES) WHERE "schema" = '${OTHER}') = 0` }],
      });
      expect(o.rows[0]).toMatchObject({ status: 'ERROR' });
    });

    it('with severity warn the refusal is recorded and the step succeeds', async () => {
      const o = await check({ table: 'orders', checks: [{ name: 'sneaky', severity: 'warn', type: 'expression', expression: `(SELECT count(*) FROM ${OTHER}.secrets) = 0` }] });
      expect(o.error).toBeUndefined();
      expect(o.rows[0]).toMatchObject({ status: 'ERROR', severity: 'warn' });
      expect(o.result?.metadata).toMatchObject({ failed: 1, warnings: 1, failed_errors: 0 });
    });
  });

  it('a cancelled run stops instead of recording errors', async () => {
    const ac = new AbortController();
    ac.abort();
    const o = await check({ table: 'orders', checks: [{ name: 'x', type: 'row_count', min: 1 }] }, context({ signal: ac.signal }));
    expect(o.error).toBeDefined();
    expect(o.error).not.toBeInstanceOf(StepError);
    expect(o.rows).toEqual([]);
  });
});
