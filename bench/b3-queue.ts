// B3: queue throughput. N near-no-op runs (one email step with SMTP unset: recorded as not sent)
// enqueued by backfills, drained by the worker; reports runs/s and enqueue→start latency, with
// every run and step state persisted. Baseline in the same run: the same number of bare
// control-store transactions (one commit each), the floor any durable queue pays per state change.
import os from 'node:os';
import { benchRuntime, saveResult } from './support.js';

const RUNS = Number(process.argv[2] ?? 366);
const pct = (xs: number[], p: number): number => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))] as number;

async function main(): Promise<void> {
  const bench = await benchRuntime({ SCHEDULER_ENABLED: 'false', WORKER_CONCURRENCY: process.env.B3_CONCURRENCY ?? '8', QUEUE_POLL_MS: '50' });
  const { rt, inject, orgKey: K } = bench;
  await rt.warehouse.query("UPDATE organizations.org_subscriptions SET daily_limit = 1000000, monthly_limit = 1000000, concurrent_limit = 1000 WHERE org_slug = 'bench_org'");
  await inject('POST', '/api/v1/pipelines/configs', K, { config_id: 'noop', yaml: 'pipeline_id: noop\nsteps:\n  - step_id: note\n    ps_type: notify_systems.email_notification\n    to_emails: ["b@bench.dev"]\n' });

  // Baseline: one committed transaction per run, nothing else.
  let t = performance.now();
  for (let i = 0; i < RUNS; i++) await rt.controlStore.transaction(async (r) => r.orgs.getSubscription('bench_org'));
  const baselineMs = performance.now() - t;

  t = performance.now();
  let left = RUNS;
  for (let start = new Date('2020-01-01'); left > 0; ) {
    const n = Math.min(left, 366);
    const end = new Date(start.getTime() + (n - 1) * 86_400_000);
    await inject('POST', '/api/v1/pipelines/backfill/bench_org/custom/configs/noop', K, { start_date: start.toISOString().slice(0, 10), end_date: end.toISOString().slice(0, 10) });
    start = new Date(end.getTime() + 86_400_000);
    left -= n;
  }
  for (;;) {
    const [row] = await rt.warehouse.query<{ n: number }>("SELECT count(*) AS n FROM organizations.org_meta_pipeline_runs WHERE trigger_type = 'backfill' AND status IN ('QUEUED', 'RUNNING')");
    if (Number(row?.n) === 0) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  const drainMs = performance.now() - t;
  const rows = await rt.warehouse.query<{ lat: number; status: string }>(
    "SELECT epoch_ms(start_time) - epoch_ms(created_at) AS lat, status FROM organizations.org_meta_pipeline_runs WHERE trigger_type = 'backfill'",
  );
  await bench.close();
  const lat = rows.map((r) => Number(r.lat));
  const result = {
    scenario: 'B3 queue drain',
    machine: { cpus: os.cpus().length, model: os.cpus()[0]?.model, node: process.version },
    runs: RUNS,
    succeeded: rows.filter((r) => r.status === 'SUCCESS').length,
    drain_ms: Math.round(drainMs),
    runs_per_second: Math.round((RUNS / drainMs) * 1000 * 10) / 10,
    enqueue_to_start_ms: { p50: pct(lat, 0.5), p95: pct(lat, 0.95) },
    baseline_commit_per_second: Math.round((RUNS / baselineMs) * 1000),
    target: '≥ 250 runs/s on 2 cores; p50 enqueue→start ≤ 10 ms (issue 7, B3)',
  };
  saveResult('b3-queue', result);
  console.log('| runs | drained in | runs/s | enqueue→start p50 / p95 | bare commits/s (baseline) |');
  console.log('|---|---|---|---|---|');
  console.log(`| ${RUNS} | ${result.drain_ms} ms | ${result.runs_per_second} | ${result.enqueue_to_start_ms.p50} / ${result.enqueue_to_start_ms.p95} ms | ${result.baseline_commit_per_second} |`);
}

await main();
