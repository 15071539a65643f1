// B2: engine overhead per step. A 40-step pipeline of trivial SQL steps (each writes one row with
// gcp.bq_etl, chained by depends_on) against the same 40 writes issued directly to the warehouse.
// Run with: npm run bench. Prints a Markdown table and writes bench/results/b2-engine-overhead.json.
import os from 'node:os';
import { benchRuntime, saveResult } from './support.js';

const STEPS = 40;
const ROUNDS = 15;

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;

async function main(): Promise<void> {
  const bench = await benchRuntime();
  const { rt, inject, orgKey: K } = bench;
  const sql = (i: number): string => `SELECT ${i} AS step, CAST('{date}' AS DATE) AS usage_date`;
  const steps = Array.from({ length: STEPS }, (_, i) =>
    [`  - step_id: s${i}`, '    ps_type: gcp.bq_etl', ...(i > 0 ? [`    depends_on: [s${i - 1}]`] : []), `    source: { query: "${sql(i)}" }`, `    destination: { table: t${i} }`].join('\n'),
  );
  await inject('POST', '/api/v1/pipelines/configs', K, { config_id: 'b2', yaml: `pipeline_id: b2\nsteps:\n${steps.join('\n')}\n` });

  const engine: number[] = [];
  const direct: number[] = [];
  // Both sides write; a checkpoint before each keeps WAL flushes from landing on one side at random.
  const checkpoint = (): Promise<unknown> => rt.warehouse.query('CHECKPOINT');
  for (let round = 0; round < ROUNDS; round++) {
    await checkpoint();
    let t = performance.now();
    const run = await inject('POST', '/api/v1/pipelines/run/bench_org/custom/configs/b2?wait=true', K, { date: '2026-01-15' });
    if (run.status !== 'SUCCESS') throw new Error(`run ended ${String(run.status)}`);
    engine.push(performance.now() - t);
    await checkpoint();
    t = performance.now();
    for (let i = 0; i < STEPS; i++) {
      const q = sql(i).replace('{date}', '2026-01-15');
      await rt.warehouse.checkQueryScope(q, 'bench_org');
      await rt.warehouse.writeQueryResult({ dataset: 'bench_org', table: `d${i}`, query: q, disposition: 'WRITE_TRUNCATE' }, { defaultDataset: 'bench_org' });
    }
    direct.push(performance.now() - t);
  }
  await bench.close();

  const e = median(engine);
  const d = median(direct);
  const perStep = (e - d) / STEPS;
  const result = {
    scenario: 'B2 engine overhead',
    machine: { cpus: os.cpus().length, model: os.cpus()[0]?.model, node: process.version, platform: `${os.platform()} ${os.release()}` },
    steps: STEPS,
    rounds: ROUNDS,
    engine_median_ms: Math.round(e * 10) / 10,
    direct_median_ms: Math.round(d * 10) / 10,
    ratio: Math.round((e / d) * 100) / 100,
    overhead_per_step_ms: Math.round(perStep * 100) / 100,
    target: 'overhead ≤ 5 ms per step with all run and step state persisted',
    met: perStep <= 5,
  };
  saveResult('b2-engine-overhead', result);
  console.log('| scenario | engine (median) | direct (median) | ratio | overhead/step | target met |');
  console.log('|---|---|---|---|---|---|');
  console.log(`| ${STEPS}-step pipeline | ${result.engine_median_ms} ms | ${result.direct_median_ms} ms | ${result.ratio}× | ${result.overhead_per_step_ms} ms | ${result.met ? 'yes' : 'no'} |`);
}

await main();
