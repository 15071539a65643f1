// B2: engine overhead per step. A 40-step pipeline of trivial SQL steps (each writes one row with
// gcp.bq_etl, chained by depends_on) against the same 40 writes issued directly to the warehouse.
// Run with: npm run bench -- b2. Writes bench/results/b2-engine-overhead.{json,md}.
import { benchRuntime, measure, median, round, writeResults } from './support.js';

const STEPS = 40;
const ROUNDS = 15;

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
  // Per-round overhead per step (rounds alternate engine/direct, so each pair shares conditions).
  const perRound = engine.map((x, i) => (x - (direct[i] as number)) / STEPS);
  writeResults({
    id: 'b2-engine-overhead',
    title: 'B2 engine overhead',
    description:
      `A ${STEPS}-step pipeline of trivial SQL steps (each writes one row with gcp.bq_etl, chained by depends_on) run through the API with ?wait=true, ` +
      `against the same ${STEPS} writes issued directly to the warehouse (scope check + writeQueryResult) — the in-run baseline.`,
    parameters: { steps: STEPS, rounds: ROUNDS, checkpoint_before_each_side: true },
    measurements: {
      engine_run: measure(engine, 'ms', { note: `${STEPS}-step pipeline, all run and step state persisted` }),
      direct_sql: measure(direct, 'ms', { note: 'baseline: the same writes, no engine' }),
      overhead_per_step: measure(perRound, 'ms', { note: '(engine − direct) / steps, per round' }),
    },
    targets: [
      {
        name: 'time per step, engine',
        measured: { value: round(e / STEPS), unit: 'ms/step' },
        detail: `overhead ${round(perStep)} ms/step`,
        baseline: { value: round(d / STEPS), unit: 'ms/step', what: 'the same SQL executed directly' },
        ratio: round(e / d),
        target: 'overhead (engine − direct) ≤ 5 ms per step, all run and step state persisted',
        met: perStep <= 5,
      },
    ],
    notes: [`Engine ${round(e)} ms vs direct ${round(d)} ms per ${STEPS}-step round (medians of ${ROUNDS} rounds): ${round(perStep)} ms of overhead per step.`],
  });
}

await main();
