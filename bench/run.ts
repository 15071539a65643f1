// npm run bench [-- b1 b4 …]: runs the scenarios in sequence, each in its own Node process, then
// writes bench/results/README.md (one table across scenarios). BENCH_QUICK=1 runs smoke sizes
// into bench/results/quick/. Exit code: 0 when every scenario ran (missed targets are results,
// not failures), 1 when one crashed, 2 on an unknown scenario name.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { QUICK, REPO_ROOT, writeSummary } from './support.js';

interface Scenario {
  readonly id: string;
  readonly file: string;
  readonly what: string;
  readonly args?: () => string[];
}

const SCENARIOS: readonly Scenario[] = [
  { id: 'b1', file: 'b1-api.ts', what: 'API throughput and auth cost vs a bare Fastify route (autocannon)' },
  { id: 'b2', file: 'b2-engine-overhead.ts', what: '40-step pipeline vs the same SQL run directly' },
  // B3's script takes the number of runs as its argument (issue 7: 10,000).
  { id: 'b3', file: 'b3-queue.ts', what: 'queue drain of no-op runs, enqueue→start latency', args: () => [process.env.BENCH_B3_RUNS ?? (QUICK ? '200' : '10000')] },
  { id: 'b4', file: 'b4-ingestion.ts', what: 'GCP billing pipeline over 1M/5M export rows vs hand-written DuckDB SQL' },
  { id: 'b5', file: 'b5-growth.ts', what: 'onboarding 1,000 orgs and listing runs with 1,000,000 runs stored' },
];

function usage(): string {
  return [
    'Usage: npm run bench [-- <scenario> …]',
    '',
    'Scenarios (all when none is named):',
    ...SCENARIOS.map((s) => `  ${s.id}  ${s.what}`),
    '',
    'Environment: BENCH_QUICK=1 (smoke sizes), BENCH_B3_RUNS, BENCH_B4_ROWS (e.g. 1000000,5000000), BENCH_B4_REPEATS,',
    '             BENCH_B5_ORGS, BENCH_B5_RUNS, BENCH_RESULTS_DIR, BENCH_RUN_ID (continue an earlier run in the summary).',
  ].join('\n');
}

const args = process.argv.slice(2);
if (args.includes('-h') || args.includes('--help')) {
  console.log(usage());
  process.exit(0);
}
const unknown = args.filter((a) => !SCENARIOS.some((s) => s.id === a.toLowerCase() || s.file.replace(/\.ts$/, '') === a));
if (unknown.length > 0) {
  console.error(`unknown scenario: ${unknown.join(', ')}\n\n${usage()}`);
  process.exit(2);
}
const selected = args.length === 0 ? SCENARIOS : SCENARIOS.filter((s) => args.some((a) => s.id === a.toLowerCase() || s.file.replace(/\.ts$/, '') === a));

// BENCH_RUN_ID continues a run (e.g. re-running a scenario that was interrupted): the summary then counts its
// earlier results as this run's.
const runId = process.env.BENCH_RUN_ID ?? new Date().toISOString();
const failed: string[] = [];
for (const s of selected) {
  console.log(`\n━━ ${s.id.toUpperCase()}: ${s.what}${QUICK ? ' (quick)' : ''}`);
  const began = Date.now();
  const r = spawnSync(process.execPath, ['--import', 'tsx', path.join(REPO_ROOT, 'bench', s.file), ...(s.args?.() ?? [])], {
    cwd: REPO_ROOT,
    stdio: 'inherit',
    env: { ...process.env, BENCH_RUN_ID: runId },
  });
  const secs = Math.round((Date.now() - began) / 1000);
  if (r.status !== 0) {
    failed.push(s.id);
    console.error(`✗ ${s.id} failed (${r.signal ?? `exit ${r.status}`}) after ${secs} s`);
  } else {
    console.log(`✓ ${s.id} done in ${secs} s`);
  }
}
const summary = writeSummary({ runId, failed });
console.log(`\nSummary: ${path.relative(process.cwd(), summary)}`);
process.exit(failed.length > 0 ? 1 : 0);
