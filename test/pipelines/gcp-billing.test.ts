import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { generateGcpBillingExport } from '../../src/generators/gcp-billing-export.js';
import { exportRow, serviceAccount } from '../helpers/gcp.js';
import { startRuntime, type TestRuntime } from '../helpers/runtime.js';

/**
 * The GCP billing pipeline over export files under IMPORT_DIR: generated NDJSON and Parquet with
 * known totals (compared to the cent, in every currency), re-runs, late re-exported rows, bad
 * lines and paths that try to leave the import directory.
 */
const ORG = 'acme';
const DAYS = ['2026-11-19', '2026-11-20'];

let shared: string;
let totals: Record<string, Record<string, { rows: number; cost: string; credits: string; net: string }>>;

beforeAll(async () => {
  shared = fs.mkdtempSync(path.join(os.tmpdir(), 'convergence-gcp-gen-'));
  const ndjson = await generateGcpBillingExport({ outDir: path.join(shared, 'ndjson'), start: DAYS[0] as string, days: 2, rowsPerDay: 400, seed: 7, format: 'ndjson' });
  await generateGcpBillingExport({ outDir: path.join(shared, 'parquet'), start: DAYS[0] as string, days: 2, rowsPerDay: 400, seed: 7, format: 'parquet' });
  totals = ndjson.totals.days as never;
}, 60_000);
afterAll(() => fs.rmSync(shared, { recursive: true, force: true }));

let rt: TestRuntime;
let key: string;
let importDir: string;

beforeEach(async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'convergence-gcp-'));
  importDir = path.join(dir, 'import');
  fs.mkdirSync(importDir, { recursive: true });
  rt = await startRuntime({ IMPORT_DIR: importDir }, dir);
  await rt.bootstrap();
  key = (await rt.onboard(ORG, 'SCALE')).api_key;
});
afterEach(async () => {
  await rt.close();
});

interface Run {
  status: string;
  steps: { step_id: string; status: string; error_message: string | null }[];
  dq_results: { check_name: string; status: string }[];
}

function copyExport(kind: 'ndjson' | 'parquet', into = 'gcp'): void {
  fs.mkdirSync(path.join(importDir, into), { recursive: true });
  for (const f of fs.readdirSync(path.join(shared, kind))) {
    if (f.endsWith(`.${kind}`)) fs.copyFileSync(path.join(shared, kind, f), path.join(importDir, into, f));
  }
}

async function setup(pattern: string): Promise<void> {
  const res = await rt.org(key, 'POST', `/api/v1/integrations/${ORG}/gcp/setup`, { credential: serviceAccount(), config: { billing_export_path: pattern } });
  expect(res.statusCode, res.body).toBe(201);
}

async function run(date: string): Promise<Run> {
  const res = await rt.org(key, 'POST', `/api/v1/pipelines/run/${ORG}/gcp/cost/billing?wait=true`, { date });
  expect(res.statusCode, res.body).toBe(200);
  return res.json<Run>();
}

const why = (r: Run): string => JSON.stringify(r.steps.map((s) => [s.step_id, s.status, s.error_message]));

/** Σ per currency of one table's amount column for the day, as exact decimal text (trailing zeros dropped). */
async function sums(sql: string, day: string): Promise<Record<string, string>> {
  const rows = await rt.warehouse.query<{ c: string; t: string }>(sql, [day]);
  return Object.fromEntries(rows.map((r) => [r.c, r.t.includes('.') ? r.t.replace(/0+$/, '').replace(/\.$/, '') : r.t]));
}

const expectedNet = (day: string): Record<string, string> => Object.fromEntries(Object.entries(totals[day] ?? {}).map(([c, t]) => [c, t.net]));

describe('gcp/cost/billing over generated exports', () => {
  for (const kind of ['ndjson', 'parquet'] as const) {
    it(`${kind}: every day's totals equal the export's, in every table, to the cent`, async () => {
      copyExport(kind);
      await setup(`gcp/*.${kind}`);
      for (const day of DAYS) {
        const r = await run(day);
        expect(r.status, why(r)).toBe('SUCCESS');
        expect(r.dq_results.filter((d) => d.status !== 'PASS')).toEqual([]);
        const expected = expectedNet(day);
        expect(Object.keys(expected).sort()).toEqual(['EUR', 'USD']);
        expect(await sums(`SELECT currency AS c, CAST(SUM(cost + credits_total) AS VARCHAR) AS t FROM "${ORG}".gcp_billing_daily_raw WHERE usage_date = CAST($1 AS DATE) GROUP BY 1`, day)).toEqual(expected);
        expect(await sums(`SELECT currency AS c, CAST(SUM(net_cost) AS VARCHAR) AS t FROM "${ORG}".gcp_cost_daily WHERE usage_date = CAST($1 AS DATE) GROUP BY 1`, day)).toEqual(expected);
        expect(await sums(`SELECT BillingCurrency AS c, CAST(SUM(BilledCost) AS VARCHAR) AS t FROM "${ORG}".cost_focus_daily WHERE x_ProviderCode = 'gcp' AND x_ChargeDate = CAST($1 AS DATE) GROUP BY 1`, day)).toEqual(expected);
        const [n] = await rt.warehouse.query<{ n: number }>(`SELECT COUNT(*)::INT AS n FROM "${ORG}".gcp_billing_daily_raw WHERE usage_date = CAST($1 AS DATE)`, [day]);
        expect(n?.n).toBe(Object.values(totals[day] ?? {}).reduce((a, t) => a + t.rows, 0));
      }
    });
  }

  it('re-running a day never duplicates, and picks up rows Google re-exported later', async () => {
    copyExport('ndjson');
    await setup('gcp/*.ndjson');
    const day = DAYS[1] as string;
    expect((await run(day)).status).toBe('SUCCESS');
    expect((await run(day)).status).toBe('SUCCESS');
    expect(await sums(`SELECT BillingCurrency AS c, CAST(SUM(BilledCost) AS VARCHAR) AS t FROM "${ORG}".cost_focus_daily WHERE x_ChargeDate = CAST($1 AS DATE) GROUP BY 1`, day)).toEqual(expectedNet(day));
    // A late correction arrives in a new file: the re-run includes it, once.
    fs.writeFileSync(path.join(importDir, 'gcp', 'late.ndjson'), JSON.stringify(exportRow({ usage_start_time: `${day} 10:00:00 UTC`, cost: -2.5, credits: [], cost_type: 'adjustment', adjustment_info: { id: 'a1', description: 'fix', mode: 'MANUAL_ADJUSTMENT', type: 'USAGE_CORRECTION' } })) + '\n');
    expect((await run(day)).status).toBe('SUCCESS');
    const usd = (await sums(`SELECT BillingCurrency AS c, CAST(SUM(BilledCost) AS VARCHAR) AS t FROM "${ORG}".cost_focus_daily WHERE x_ChargeDate = CAST($1 AS DATE) GROUP BY 1`, day)).USD;
    expect(Number(usd)).toBeCloseTo(Number(expectedNet(day).USD) - 2.5, 6);
    // The other day is untouched by re-runs of this one.
    expect(await sums(`SELECT BillingCurrency AS c, CAST(SUM(BilledCost) AS VARCHAR) AS t FROM "${ORG}".cost_focus_daily WHERE x_ChargeDate = CAST($1 AS DATE) GROUP BY 1`, DAYS[0] as string)).toEqual({});
  });

  it('a bad line fails the run naming file and line, and loads nothing', async () => {
    fs.mkdirSync(path.join(importDir, 'gcp'));
    const good = JSON.stringify(exportRow());
    fs.writeFileSync(path.join(importDir, 'gcp', 'a.ndjson'), `${good}\n${good}\n{"cost": 1.5, "currency": \n${good}\n`);
    await setup('gcp/*.ndjson');
    const r = await run('2026-11-20');
    expect(r.status).toBe('FAILED');
    expect(r.steps.find((s) => s.step_id === 'extract')?.error_message).toMatch(/gcp\/a\.ndjson, line 3/);
    const tables = await rt.warehouse.listTables(ORG);
    if (tables.includes('gcp_billing_daily_raw')) {
      const [n] = await rt.warehouse.query<{ n: number }>(`SELECT COUNT(*)::INT AS n FROM "${ORG}".gcp_billing_daily_raw`);
      expect(n?.n).toBe(0);
    }
  });

  it('a timestamp in neither export format fails the run instead of loading NULL', async () => {
    fs.mkdirSync(path.join(importDir, 'gcp'));
    fs.writeFileSync(path.join(importDir, 'gcp', 'a.ndjson'), `${JSON.stringify(exportRow({ export_time: 'yesterday-ish' }))}\n`);
    await setup('gcp/*.ndjson');
    const r = await run('2026-11-20');
    expect(r.status).toBe('FAILED');
    expect(r.steps.find((s) => s.step_id === 'extract')?.error_message).toMatch(/export_time.*not a timestamp/);
  });

  it('files outside IMPORT_DIR are out of reach, also through a link', async () => {
    fs.mkdirSync(path.join(importDir, 'gcp'));
    fs.writeFileSync(path.join(importDir, 'gcp', 'a.ndjson'), `${JSON.stringify(exportRow())}\n`);
    for (const pattern of ['../../etc/passwd', '/etc/passwd', 'gcp/../../x.ndjson', '~/x.ndjson']) {
      const res = await rt.org(key, 'POST', `/api/v1/integrations/${ORG}/gcp/setup`, { credential: serviceAccount(), config: { billing_export_path: pattern } });
      expect(res.statusCode, pattern).toBe(400);
    }
    const outside = fs.mkdtempSync(path.join(os.tmpdir(), 'convergence-outside-'));
    fs.writeFileSync(path.join(outside, 'x.ndjson'), `${JSON.stringify(exportRow())}\n`);
    fs.symlinkSync(path.join(outside, 'x.ndjson'), path.join(importDir, 'gcp', 'link.ndjson'));
    // Links are not followed: the pattern matches the real file only, and the run reads only it.
    await setup('gcp/*.ndjson');
    expect((await run('2026-11-20')).status).toBe('SUCCESS');
    const [n] = await rt.warehouse.query<{ n: number }>(`SELECT COUNT(*)::INT AS n FROM "${ORG}".gcp_billing_daily_raw`);
    expect(n?.n).toBe(1);
    fs.rmSync(outside, { recursive: true, force: true });
  });
});

describe('gcp/cost/billing over exports written by other tools', () => {
  it('reads Parquet that lacks optional columns (NULL), and NDJSON with unknown extra fields', async () => {
    fs.mkdirSync(path.join(importDir, 'gcp'));
    const rows = [exportRow({ x_new_google_column: { a: 1 } }), exportRow({ cost: 2.5, credits: [] })];
    const src = path.join(importDir, 'gcp', 'src.ndjson');
    fs.writeFileSync(src, rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
    // A Parquet file with only the core columns, as a minimal exporter might write it.
    const { DuckDbDatabase } = await import('../../src/duckdb/duckdb-database.js');
    const db = await DuckDbDatabase.open(':memory:', { readableDirectories: [importDir] });
    try {
      const s = await db.session();
      await s.execute(
        `COPY (SELECT 'USD' AS currency, 'regular' AS cost_type, 3.75::DOUBLE AS cost, TIMESTAMPTZ '2026-11-20 05:00:00+00' AS usage_start_time,
                      {'id': 'S1', 'description': 'BigQuery'} AS service, {'id': 'K1', 'description': 'Analysis'} AS sku)
         TO '${path.join(importDir, 'gcp', 'min.parquet')}' (FORMAT parquet)`,
      );
    } finally {
      await db.close();
    }
    await setup('gcp/*');
    const r = await run('2026-11-20');
    expect(r.status, why(r)).toBe('SUCCESS');
    expect(await sums(`SELECT currency AS c, CAST(SUM(cost + credits_total) AS VARCHAR) AS t FROM "${ORG}".gcp_billing_daily_raw WHERE usage_date = CAST($1 AS DATE) GROUP BY 1`, '2026-11-20')).toEqual({ USD: '7.25' });
  });
});
