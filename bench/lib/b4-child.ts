// One side of B4, in a process of its own so its RSS high-water mark is its alone. Prints one JSON line.
//   node --import tsx bench/lib/b4-child.ts pipeline|baseline <importDir> <pattern under importDir> <day>
// pipeline: a fresh embedded runtime (temp data dir), bootstrap, onboard, GCP integration with
//   billing_export_path = pattern, then POST /api/v1/pipelines/run/{org}/gcp/cost/billing?wait=true (timed).
// baseline: the files <pattern>'s directory holds with its extension, a separate DuckDB file with the service's engine settings, the same engine settings, and hand-written SQL doing the same load
//   and aggregation: read_json with the export's columns → raw table → daily cost → FOCUS rollup,
//   then the per-currency sums the pipeline's reconciliation checks compute (timed).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { loadConfig } from '../../src/config/config.js';
import { DuckDbDatabase, type DuckDbSession } from '../../src/duckdb/duckdb-database.js';
import { columnType } from '../../src/schema/ddl.js';
import { loadTableSchemaFile } from '../../src/schema/table-schema.js';
import { serviceAccount } from '../../test/helpers/gcp.js';
import { BENCH_ORG, REPO_ROOT, benchRuntime, peakRssMib, round } from '../support.js';

export interface CurrencySums {
  readonly rows: number;
  /** Σ(cost + credits) in the raw table, Σ net_cost in the daily table, Σ BilledCost in FOCUS — exact decimal text. */
  readonly raw_net: string;
  readonly daily_net: string;
  readonly focus_billed: string;
}

export interface B4ChildResult {
  readonly mode: 'pipeline' | 'baseline';
  readonly wall_ms: number;
  readonly status: string;
  readonly peak_rss_mib: number;
  readonly rss_before_mib: number;
  readonly sums: Record<string, CurrencySums>;
  readonly steps?: readonly { step_id: string; status: string; duration_ms: number | null; rows_processed: number | null }[];
  readonly phases_ms?: Record<string, number>;
  readonly error?: string | null;
}

const [mode, importDir, pattern, day] = process.argv.slice(2) as [string, string, string, string];
if ((mode !== 'pipeline' && mode !== 'baseline') || importDir === undefined || pattern === undefined || day === undefined) {
  console.error('usage: b4-child.ts pipeline|baseline <importDir> <pattern> <day>');
  process.exit(2);
}

/** Exact decimal text without trailing zeros (as the generator's totals.json writes it). */
export const decimalText = (s: string): string => (s.includes('.') ? s.replace(/0+$/, '').replace(/\.$/, '') : s);

const SUMS_SQL = (raw: string, daily: string, focus: string): string => `
  WITH r AS (SELECT currency AS c, count(*)::BIGINT AS n, CAST(SUM(cost + credits_total) AS VARCHAR) AS t FROM ${raw} WHERE usage_date = CAST($1 AS DATE) GROUP BY 1),
       d AS (SELECT currency AS c, CAST(SUM(net_cost) AS VARCHAR) AS t FROM ${daily} WHERE usage_date = CAST($1 AS DATE) GROUP BY 1),
       f AS (SELECT BillingCurrency AS c, CAST(SUM(BilledCost) AS VARCHAR) AS t FROM ${focus} WHERE x_ProviderCode = 'gcp' AND x_ChargeDate = CAST($1 AS DATE) GROUP BY 1)
  SELECT r.c, r.n, r.t AS raw_net, d.t AS daily_net, f.t AS focus_billed FROM r LEFT JOIN d USING (c) LEFT JOIN f USING (c) ORDER BY 1`;

function toSums(rows: readonly Record<string, unknown>[]): Record<string, CurrencySums> {
  return Object.fromEntries(
    rows.map((r) => [
      String(r.c),
      { rows: Number(r.n), raw_net: decimalText(String(r.raw_net)), daily_net: decimalText(String(r.daily_net)), focus_billed: decimalText(String(r.focus_billed)) },
    ]),
  );
}

async function pipeline(): Promise<B4ChildResult> {
  const bench = await benchRuntime({ IMPORT_DIR: importDir, SCHEDULER_ENABLED: 'false' });
  try {
    const { inject, orgKey: K, rt } = bench;
    await inject('POST', `/api/v1/integrations/${BENCH_ORG}/gcp/setup`, K, { credential: serviceAccount(), config: { billing_export_path: pattern } });
    await rt.warehouse.query('CHECKPOINT');
    const rssBefore = process.memoryUsage().rss / 2 ** 20;
    const t0 = performance.now();
    let run = await inject('POST', `/api/v1/pipelines/run/${BENCH_ORG}/gcp/cost/billing?wait=true`, K, { date: day });
    // ?wait=true answers after 5 minutes at most: then follow the run until it ends.
    while (run.status === 'QUEUED' || run.status === 'RUNNING') {
      await new Promise((r) => setTimeout(r, 200));
      run = await inject('GET', `/api/v1/pipelines/runs/${String(run.pipeline_logging_id)}`, K);
    }
    const wall = performance.now() - t0;
    const steps = (run.steps as Record<string, unknown>[]).map((s) => ({
      step_id: String(s.step_id),
      status: String(s.status),
      duration_ms: typeof s.duration_ms === 'number' ? s.duration_ms : null,
      rows_processed: typeof s.rows_processed === 'number' ? s.rows_processed : null,
    }));
    const failed = (run.steps as Record<string, unknown>[]).find((s) => s.status === 'FAILED');
    const sums = run.status === 'SUCCESS' ? toSums(await rt.warehouse.query(SUMS_SQL(`"${BENCH_ORG}".gcp_billing_daily_raw`, `"${BENCH_ORG}".gcp_cost_daily`, `"${BENCH_ORG}".cost_focus_daily`), [day])) : {};
    return {
      mode: 'pipeline',
      wall_ms: round(wall),
      status: String(run.status),
      peak_rss_mib: peakRssMib(),
      rss_before_mib: round(rssBefore, 1),
      sums,
      steps,
      error: run.status === 'SUCCESS' ? null : String(failed?.error_message ?? run.error_message ?? 'unknown'),
    };
  } finally {
    await bench.close();
  }
}

/** The three data steps' SQL as the pipeline YAML has it, with its placeholders filled in as literals. */
function pipelineSql(): { extract: string; daily: string; focus: string } {
  const spec = parseYaml(fs.readFileSync(path.join(REPO_ROOT, 'configs', 'gcp', 'cost', 'billing.yml'), 'utf8')) as { steps: Record<string, unknown>[] };
  const step = (id: string): Record<string, unknown> => spec.steps.find((s) => s.step_id === id) ?? {};
  const fill = (sql: unknown): string => String(sql).replaceAll('{date}', day).replaceAll('{pipeline_logging_id}', 'baseline').replaceAll('{dataset}.', '');
  return { extract: fill(step('extract').query), daily: fill((step('daily_cost').source as { query: string }).query), focus: fill(step('focus').query) };
}

async function baseline(): Promise<B4ChildResult> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'convergence-bench-b4-baseline-'));
  // The engine settings the service uses (DUCKDB_MEMORY_LIMIT included), so both sides have the same memory budget.
  const memoryLimit = loadConfig({ DUCKDB_MEMORY_LIMIT: process.env.DUCKDB_MEMORY_LIMIT }, dir).duckdbMemoryLimit;
  const db = await DuckDbDatabase.open(path.join(dir, 'baseline.duckdb'), { readableDirectories: [importDir], memoryLimit });
  try {
    const s: DuckDbSession = await db.session();
    const files = fs
      .readdirSync(path.join(importDir, path.dirname(pattern)))
      .filter((f) => f.endsWith(path.extname(pattern)))
      .map((f) => `'${path.join(importDir, path.dirname(pattern), f).replace(/'/g, "''")}'`);
    // The export's columns with their declared types; TIMESTAMP columns read as TIMESTAMPTZ
    // directly (DuckDB's cast takes all three extract renderings and fails on anything else).
    const fields = loadTableSchemaFile(path.join(REPO_ROOT, 'configs', 'gcp', 'cost', 'schemas', 'gcp_billing_export_v1.json')).fields;
    const columns = fields.map((f) => `'${f.name}': '${f.type === 'TIMESTAMP' && f.mode !== 'REPEATED' ? 'TIMESTAMPTZ' : columnType('duckdb', f)}'`).join(', ');
    const sql = pipelineSql();
    const rssBefore = process.memoryUsage().rss / 2 ** 20;
    const phases: Record<string, number> = {};
    const t0 = performance.now();
    let t = t0;
    const phase = (name: string): void => {
      const now = performance.now();
      phases[name] = round(now - t);
      t = now;
    };
    await s.execute(`CREATE TABLE gcp_billing_daily_raw AS WITH export AS (SELECT * FROM read_json([${files.join(', ')}], format = 'newline_delimited', columns = {${columns}})) ${sql.extract}`);
    phase('load');
    await s.execute(`CREATE TABLE gcp_cost_daily AS ${sql.daily}`);
    phase('daily');
    await s.execute(`CREATE TABLE cost_focus_daily AS ${sql.focus}`);
    phase('focus');
    const sums = toSums(await s.query(SUMS_SQL('gcp_billing_daily_raw', 'gcp_cost_daily', 'cost_focus_daily'), [day]));
    phase('reconcile');
    const wall = performance.now() - t0;
    return { mode: 'baseline', wall_ms: round(wall), status: 'SUCCESS', peak_rss_mib: peakRssMib(), rss_before_mib: round(rssBefore, 1), sums, phases_ms: phases };
  } finally {
    await db.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

const result = mode === 'pipeline' ? await pipeline() : await baseline();
process.stdout.write(`${JSON.stringify(result)}\n`);
