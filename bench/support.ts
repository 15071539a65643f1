// Shared set-up and reporting of the benchmarks: a real embedded runtime in a temp dir, bootstrapped,
// with one SCALE org whose key the scenarios use through app.inject; statistics; and the results
// writer (bench/results/<id>.json + .md, and the README table across scenarios).
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { version as duckdbEngineVersion } from '@duckdb/node-api';
import { createLogger, createRuntime, VERSION, type Runtime } from '../src/compose.js';
import { loadConfig } from '../src/config/config.js';

export const BENCH_ROOT_KEY = 'bench_root_key_0123456789abcdefghijklmnop';
export const BENCH_ORG = 'bench_org';
/** The repository root (bench/..), whatever the working directory. */
export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** BENCH_QUICK=1: small sizes, for a smoke run. Results then go to bench/results/quick/. */
export const QUICK = /^(1|true|yes)$/i.test(process.env.BENCH_QUICK ?? '');

export interface BenchRuntime {
  readonly rt: Runtime;
  /** The runtime's data directory (removed by close()). */
  readonly dir: string;
  /** Headers carrying the bench org's API key. */
  readonly orgKey: Record<string, string>;
  /** The root key header. */
  readonly rootKey: Record<string, string>;
  inject(method: string, url: string, headers: Record<string, string>, body?: unknown): Promise<Record<string, unknown>>;
  close(): Promise<void>;
}

export async function benchRuntime(env: Record<string, string> = {}): Promise<BenchRuntime> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'convergence-bench-'));
  const config = loadConfig({ CONVERGENCE_DATA_DIR: dir, LOG_LEVEL: 'silent', CA_ROOT_API_KEY: BENCH_ROOT_KEY, ...env }, dir);
  const rt = await createRuntime(config, BENCH_ROOT_KEY, createLogger(config));
  const inject = async (method: string, url: string, headers: Record<string, string>, body?: unknown): Promise<Record<string, unknown>> => {
    const res = await rt.app.inject({ method: method as 'GET', url, headers: { 'content-type': 'application/json', ...headers }, payload: JSON.stringify(body ?? {}) });
    if (res.statusCode >= 300) throw new Error(`${method} ${url}: ${res.statusCode} ${res.body}`);
    return res.json();
  };
  const root = { 'x-ca-root-key': BENCH_ROOT_KEY };
  await inject('POST', '/api/v1/admin/bootstrap', root);
  const onboard = await inject('POST', '/api/v1/organizations/onboard', root, { org_slug: BENCH_ORG, company_name: 'Bench', admin_email: 'b@bench.dev', subscription_plan: 'SCALE' });
  return {
    rt,
    dir,
    orgKey: { 'x-api-key': String(onboard.api_key) },
    rootKey: root,
    inject,
    async close() {
      await rt.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Statistics

/** Nearest-rank percentile (p in 0..1) of the values. */
export function percentile(xs: readonly number[], p: number): number {
  if (xs.length === 0) return Number.NaN;
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(sorted.length * p) - 1))] as number;
}

/** The median (mean of the two middle values for an even count). */
export function median(xs: readonly number[]): number {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

/** Rounds to `digits` significant decimals, keeping integers readable. */
export function round(x: number, digits = 3): number {
  if (!Number.isFinite(x)) return x;
  const abs = Math.abs(x);
  const d = abs >= 100 ? 1 : abs >= 1 ? digits - 1 : digits + 1;
  const f = 10 ** d;
  return Math.round(x * f) / f;
}

/** A repeated measurement: the median, the range and how many times it was taken. */
export interface Measurement {
  readonly unit: string;
  readonly median: number;
  readonly min: number;
  readonly max: number;
  /** (max − min) / median, in percent. */
  readonly spread_pct: number;
  readonly n: number;
  readonly samples?: readonly number[];
  readonly note?: string;
}

/** Summarizes repeated samples of one quantity; `keepSamples` false drops the raw list (long series). */
export function measure(samples: readonly number[], unit: string, opts: { note?: string; keepSamples?: boolean } = {}): Measurement {
  const m = median(samples);
  const min = Math.min(...samples);
  const max = Math.max(...samples);
  return {
    unit,
    median: round(m),
    min: round(min),
    max: round(max),
    spread_pct: samples.length > 1 && m !== 0 ? round(((max - min) / Math.abs(m)) * 100, 2) : 0,
    n: samples.length,
    ...(opts.keepSamples === false ? {} : { samples: samples.map((s) => round(s)) }),
    ...(opts.note === undefined ? {} : { note: opts.note }),
  };
}

// ---------------------------------------------------------------------------------------------
// Results

export interface Quantity {
  readonly value: number;
  readonly unit: string;
}

/** One target of a scenario, checked against the number measured in this run. */
export interface TargetCheck {
  readonly name: string;
  readonly measured: Quantity;
  /** The in-run baseline this is compared with (null when the target is absolute). */
  readonly baseline: (Quantity & { readonly what: string }) | null;
  /** measured / baseline (null without a baseline). */
  readonly ratio: number | null;
  readonly target: string;
  readonly met: boolean;
  /** Shown beside the measured value, e.g. the difference the target is about. */
  readonly detail?: string;
}

/** What a scenario reports; writeResults adds machine, versions, date and the verdict. */
export interface ScenarioReport {
  /** File name: bench/results/<id>.json. */
  readonly id: string;
  readonly title: string;
  readonly description: string;
  readonly parameters: Record<string, unknown>;
  readonly measurements: Record<string, Measurement>;
  /** The first is the headline (top-level measured/baseline/ratio of the JSON). */
  readonly targets: readonly TargetCheck[];
  readonly notes?: readonly string[];
  /** Anything else worth keeping (plans, per-step timings, …). */
  readonly details?: Record<string, unknown>;
}

export interface ResultFile extends ScenarioReport {
  readonly format: 'convergence-bench/1';
  readonly date: string;
  readonly quick: boolean;
  /** Set by `npm run bench` (bench/run.ts) so the summary can tell this run's results from older ones. */
  readonly run_id: string | null;
  readonly machine: MachineInfo;
  readonly versions: Versions;
  readonly measured: Quantity | null;
  readonly baseline: (Quantity & { what: string }) | null;
  readonly ratio: number | null;
  readonly target: string;
  readonly target_met: boolean;
  readonly verdict: string;
  readonly notes: readonly string[];
}

export interface MachineInfo {
  readonly cpu_model: string;
  readonly cores: number;
  readonly memory_gib: number;
  readonly os: string;
  readonly arch: string;
  /** 1-minute load average when the scenario started and when it wrote its result (other work on the machine shows here). */
  readonly load_average_1m: { readonly start: number; readonly end: number };
}

const LOAD_AT_START = os.loadavg()[0] ?? 0;

export function machineInfo(): MachineInfo {
  let pretty = `${os.type()} ${os.release()}`;
  try {
    const m = /^PRETTY_NAME="?([^"\n]*)"?$/m.exec(fs.readFileSync('/etc/os-release', 'utf8'));
    if (m?.[1] !== undefined) pretty = `${m[1]} (${os.type()} ${os.release()})`;
  } catch {
    // not Linux: the kernel line is enough
  }
  return {
    cpu_model: os.cpus()[0]?.model.trim() ?? 'unknown',
    cores: os.availableParallelism(),
    memory_gib: round(os.totalmem() / 2 ** 30, 2),
    os: pretty,
    arch: os.arch(),
    load_average_1m: { start: round(LOAD_AT_START), end: round(os.loadavg()[0] ?? 0) },
  };
}

export interface Versions {
  readonly node: string;
  readonly convergence: string;
  readonly git: string;
  readonly duckdb_node_api: string;
  readonly duckdb_engine: string;
  readonly fastify: string;
  readonly autocannon: string;
}

function packageVersion(name: string): string {
  try {
    return (JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'node_modules', name, 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

function gitRevision(): string {
  try {
    const head = execFileSync('git', ['rev-parse', '--short=12', 'HEAD'], { cwd: REPO_ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], { cwd: REPO_ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim() !== '';
    return dirty ? `${head}+dirty` : head;
  } catch {
    return 'unknown';
  }
}

export function versions(): Versions {
  return {
    node: process.version,
    convergence: VERSION,
    git: gitRevision(),
    duckdb_node_api: packageVersion('@duckdb/node-api'),
    duckdb_engine: duckdbEngineVersion(),
    fastify: packageVersion('fastify'),
    autocannon: packageVersion('autocannon'),
  };
}

/** bench/results, or bench/results/quick in quick mode (BENCH_RESULTS_DIR overrides both). */
export function resultsDir(): string {
  const dir = process.env.BENCH_RESULTS_DIR ?? path.join(REPO_ROOT, 'bench', 'results', ...(QUICK ? ['quick'] : []));
  fs.mkdirSync(dir, { recursive: true });
  return dir;
}

export const fmt = (q: Quantity | null): string => (q === null ? '—' : `${formatNumber(q.value)} ${q.unit}`.trim());

function formatNumber(x: number): string {
  if (!Number.isFinite(x)) return String(x);
  const r = round(x);
  return Math.abs(r) >= 10_000 ? r.toLocaleString('en-US', { maximumFractionDigits: 1 }) : String(r);
}

const fmtRatio = (r: number | null): string => (r === null || !Number.isFinite(r) ? '—' : `${round(r)}×`);

/** Writes <results>/<id>.json and <id>.md, prints the target table, and returns what was written. */
export function writeResults(report: ScenarioReport): ResultFile {
  const head = report.targets[0];
  const missed = report.targets.filter((t) => !t.met);
  const met = report.targets.length > 0 && missed.length === 0;
  const verdict =
    report.targets.length === 0
      ? `${report.title}: no target was evaluated`
      : met
        ? `${report.title}: all ${report.targets.length} target${report.targets.length > 1 ? 's' : ''} met (${report.targets.map((t) => `${t.name} ${fmt(t.measured)}`).join('; ')})`
        : `${report.title}: target missed — ${missed.map((t) => `${t.name} ${fmt(t.measured)} (target ${t.target})`).join('; ')}`;
  const file: ResultFile = {
    format: 'convergence-bench/1',
    id: report.id,
    title: report.title,
    description: report.description,
    date: new Date().toISOString(),
    quick: QUICK,
    run_id: process.env.BENCH_RUN_ID ?? null,
    machine: machineInfo(),
    versions: versions(),
    parameters: report.parameters,
    measured: head?.measured ?? null,
    baseline: head?.baseline ?? null,
    ratio: head?.ratio ?? null,
    target: report.targets.map((t) => `${t.name}: ${t.target}`).join('; '),
    target_met: met,
    verdict,
    targets: report.targets,
    measurements: report.measurements,
    notes: report.notes ?? [],
    details: report.details ?? {},
  };
  const dir = resultsDir();
  fs.writeFileSync(path.join(dir, `${report.id}.json`), `${JSON.stringify(file, null, 2)}\n`);
  fs.writeFileSync(path.join(dir, `${report.id}.md`), resultMarkdown(file));
  console.log(`\n${targetTable(file.targets, false).join('\n')}\n\n${verdict}\n→ ${path.relative(process.cwd(), path.join(dir, `${report.id}.md`))}`);
  return file;
}

function targetTable(targets: readonly TargetCheck[], withScenario: false): string[];
function targetTable(targets: readonly (TargetCheck & { scenario: string })[], withScenario: true): string[];
function targetTable(targets: readonly (TargetCheck & { scenario?: string })[], withScenario: boolean): string[] {
  const head = ['target', 'measured', 'baseline (in-run)', 'ratio', 'target', 'met?'];
  const lines = [`| ${withScenario ? 'scenario | ' : ''}${head.join(' | ')} |`, `|${withScenario ? '---|' : ''}${head.map(() => '---').join('|')}|`];
  for (const t of targets) {
    const base = t.baseline === null ? '—' : `${fmt(t.baseline)} (${t.baseline.what})`;
    lines.push(`| ${withScenario ? `${t.scenario ?? ''} | ` : ''}${t.name} | ${fmt(t.measured)}${t.detail === undefined ? '' : ` (${t.detail})`} | ${base} | ${fmtRatio(t.ratio)} | ${t.target} | ${t.met ? '**yes**' : '**NO**'} |`);
  }
  return lines;
}

const cell = (v: unknown): string => (typeof v === 'object' && v !== null ? JSON.stringify(v) : String(v)).replace(/\|/g, '\\|');

function resultMarkdown(f: ResultFile): string {
  const out: string[] = [
    `# ${f.title}`,
    '',
    f.description,
    '',
    `**Verdict:** ${f.target_met ? '✅' : '❌'} ${f.verdict}`,
    '',
    `Measured ${f.date}${f.quick ? ' — **quick mode (BENCH_QUICK=1): small sizes, not the benchmark**' : ''}.`,
    '',
    '## Targets',
    '',
    ...targetTable(f.targets, false),
    '',
    '## Measurements (median of repeats; spread = (max − min) / median)',
    '',
    '| measurement | median | min | max | spread | n |',
    '|---|---|---|---|---|---|',
    ...Object.entries(f.measurements).map(
      ([k, m]) => `| ${k}${m.note === undefined ? '' : ` — ${m.note}`} | ${formatNumber(m.median)} ${m.unit} | ${formatNumber(m.min)} | ${formatNumber(m.max)} | ${m.spread_pct}% | ${m.n} |`,
    ),
    '',
  ];
  if (f.notes.length > 0) out.push('## Notes', '', ...f.notes.map((n) => `- ${n}`), '');
  out.push('## Parameters', '', '| parameter | value |', '|---|---|', ...Object.entries(f.parameters).map(([k, v]) => `| ${k} | ${cell(v)} |`), '');
  out.push(
    '## Machine and versions',
    '',
    '| | |',
    '|---|---|',
    `| CPU | ${f.machine.cpu_model}, ${f.machine.cores} cores |`,
    `| memory | ${f.machine.memory_gib} GiB |`,
    `| OS | ${f.machine.os}, ${f.machine.arch} |`,
    `| load average (1 min) | ${f.machine.load_average_1m.start} at start, ${f.machine.load_average_1m.end} at the end |`,
    ...Object.entries(f.versions).map(([k, v]) => `| ${k} | ${v} |`),
    '',
  );
  return `${out.join('\n')}\n`;
}

/**
 * bench/results/README.md: one table across the scenarios whose result files are in the results
 * directory. `failed` names scenarios that crashed in this run (their older result, if any, is
 * shown and marked as such).
 */
export function writeSummary(opts: { runId?: string; failed?: readonly string[]; selected?: readonly string[] } = {}): string {
  const dir = resultsDir();
  const files = fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8')) as Partial<ResultFile>)
    .filter((r): r is ResultFile => r.format === 'convergence-bench/1');
  const rows: (TargetCheck & { scenario: string })[] = [];
  const stale: string[] = [];
  for (const r of files) {
    const current = opts.runId === undefined || r.run_id === opts.runId;
    if (!current) stale.push(`${r.title} (${r.date.slice(0, 16).replace('T', ' ')} UTC)`);
    const label = `[${r.title}](${r.id}.md)${current ? '' : ' ⚠ earlier run'}`;
    if (r.targets.length === 0) rows.push({ scenario: label, name: '—', measured: { value: Number.NaN, unit: '' }, baseline: null, ratio: null, target: 'none evaluated', met: false });
    for (const t of r.targets) rows.push({ ...t, scenario: label });
  }
  const latest = files.filter((r) => opts.runId === undefined || r.run_id === opts.runId).sort((a, b) => (a.date < b.date ? 1 : -1))[0] ?? files[0];
  const out = [
    `# Benchmark results${QUICK ? ' (quick mode: smoke sizes, not the benchmark)' : ''}`,
    '',
    `Written by \`npm run bench\` ${new Date().toISOString()}. One row per target; each scenario's file has the medians, spreads, parameters and notes.`,
    '',
    ...targetTable(rows, true),
    '',
  ];
  if ((opts.failed ?? []).length > 0) out.push(`**Failed in this run:** ${(opts.failed ?? []).join(', ')} (see the console output; rows for them, if any, are from an earlier run).`, '');
  if (stale.length > 0) out.push(`Rows marked ⚠ are from an earlier run, not re-measured this time: ${stale.join('; ')}.`, '');
  if (latest !== undefined) {
    const m = latest.machine;
    const v = latest.versions;
    out.push(
      `Machine: ${m.cpu_model}, ${m.cores} cores, ${m.memory_gib} GiB, ${m.os}. ` +
        `Load average (1 min) per scenario, start → end: ${files.map((r) => `${r.id} ${r.machine.load_average_1m?.start ?? '?'} → ${r.machine.load_average_1m?.end ?? '?'}`).join(', ')}. ` +
        `Versions: node ${v.node}, convergence ${v.convergence} (${v.git}), @duckdb/node-api ${v.duckdb_node_api} (DuckDB ${v.duckdb_engine}), fastify ${v.fastify}, autocannon ${v.autocannon}.`,
      '',
    );
  }
  out.push(
    'Run: `npm run bench` (all), `npm run bench -- b1 b4` (some), `BENCH_QUICK=1 npm run bench` (smoke sizes; results in bench/results/quick/).',
    '',
  );
  const file = path.join(dir, 'README.md');
  fs.writeFileSync(file, `${out.join('\n')}\n`);
  return file;
}

/**
 * Writes a scenario result. Takes a ScenarioReport, or the flat object scenarios wrote before the
 * shared format (B3's), which is converted here so those scripts keep their measuring code as is.
 */
export function saveResult(name: string, result: unknown): void {
  const r = result as Partial<ScenarioReport> & Record<string, unknown>;
  if (Array.isArray(r.targets) && typeof r.measurements === 'object') {
    writeResults({ ...(r as ScenarioReport), id: name });
    return;
  }
  writeResults(name === 'b3-queue' ? b3Report(r) : genericReport(name, r));
}

function numbersOf(r: Record<string, unknown>, prefix = ''): [string, number][] {
  return Object.entries(r).flatMap(([k, v]): [string, number][] =>
    typeof v === 'number' ? [[`${prefix}${k}`, v]] : typeof v === 'object' && v !== null && !Array.isArray(v) && k !== 'machine' ? numbersOf(v as Record<string, unknown>, `${prefix}${k}.`) : [],
  );
}

function genericReport(name: string, r: Record<string, unknown>): ScenarioReport {
  return {
    id: name,
    title: String(r.scenario ?? name),
    description: 'Result in a legacy shape: numbers as reported, no target evaluated by the shared writer.',
    parameters: {},
    measurements: Object.fromEntries(numbersOf(r).map(([k, v]) => [k, measure([v], '', { keepSamples: false })])),
    targets: [],
    notes: typeof r.target === 'string' ? [`target (as stated by the scenario): ${r.target}`] : [],
  };
}

/** B3's flat result (bench/b3-queue.ts) in the shared shape: ≥ 250 runs/s on 2 cores, p50 enqueue→start ≤ 10 ms. */
function b3Report(r: Record<string, unknown>): ScenarioReport {
  const num = (v: unknown): number => (typeof v === 'number' ? v : Number.NaN);
  const lat = (r.enqueue_to_start_ms ?? {}) as Record<string, unknown>;
  const runs = num(r.runs);
  const rps = num(r.runs_per_second);
  const baseline = num(r.baseline_commit_per_second);
  const p50 = num(lat.p50);
  const single = 'one drain (not repeated: the drain itself is the long series)';
  return {
    id: 'b3-queue',
    title: 'B3 queue',
    description:
      'N near-no-op runs (one email step with SMTP unset) enqueued by backfills and drained by the worker, every run and step state persisted; ' +
      'throughput and enqueue→start latency. In-run baseline: the same number of bare control-store transactions (one commit each).',
    parameters: { runs: runs, worker_concurrency: Number(process.env.B3_CONCURRENCY ?? 8), queue_poll_ms: 50, scheduler: 'off' },
    measurements: {
      drain_time: measure([num(r.drain_ms)], 'ms', { note: single }),
      runs_per_second: measure([rps], 'runs/s', { note: single }),
      enqueue_to_start_p50: measure([p50], 'ms'),
      enqueue_to_start_p95: measure([num(lat.p95)], 'ms'),
      bare_commits_per_second: measure([baseline], 'commits/s', { note: 'baseline' }),
      succeeded: measure([num(r.succeeded)], 'runs'),
    },
    targets: [
      { name: 'drain throughput', measured: { value: rps, unit: 'runs/s' }, baseline: { value: baseline, unit: 'commits/s', what: 'bare control-store commits' }, ratio: round(rps / baseline), target: '≥ 250 runs/s on 2 cores', met: rps >= 250 },
      { name: 'enqueue→start p50', measured: { value: p50, unit: 'ms' }, baseline: null, ratio: null, target: '≤ 10 ms', met: p50 <= 10 },
    ],
    notes: [
      ...(num(r.succeeded) !== runs ? [`only ${String(r.succeeded)} of ${runs} runs succeeded`] : []),
      'Reported through the shared writer from bench/b3-queue.ts\'s own result object (its measuring code is unchanged).',
    ],
  };
}

// ---------------------------------------------------------------------------------------------
// Child processes

/**
 * Runs a bench script in a child Node process (with tsx) and returns the JSON object it printed
 * on its last stdout line; stderr passes through.
 */
export async function runChild<T>(script: string, args: readonly string[], env: Record<string, string> = {}): Promise<T> {
  const { spawn } = await import('node:child_process');
  return new Promise<T>((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(REPO_ROOT, 'bench', script), ...args], {
      cwd: REPO_ROOT,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (d: string) => (out += d));
    child.on('error', reject);
    child.on('close', (code) => {
      const last = out.trim().split('\n').pop() ?? '';
      if (code !== 0) return reject(new Error(`${script} ${args.join(' ')} exited with ${code}: ${out.slice(-2000)}`));
      try {
        resolve(JSON.parse(last) as T);
      } catch {
        reject(new Error(`${script} printed no JSON result: ${out.slice(-2000)}`));
      }
    });
  });
}

/** This process's resident-set high-water mark, in MiB (getrusage ru_maxrss). */
export const peakRssMib = (): number => round(process.resourceUsage().maxRSS / 1024, 1);

/** Waits until `done()` holds, polling. */
export async function until(done: () => Promise<boolean>, everyMs = 50, timeoutMs = 30 * 60_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await done())) {
    if (Date.now() > end) throw new Error(`condition not reached in ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
