// B4: ingestion. The real gcp/cost/billing pipeline (integration setup + run ?wait=true through the
// runtime) over one usage day of generated NDJSON export rows, vs hand-written DuckDB SQL doing the
// same load and aggregation on a separate DuckDB file. Each side runs in a fresh child process
// (bench/lib/b4-child.ts), so the pipeline's RSS high-water mark is its own; sides alternate.
// Targets (issue 7): ≤ 1.2× the hand-written time; peak memory ≤ 1 GiB.
// Generated exports are cached under <tmpdir>/convergence-bench-cache (reused between runs).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../src/config/config.js';
import { generateGcpBillingExport, gcpBillingFileName, type GcpBillingTotals } from '../src/generators/gcp-billing-export.js';
import type { B4ChildResult } from './lib/b4-child.js';
import { QUICK, measure, median, round, runChild, writeResults, type Measurement, type TargetCheck } from './support.js';

const SIZES = (process.env.BENCH_B4_ROWS ?? (QUICK ? '50000' : '1000000,5000000')).split(',').map((s) => Number(s.trim()));
const REPEATS = Number(process.env.BENCH_B4_REPEATS ?? 3);
const DAY = '2026-11-20';
const SEED = 42;
const CACHE = path.join(os.tmpdir(), 'convergence-bench-cache');
const MEMORY_TARGET_MIB = 1024;

async function exportFor(rows: number): Promise<{ sub: string; totals: GcpBillingTotals; bytes: number; generatedMs: number | null }> {
  const sub = `gcp-billing-${rows}-s${SEED}`;
  const dir = path.join(CACHE, sub);
  const totalsFile = path.join(dir, 'totals.json');
  const dataFile = path.join(dir, gcpBillingFileName(DAY, 'ndjson'));
  let generatedMs: number | null = null;
  // totals.json is written last: its presence means the export is complete.
  if (!fs.existsSync(totalsFile) || !fs.existsSync(dataFile)) {
    process.stderr.write(`  generating ${rows.toLocaleString('en-US')} rows into ${dir} …\n`);
    const t = performance.now();
    await generateGcpBillingExport({ outDir: dir, start: DAY, days: 1, rowsPerDay: rows, seed: SEED, format: 'ndjson' });
    generatedMs = performance.now() - t;
  }
  return { sub, totals: JSON.parse(fs.readFileSync(totalsFile, 'utf8')) as GcpBillingTotals, bytes: fs.statSync(dataFile).size, generatedMs };
}

/** Problems with the sums a side reports, against the generator's totals (empty when exact). */
function totalsProblems(side: string, r: B4ChildResult, totals: GcpBillingTotals): string[] {
  const expected = totals.days[DAY] ?? {};
  const problems: string[] = [];
  const currencies = new Set([...Object.keys(expected), ...Object.keys(r.sums)]);
  for (const c of currencies) {
    const e = expected[c];
    const got = r.sums[c];
    if (e === undefined || got === undefined) {
      problems.push(`${side}: currency ${c} ${e === undefined ? 'not in totals.json' : 'missing from the tables'}`);
      continue;
    }
    if (got.rows !== e.rows) problems.push(`${side} ${c}: ${got.rows} rows, totals.json says ${e.rows}`);
    for (const [what, v] of [['raw Σ(cost+credits)', got.raw_net], ['daily Σ net_cost', got.daily_net], ['FOCUS Σ BilledCost', got.focus_billed]] as const) {
      if (v !== e.net) problems.push(`${side} ${c}: ${what} = ${v}, totals.json net = ${e.net}`);
    }
  }
  return problems;
}

async function main(): Promise<void> {
  fs.mkdirSync(CACHE, { recursive: true });
  const measurements: Record<string, Measurement> = {};
  const targets: TargetCheck[] = [];
  const notes: string[] = [];
  const details: Record<string, unknown> = {};
  const memoryLimit = loadConfig({ DUCKDB_MEMORY_LIMIT: process.env.DUCKDB_MEMORY_LIMIT }, CACHE).duckdbMemoryLimit;
  const parameters: Record<string, unknown> = { duckdb_memory_limit: memoryLimit, sizes_rows: SIZES, repeats: REPEATS, usage_day: DAY, seed: SEED, format: 'ndjson', cache_dir: CACHE, memory_target_mib: MEMORY_TARGET_MIB };
  const problems: string[] = [];

  for (const rows of SIZES) {
    const { sub, totals, bytes, generatedMs } = await exportFor(rows);
    const label = rows >= 1_000_000 ? `${rows / 1_000_000}M` : `${rows / 1000}k`;
    parameters[`export_bytes_${label}`] = bytes;
    if (generatedMs !== null) notes.push(`${label}: export generated in ${round(generatedMs / 1000)} s (cached for the next runs).`);
    const pattern = `${sub}/*.ndjson`;
    const pipe: B4ChildResult[] = [];
    const base: B4ChildResult[] = [];
    for (let i = 0; i < REPEATS; i++) {
      // Alternating (baseline first) so file-cache warmth and drift reach both sides alike.
      const b = await runChild<B4ChildResult>('lib/b4-child.ts', ['baseline', CACHE, pattern, DAY]);
      base.push(b);
      const p = await runChild<B4ChildResult>('lib/b4-child.ts', ['pipeline', CACHE, pattern, DAY]);
      pipe.push(p);
      process.stderr.write(`  ${label} repeat ${i + 1}/${REPEATS}: baseline ${round(b.wall_ms / 1000)} s (${b.peak_rss_mib} MiB), pipeline ${round(p.wall_ms / 1000)} s (${p.peak_rss_mib} MiB) ${p.status}\n`);
      if (p.status !== 'SUCCESS') problems.push(`${label} pipeline run ${i + 1} ended ${p.status}: ${p.error ?? ''}`);
      problems.push(...totalsProblems(`${label} baseline run ${i + 1}`, b, totals), ...(p.status === 'SUCCESS' ? totalsProblems(`${label} pipeline run ${i + 1}`, p, totals) : []));
    }
    const ok = pipe.filter((p) => p.status === 'SUCCESS');
    const pT = ok.map((p) => p.wall_ms / 1000);
    const bT = base.map((b) => b.wall_ms / 1000);
    const pRss = pipe.map((p) => p.peak_rss_mib);
    measurements[`pipeline_time_${label}`] = measure(pT, 's', { note: `${rows.toLocaleString('en-US')} rows: POST run ?wait=true → run finished (all 4 steps + run state)` });
    measurements[`baseline_time_${label}`] = measure(bT, 's', { note: 'hand-written SQL: load → raw → daily → FOCUS → reconciliation sums' });
    measurements[`pipeline_peak_rss_${label}`] = measure(pRss, 'MiB', { note: 'RSS high-water mark of the pipeline process (ru_maxrss)' });
    measurements[`baseline_peak_rss_${label}`] = measure(base.map((b) => b.peak_rss_mib), 'MiB', { note: 'RSS high-water mark of the baseline process' });
    measurements[`pipeline_rows_per_s_${label}`] = measure(pT.map((t) => rows / t), 'rows/s');
    for (const step of ['extract', 'daily_cost', 'focus', 'check']) {
      const xs = ok.map((p) => (p.steps?.find((s) => s.step_id === step)?.duration_ms ?? Number.NaN) / 1000).filter((x) => Number.isFinite(x));
      if (xs.length > 0) measurements[`pipeline_step_${step}_${label}`] = measure(xs, 's', { note: 'step duration as the run log records it' });
    }
    for (const ph of ['load', 'daily', 'focus', 'reconcile']) {
      measurements[`baseline_phase_${ph}_${label}`] = measure(base.map((b) => (b.phases_ms?.[ph] ?? Number.NaN) / 1000), 's');
    }
    const pm = pT.length > 0 ? median(pT) : Number.NaN;
    const bm = median(bT);
    const peak = Math.max(...pRss);
    targets.push(
      {
        name: `pipeline time, ${label} rows`,
        measured: { value: round(pm), unit: 's' },
        baseline: { value: round(bm), unit: 's', what: 'hand-written DuckDB SQL' },
        ratio: round(pm / bm),
        target: '≤ 1.2× the hand-written time',
        met: pm / bm <= 1.2,
      },
      {
        name: `pipeline peak memory, ${label} rows`,
        measured: { value: peak, unit: 'MiB' },
        detail: 'max over repeats',
        baseline: { value: Math.max(...base.map((b) => b.peak_rss_mib)), unit: 'MiB', what: 'baseline process peak' },
        ratio: round(peak / Math.max(...base.map((b) => b.peak_rss_mib))),
        target: '≤ 1 GiB (1024 MiB)',
        met: peak <= MEMORY_TARGET_MIB,
      },
    );
    details[label] = { pipeline: pipe, baseline: base, expected_totals: totals.days[DAY] };
  }
  targets.push({
    name: 'totals equal totals.json',
    measured: { value: problems.length, unit: 'mismatches' },
    detail: problems.length === 0 ? 'every run, every currency, raw/daily/FOCUS, to the micro' : problems.slice(0, 3).join('; '),
    baseline: null,
    ratio: null,
    target: '0 (rows and net per currency, both sides)',
    met: problems.length === 0,
  });
  notes.push(
    'Each side runs in a fresh child process (node --import tsx) with a fresh data directory; the pipeline side pays runtime start, bootstrap, onboarding and integration setup before the timed part, which is only POST …/gcp/cost/billing?wait=true until the run has ended.',
    "The baseline uses the pipeline YAML's own step SQL (extract, daily_cost, focus, placeholders filled in as literals) over read_json with the export schema's columns (timestamps cast natively), CREATE TABLE AS for each table, then the per-currency sums the pipeline's reconciliation checks compute. It has no run/step state, no staging table, no SQL scope checks, no schema-typed destination tables and no row-count/accepted-values/expression checks: that is the overhead measured.",
    `Peak memory is the child process's ru_maxrss (Node, the tsx loader, the app and DuckDB together). Both sides open DuckDB through the service's DuckDbDatabase with the same settings: memory_limit = DUCKDB_MEMORY_LIMIT (${memoryLimit}), threads = cores; beyond the limit DuckDB spills to <db>.tmp.`,
    ...problems.map((p) => `TOTALS MISMATCH: ${p}`),
  );
  writeResults({
    id: 'b4-ingestion',
    title: 'B4 ingestion',
    description:
      'The real gcp/cost/billing pipeline (GCP integration with billing_export_path under IMPORT_DIR, run ?wait=true) over one usage day of generated NDJSON export rows, ' +
      'against hand-written DuckDB SQL doing the same load and aggregation on a separate DuckDB file; totals of both checked against the generator\'s totals.json.',
    parameters,
    measurements,
    targets,
    notes,
    details,
  });
}

await main();
