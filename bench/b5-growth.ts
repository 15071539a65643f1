// B5: growth. Onboard 1,000 orgs through the API (each timed), then fill
// organizations.org_meta_pipeline_runs with 1,000,000 runs in increments (bulk SQL through the
// runtime's warehouse), timing GET /api/v1/pipelines/runs?limit=20 — first page and a deep keyset
// page — for a few orgs after each increment. Target (issue 7): time per operation stays flat,
// median of the last 10% ≤ 1.5× median of the first 10%.
import type { BenchRuntime } from './support.js';
import { QUICK, benchRuntime, measure, median, percentile, round, writeResults, type Measurement, type TargetCheck } from './support.js';

const ORGS = Number(process.env.BENCH_B5_ORGS ?? (QUICK ? 100 : 1000));
const RUNS = Number(process.env.BENCH_B5_RUNS ?? (QUICK ? 50_000 : 1_000_000));
const INCREMENTS = 20;
const SAMPLE_ORGS = 5;
const LIST_REPEATS = QUICK ? 5 : 9;
const HISTORY_DAYS = 730;
const LIMITS = { RATE_LIMIT_PER_KEY: '1000000', RATE_LIMIT_PER_ADDRESS: '1000000' };

const slug = (i: number): string => `growth_${String(i).padStart(4, '0')}`;

interface Point {
  readonly stored: number;
  readonly first: number[];
  readonly deep: number[];
}

async function timedGet(b: BenchRuntime, url: string, key: string): Promise<{ ms: number; body: { runs: unknown[]; next_cursor: string | null } }> {
  const t = performance.now();
  const res = await b.rt.app.inject({ method: 'GET', url, headers: { 'x-api-key': key } });
  const ms = performance.now() - t;
  if (res.statusCode !== 200) throw new Error(`GET ${url}: ${res.statusCode} ${res.body}`);
  return { ms, body: res.json() };
}

/** A cursor about half-way back through the org's runs, reached by walking pages of ≤ 100 (untimed); null when it has < 2 runs. */
async function deepCursor(b: BenchRuntime, key: string, org: string): Promise<string | null> {
  const [row] = await b.rt.warehouse.query<{ n: number }>('SELECT count(*)::BIGINT AS n FROM organizations.org_meta_pipeline_runs WHERE org_slug = $1', [org]);
  let left = Math.floor(Number(row?.n ?? 0) / 2);
  let cursor: string | null = null;
  while (left > 0) {
    const limit = Math.min(100, left);
    const { body } = await timedGet(b, `/api/v1/pipelines/runs?limit=${limit}${cursor === null ? '' : `&cursor=${cursor}`}`, key);
    if (body.next_cursor === null) break;
    cursor = body.next_cursor;
    left -= limit;
  }
  return cursor;
}

async function measurePoint(b: BenchRuntime, stored: number, sample: readonly { org: string; key: string }[]): Promise<Point> {
  const first: number[] = [];
  const deep: number[] = [];
  for (const { org, key } of sample) {
    const cursor = await deepCursor(b, key, org);
    // Warm-up (untimed): the first read after a bulk insert pays for loading the new row groups.
    await timedGet(b, '/api/v1/pipelines/runs?limit=20', key);
    if (cursor !== null) await timedGet(b, `/api/v1/pipelines/runs?limit=20&cursor=${cursor}`, key);
    for (let r = 0; r < LIST_REPEATS; r++) {
      const f = await timedGet(b, '/api/v1/pipelines/runs?limit=20', key);
      if (f.body.runs.length === 0) throw new Error(`${org}: the first page is empty`);
      first.push(f.ms);
      if (cursor !== null) {
        const d = await timedGet(b, `/api/v1/pipelines/runs?limit=20&cursor=${cursor}`, key);
        if (d.body.runs.length === 0) throw new Error(`${org}: the deep page is empty`);
        deep.push(d.ms);
      }
    }
  }
  return { stored, first, deep };
}

/** Appends runs [lo, hi) of the synthetic history: newer increments hold newer runs, as a service accumulates them. */
async function insertRuns(b: BenchRuntime, lo: number, hi: number, startMs: number): Promise<void> {
  const stepSeconds = (HISTORY_DAYS * 86_400) / RUNS;
  await b.rt.warehouse.query(
    `INSERT INTO organizations.org_meta_pipeline_runs BY NAME
     SELECT uuidv7()::VARCHAR AS pipeline_logging_id,
            printf('growth_%04d', (i * 7919) % ${ORGS} + 1) AS org_slug,
            printf('growth_%04d', (i * 7919) % ${ORGS} + 1) || ['_gcp_cost_billing', '_openai_cost_usage_cost', '_anthropic_cost_usage_cost', '_custom_nightly'][i % 4 + 1] AS pipeline_id,
            ['gcp/cost/billing', 'openai/cost/usage_cost', 'anthropic/cost/usage_cost', 'custom/configs/nightly'][i % 4 + 1] AS pipeline_path,
            CASE WHEN i % 97 = 0 THEN 'FAILED' WHEN i % 331 = 0 THEN 'CANCELLED' WHEN i % 997 = 0 THEN 'TIMEOUT' ELSE 'SUCCESS' END AS status,
            CASE WHEN i % 10 < 7 THEN 'schedule' WHEN i % 10 < 9 THEN 'manual' ELSE 'backfill' END AS trigger_type,
            CASE WHEN i % 10 < 7 THEN 'scheduler' ELSE 'org_key:bench' END AS trigger_by,
            NULL AS user_id,
            json_object('date', strftime(created_at, '%Y-%m-%d')) AS parameters,
            1 AS attempt,
            created_at,
            created_at + INTERVAL 1 SECOND AS start_time,
            created_at + INTERVAL 1 SECOND + to_milliseconds(1000 + (i * 37) % 60000) AS end_time,
            1000 + (i * 37) % 60000 AS duration_ms,
            CASE WHEN i % 97 = 0 THEN 'provider answered 503' END AS error_message
     FROM (SELECT i, to_timestamp(${startMs / 1000} + i * ${stepSeconds}) AS created_at FROM range(${lo}, ${hi}) t(i))`,
  );
}

/** Medians of the samples taken while the table held ≤ 10% (resp. ≥ 90%) of the final runs. */
function firstLast(points: readonly Point[], pick: (p: Point) => number[]): { first: number[]; last: number[] } {
  return {
    first: points.filter((p) => p.stored <= RUNS * 0.1).flatMap(pick),
    last: points.filter((p) => p.stored >= RUNS * 0.9).flatMap(pick),
  };
}

/** The list query's plan at this size, as its operators (EXPLAIN ANALYZE boxes flattened) and total time. */
async function plan(b: BenchRuntime, org: string): Promise<string[]> {
  const rows = await b.rt.warehouse.query<Record<string, unknown>>(
    `EXPLAIN ANALYZE SELECT * FROM organizations.org_meta_pipeline_runs WHERE org_slug = '${org}' AND (NULL IS NULL OR status = NULL) ORDER BY created_at DESC, pipeline_logging_id DESC LIMIT 21`,
  );
  const text = rows.map((r) => Object.values(r).join('\n')).join('\n');
  const ops = (text.match(/\b(SEQ_SCAN|TABLE_SCAN|INDEX_SCAN|TOP_N|HASH_JOIN|ORDER_BY|FILTER|Type: [A-Za-z ]+?(?=\s{2,}|│|$)|Total Time: [0-9.]+s)/gm) ?? []).map((s) => s.trim());
  return ops;
}

async function main(): Promise<void> {
  const b = await benchRuntime({ ...LIMITS, SCHEDULER_ENABLED: 'false' });
  try {
    // Onboarding, each timed (root key, through the API via inject).
    const onboard: number[] = [];
    const keys = new Map<string, string>();
    for (let i = 1; i <= ORGS; i++) {
      const t = performance.now();
      const res = await b.rt.app.inject({
        method: 'POST',
        url: '/api/v1/organizations/onboard',
        headers: { ...b.rootKey, 'content-type': 'application/json' },
        payload: JSON.stringify({ org_slug: slug(i), company_name: `Growth ${i}`, admin_email: `admin@growth-${i}.example.com`, subscription_plan: 'STARTER' }),
      });
      onboard.push(performance.now() - t);
      if (res.statusCode !== 201) throw new Error(`onboarding ${slug(i)}: ${res.statusCode} ${res.body}`);
      keys.set(slug(i), String(res.json<{ api_key: string }>().api_key));
      if (i % Math.max(1, Math.floor(ORGS / 10)) === 0) process.stderr.write(`  onboarded ${i}/${ORGS} (last ${round(onboard[onboard.length - 1] as number)} ms)\n`);
    }

    const sample = Array.from({ length: SAMPLE_ORGS }, (_, j) => slug(Math.round((j * (ORGS - 1)) / (SAMPLE_ORGS - 1)) + 1)).map((org) => ({ org, key: keys.get(org) as string }));
    // Runs: the history ends an hour ago and spans HISTORY_DAYS; increment k holds its k-th twentieth.
    const startMs = Date.now() - 3_600_000 - HISTORY_DAYS * 86_400_000;
    const points: Point[] = [await measurePoint(b, 0, sample)];
    const insertMs: number[] = [];
    for (let k = 0; k < INCREMENTS; k++) {
      const lo = Math.floor((k * RUNS) / INCREMENTS);
      const hi = Math.floor(((k + 1) * RUNS) / INCREMENTS);
      const t = performance.now();
      await insertRuns(b, lo, hi, startMs);
      insertMs.push(performance.now() - t);
      points.push(await measurePoint(b, hi, sample));
      const p = points[points.length - 1] as Point;
      process.stderr.write(`  ${hi.toLocaleString('en-US')} runs stored: first page p50 ${round(median(p.first))} ms, deep page p50 ${round(median(p.deep))} ms\n`);
    }
    const [count] = await b.rt.warehouse.query<{ n: number }>('SELECT count(*)::BIGINT AS n FROM organizations.org_meta_pipeline_runs');
    const planLines = await plan(b, sample[2]?.org ?? slug(1));

    // Diagnostic (not the service's configuration): the same listing with a single-column ART index on org_slug.
    await b.rt.warehouse.query('CREATE INDEX bench_diag_runs_org ON organizations.org_meta_pipeline_runs (org_slug)');
    const withIndex = await measurePoint(b, RUNS, sample);
    const planWithIndex = await plan(b, sample[2]?.org ?? slug(1));

    const tenth = Math.max(1, Math.floor(ORGS / 10));
    const onFirst = onboard.slice(0, tenth);
    const onLast = onboard.slice(-tenth);
    const fp = firstLast(points, (p) => p.first);
    const dp = firstLast(points, (p) => p.deep);
    const measurements: Record<string, Measurement> = {
      onboarding_first_10pct: measure(onFirst, 'ms', { note: `orgs 1–${tenth}`, keepSamples: false }),
      onboarding_last_10pct: measure(onLast, 'ms', { note: `orgs ${ORGS - tenth + 1}–${ORGS}`, keepSamples: false }),
      onboarding_all: measure(onboard, 'ms', { note: `${ORGS} orgs`, keepSamples: false }),
      onboarding_p99_all: measure([percentile(onboard, 0.99)], 'ms'),
      list_first_page_first_10pct: measure(fp.first, 'ms', { note: `≤ ${(RUNS * 0.1).toLocaleString('en-US')} runs stored`, keepSamples: false }),
      list_first_page_last_10pct: measure(fp.last, 'ms', { note: `≥ ${(RUNS * 0.9).toLocaleString('en-US')} runs stored`, keepSamples: false }),
      list_deep_page_first_10pct: measure(dp.first, 'ms', { note: 'cursor half-way back through the org’s runs', keepSamples: false }),
      list_deep_page_last_10pct: measure(dp.last, 'ms', { keepSamples: false }),
      diag_first_page_with_org_slug_index: measure(withIndex.first, 'ms', { note: `diagnostic: ${RUNS.toLocaleString('en-US')} runs + CREATE INDEX ON (org_slug)`, keepSamples: false }),
      diag_deep_page_with_org_slug_index: measure(withIndex.deep, 'ms', { note: 'diagnostic, same', keepSamples: false }),
      insert_increment: measure(insertMs, 'ms', { note: `${(RUNS / INCREMENTS).toLocaleString('en-US')} runs per INSERT … SELECT FROM range()` }),
    };
    for (const p of points) {
      measurements[`list_first_page_at_${p.stored}`] = measure(p.first, 'ms', { keepSamples: false });
      if (p.deep.length > 0) measurements[`list_deep_page_at_${p.stored}`] = measure(p.deep, 'ms', { keepSamples: false });
    }
    const check = (name: string, first: number[], last: number[], baseWhat: string): TargetCheck => {
      const f = median(first);
      const l = median(last);
      return {
        name,
        measured: { value: round(l), unit: 'ms' },
        detail: 'median, last 10%',
        baseline: { value: round(f), unit: 'ms', what: baseWhat },
        ratio: round(l / f),
        target: 'last 10% ≤ 1.5× first 10%',
        met: l / f <= 1.5,
      };
    };
    const targets = [
      check(`onboarding, ${ORGS} orgs`, onFirst, onLast, `median, first ${tenth} orgs`),
      check(`runs list first page, ${RUNS.toLocaleString('en-US')} runs`, fp.first, fp.last, 'median, first 10% of the runs'),
      check(`runs list deep keyset page, ${RUNS.toLocaleString('en-US')} runs`, dp.first, dp.last, 'median, first 10% of the runs'),
    ];
    const notes = [
      `Onboarding: POST /api/v1/organizations/onboard with the root key through app.inject (the full Fastify stack without a socket), one org at a time; rate limits raised to 1,000,000/min so the limiter does not interfere.`,
      `Runs: ${RUNS.toLocaleString('en-US')} rows inserted in ${INCREMENTS} increments by INSERT … SELECT FROM range() through rt.warehouse.query, spread over the ${ORGS} orgs (≈${Math.round(RUNS / ORGS)} each) and ${HISTORY_DAYS} days, newer increments newer; statuses ≈ 97% SUCCESS, 1% FAILED, some CANCELLED/TIMEOUT; 4 pipelines; triggers 70% schedule, 20% manual, 10% backfill.`,
      `Listing measured after each increment for ${SAMPLE_ORGS} orgs × ${LIST_REPEATS} repeats each: GET /api/v1/pipelines/runs?limit=20 and the same with a cursor half-way back through the org's runs (reached by walking pages of ≤ 100, untimed; none while an org has < 2 runs), after one untimed warm-up request of each. "First 10%" = samples taken with ≤ 10% of the final rows stored (the empty table, 5% and 10%), "last 10%" = ≥ 90%.`,
      `Against the (nearly) empty table alone — before any synthetic run, ${round(median(points[0]?.first ?? []))} ms for the first page — the first page at ${RUNS.toLocaleString('en-US')} runs takes ${round(median(points[points.length - 1]?.first ?? []) / median(points[0]?.first ?? []))}× as long; the deep page has no empty-table point (orgs hold one run then).`,
      `Rows in org_meta_pipeline_runs at the end: ${Number(count?.n).toLocaleString('en-US')} (including onboarding's own runs).`,
      `Plan of the list query (EXPLAIN ANALYZE, operators in order) at ${RUNS.toLocaleString('en-US')} runs: ${planLines.join(' → ')}`,
      `Diagnostic only (the bench, not the service, created it): with a single-column index on org_slug, first page ${measurements.diag_first_page_with_org_slug_index?.median} ms, deep page ${measurements.diag_deep_page_with_org_slug_index?.median} ms; plan: ${planWithIndex.join(' → ')}`,
    ];
    writeResults({
      id: 'b5-growth',
      title: 'B5 growth',
      description:
        `Onboarding ${ORGS.toLocaleString('en-US')} orgs through the API, each timed; then ${RUNS.toLocaleString('en-US')} runs in organizations.org_meta_pipeline_runs, added in ${INCREMENTS} increments, ` +
        'with the runs list (first page and a deep keyset page) timed after each. The in-run baseline is the same operation while the first 10% were stored.',
      parameters: { orgs: ORGS, runs: RUNS, increments: INCREMENTS, sample_orgs: sample.map((s) => s.org), list_repeats_per_org: LIST_REPEATS, history_days: HISTORY_DAYS, page_limit: 20 },
      measurements,
      targets,
      notes,
      details: { onboarding_ms: onboard.map((x) => round(x)), points: points.map((p) => ({ stored: p.stored, first_p50: round(median(p.first)), deep_p50: round(median(p.deep)) })) },
    });
  } finally {
    await b.close();
  }
}

await main();
