import type { LightMyRequestResponse } from 'fastify';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { expectProblem, startRuntime, type TestRuntime } from '../helpers/runtime.js';
import { waitFor } from '../helpers/wait.js';

/**
 * Runs through the API on a real runtime: the demo pipeline end to end, bad inputs, tenant walls,
 * the run list, failures, timeouts, cancellation, SQL scope and the per-org view.
 */
let rt: TestRuntime;
let keyA: string;
const A = 'acme_a';
const B = 'acme_b';
const DEMO = 'demo/sample/costs';

beforeEach(async () => {
  rt = await startRuntime();
  await rt.bootstrap();
  keyA = (await rt.onboard(A, 'SCALE')).api_key;
});
afterEach(async () => {
  await rt.close();
});

interface Step {
  step_id: string;
  ps_type: string;
  status: string;
  rows_processed: number | null;
  error_message: string | null;
  metadata: Record<string, unknown> | null;
}
interface Dq {
  check_name: string;
  status: string;
  severity: string;
  row_count: number | null;
}
interface Run {
  pipeline_logging_id: string;
  org_slug: string;
  pipeline_id: string;
  pipeline_path: string | null;
  status: string;
  created_at: string;
  error_message: string | null;
  parameters: Record<string, unknown> | null;
  steps: Step[];
  dq_results: Dq[];
}

const trigger = (key: string, org: string, pipeline: string, body: unknown = {}, wait = true): Promise<LightMyRequestResponse> =>
  rt.org(key, 'POST', `/api/v1/pipelines/run/${org}/${pipeline}${wait ? '?wait=true' : ''}`, body);

/** Triggers with ?wait=true and returns the finished run (200). */
async function runToEnd(key: string, org: string, pipeline: string, body: unknown = {}): Promise<Run> {
  const res = await trigger(key, org, pipeline, body);
  expect(res.statusCode, res.body).toBe(200);
  return res.json<Run>();
}

async function saveConfig(key: string, configId: string, yaml: string): Promise<void> {
  const res = await rt.org(key, 'POST', '/api/v1/pipelines/configs', { config_id: configId, yaml });
  expect(res.statusCode, res.body).toBe(201);
}


/** Run status straight from the central table (no API calls, so no rate limit while polling). */
async function centralStatus(id: string): Promise<{ run: string; steps: Record<string, string> }> {
  const [run] = await rt.warehouse.query<{ status: string }>(`SELECT status FROM organizations.org_meta_pipeline_runs WHERE pipeline_logging_id = $1`, [id]);
  const steps = await rt.warehouse.query<{ step_id: string; status: string }>(`SELECT step_id, status FROM organizations.org_meta_step_logs WHERE pipeline_logging_id = $1`, [id]);
  return { run: String(run?.status), steps: Object.fromEntries(steps.map((s) => [s.step_id, s.status])) };
}

async function count(sql: string, params: (string | number)[] = []): Promise<number> {
  const [row] = await rt.warehouse.query<{ n: number | bigint }>(sql, params);
  return Number(row?.n);
}

const usage = async (org: string): Promise<number> => count(`SELECT COALESCE(SUM(pipelines_run_today), 0) AS n FROM organizations.org_usage_quotas WHERE org_slug = $1`, [org]);
const stepsById = (run: Run): Record<string, Step> => Object.fromEntries(run.steps.map((s) => [s.step_id, s]));
const statuses = (run: Run): Record<string, string> => Object.fromEntries(run.steps.map((s) => [s.step_id, s.status]));

/** One gcp.bq_etl step writing `query` into `{dataset}.{table}`, plus optional extra YAML steps. */
const etlConfig = (query: string, opts: { table?: string; stepExtra?: string; extraSteps?: string; disposition?: string } = {}): string => `
pipeline_id: "{org_slug}_custom"
steps:
  - step_id: load
    ps_type: gcp.bq_etl
${opts.stepExtra ?? ''}
    source:
      query: ${JSON.stringify(query)}
    destination:
      table: "{dataset}.${opts.table ?? 't'}"
      write_disposition: ${opts.disposition ?? 'WRITE_TRUNCATE'}
${opts.extraSteps ?? ''}`;

const SLOW_QUERY = 'SELECT count(*) AS n FROM range(100000000000)';

describe('demo pipeline', () => {
  it('runs end to end with ?wait=true, logs steps and DQ centrally, and re-runs without duplicating', async () => {
    const run = await runToEnd(keyA, A, DEMO, { date: '2026-01-15' });
    expect(run).toMatchObject({ status: 'SUCCESS', org_slug: A, pipeline_id: `${A}_demo_sample_costs`, pipeline_path: DEMO, error_message: null });
    expect(run.parameters).toMatchObject({ date: '2026-01-15', lines: 200 });
    expect(statuses(run)).toEqual({ generate: 'SUCCESS', aggregate: 'SUCCESS', check: 'SUCCESS', notify_failure: 'SKIPPED' });
    expect(stepsById(run).generate?.rows_processed).toBe(200);
    expect(run.dq_results.map((d) => d.check_name).sort()).toEqual(['has_rows', 'net_not_above_cost', 'one_row_per_key', 'provider_present', 'services_known']);
    expect(run.dq_results.every((d) => d.status === 'PASS')).toBe(true);

    // The central tables say what the API said.
    const id = run.pipeline_logging_id;
    const central = await rt.warehouse.query<{ step_id: string; status: string; rows_processed: number | null; org_slug: string }>(
      `SELECT step_id, status, rows_processed, org_slug FROM organizations.org_meta_step_logs WHERE pipeline_logging_id = $1 ORDER BY step_id`,
      [id],
    );
    expect(central.map((s) => ({ ...s, rows_processed: s.rows_processed === null ? null : Number(s.rows_processed) }))).toEqual(
      [...run.steps].sort((x, y) => x.step_id.localeCompare(y.step_id)).map((s) => ({ step_id: s.step_id, status: s.status, rows_processed: s.rows_processed, org_slug: A })),
    );
    const dq = await rt.warehouse.query<{ check_name: string; status: string; org_slug: string }>(
      `SELECT check_name, status, org_slug FROM organizations.org_meta_dq_results WHERE pipeline_logging_id = $1 ORDER BY check_name`,
      [id],
    );
    expect(dq).toEqual([...run.dq_results].sort((x, y) => x.check_name.localeCompare(y.check_name)).map((d) => ({ check_name: d.check_name, status: d.status, org_slug: A })));
    const [runRow] = await rt.warehouse.query(`SELECT org_slug, status, pipeline_path FROM organizations.org_meta_pipeline_runs WHERE pipeline_logging_id = $1`, [id]);
    expect(runRow).toEqual({ org_slug: A, status: 'SUCCESS', pipeline_path: DEMO });

    const raw = (): Promise<number> => count(`SELECT count(*) AS n FROM ${A}.demo_cost_daily_raw`);
    const daily = (): Promise<number> => count(`SELECT count(*) AS n FROM ${A}.demo_cost_daily`);
    expect(await raw()).toBe(200);
    const dailyRows = await daily();
    expect(dailyRows).toBeGreaterThan(0);
    expect(await count(`SELECT SUM(line_items) AS n FROM ${A}.demo_cost_daily`)).toBe(200);

    // Same date again: the partition is replaced, not appended to.
    expect((await runToEnd(keyA, A, DEMO, { date: '2026-01-15' })).status).toBe('SUCCESS');
    expect(await raw()).toBe(200);
    expect(await daily()).toBe(dailyRows);

    // Another date adds its own rows.
    expect((await runToEnd(keyA, A, DEMO, { date: '2026-01-16' })).status).toBe('SUCCESS');
    expect(await raw()).toBe(400);
    expect(await daily()).toBe(2 * dailyRows);

    // A parameter changes the volume.
    const small = await runToEnd(keyA, A, DEMO, { date: '2026-01-17', parameters: { lines: 10 } });
    expect(small.status).toBe('SUCCESS');
    expect(stepsById(small).generate?.rows_processed).toBe(10);
    expect(await count(`SELECT count(*) AS n FROM ${A}.demo_cost_daily_raw WHERE usage_date = DATE '2026-01-17'`)).toBe(10);
    expect(await raw()).toBe(410);
  });

  it('answers 202 without wait; the run can be polled until it ends', async () => {
    const res = await trigger(keyA, A, DEMO, { date: '2026-01-15' }, false);
    expect(res.statusCode, res.body).toBe(202);
    const queued = res.json<Run>();
    expect(queued).toMatchObject({ status: 'QUEUED', org_slug: A, pipeline_path: DEMO });
    expect(queued.pipeline_logging_id).toMatch(/^[0-9a-f-]{36}$/);

    const done = await waitFor(async () => {
      const r = await rt.org(keyA, 'GET', `/api/v1/pipelines/runs/${queued.pipeline_logging_id}`);
      expect(r.statusCode, r.body).toBe(200);
      const body = r.json<Run>();
      return ['QUEUED', 'RUNNING'].includes(body.status) ? undefined : body;
    }, 'the run to finish');
    expect(done.status).toBe('SUCCESS');
    expect(statuses(done)).toEqual({ generate: 'SUCCESS', aggregate: 'SUCCESS', check: 'SUCCESS', notify_failure: 'SKIPPED' });
    expect(done.dq_results).toHaveLength(5);
  });
});

describe('bad input', () => {
  it('refuses bad dates, parameters and bodies with 400 and counts nothing', async () => {
    const cases: [unknown, string][] = [
      [{ date: '2025-13-40' }, 'INVALID_PARAMETER'],
      [{ date: "2025-01-01' OR '1'='1" }, 'INVALID_PARAMETER'],
      [{ date: '2025-01-01; DROP TABLE x' }, 'INVALID_PARAMETER'],
      [{ date: '2025-02-30' }, 'INVALID_PARAMETER'],
      [{ parameters: { lines: 'abc' } }, 'INVALID_PARAMETER'],
      [{ parameters: { lines: 0 } }, 'INVALID_PARAMETER'],
      [{ parameters: { lines: 100001 } }, 'INVALID_PARAMETER'],
      [{ parameters: { lines: '1; DROP TABLE x' } }, 'INVALID_PARAMETER'],
      [{ parameters: { unknown: 1 } }, 'INVALID_PARAMETER'],
      [{ date: '2026-01-15', parameters: { date: '2026-01-16' } }, 'INVALID_PARAMETER'],
      [{ date: '2026-01-15', extra: true }, 'VALIDATION_FAILED'],
      [{ date: 20260115 }, 'VALIDATION_FAILED'],
      [{ parameters: { lines: { nested: 1 } } }, 'VALIDATION_FAILED'],
    ];
    for (const [body, code] of cases) {
      const problem = expectProblem(await trigger(keyA, A, DEMO, body), 400, code);
      expect(problem.detail, JSON.stringify(body)).toBeTruthy();
    }
    expect(await usage(A)).toBe(0);
    expect(await count(`SELECT count(*) AS n FROM organizations.org_meta_pipeline_runs WHERE org_slug = $1 AND pipeline_path = $2`, [A, DEMO])).toBe(0);
    expect(await rt.warehouse.listTables(A)).not.toContain('demo_cost_daily_raw');
  });

  it('answers 404 for unknown pipelines, path tricks and another org in the path', async () => {
    expectProblem(await trigger(keyA, A, 'demo/sample/nope'), 404, 'PIPELINE_NOT_FOUND');
    expectProblem(await trigger(keyA, A, 'demo/..%2F..%2Fsetup/costs'), 404, 'PIPELINE_NOT_FOUND');
    expectProblem(await trigger(keyA, A, 'setup/bootstrap/pipeline'), 404, 'PIPELINE_NOT_FOUND');
    expectProblem(await trigger(keyA, A, 'setup/organizations/onboarding'), 404, 'PIPELINE_NOT_FOUND');
    expectProblem(await trigger(keyA, A, 'system/plans/plans'), 404, 'PIPELINE_NOT_FOUND');
    expectProblem(await trigger(keyA, A, 'demo/sample/COSTS'), 404, 'PIPELINE_NOT_FOUND');
    const dotdot = await trigger(keyA, A, 'demo/sample/../../setup/bootstrap/pipeline');
    expect(dotdot.statusCode, dotdot.body).toBe(404);

    await rt.onboard(B);
    expectProblem(await trigger(keyA, B, DEMO, { date: '2026-01-15' }), 404, 'ORG_NOT_FOUND');
    expectProblem(await trigger(keyA, 'nobody_here', DEMO, { date: '2026-01-15' }), 404, 'ORG_NOT_FOUND');
    expect(await usage(A)).toBe(0);
    expect(await usage(B)).toBe(0);
  });
});

describe('tenant walls', () => {
  it("org B can neither read, cancel nor list org A's runs", async () => {
    const keyB = (await rt.onboard(B)).api_key;
    const runA = await runToEnd(keyA, A, DEMO, { date: '2026-01-15' });
    const id = runA.pipeline_logging_id;
    expect((await rt.org(keyA, 'GET', `/api/v1/pipelines/runs/${id}`)).statusCode).toBe(200);

    expectProblem(await rt.org(keyB, 'GET', `/api/v1/pipelines/runs/${id}`), 404, 'RUN_NOT_FOUND');
    expectProblem(await rt.org(keyB, 'DELETE', `/api/v1/pipelines/runs/${id}`), 404, 'RUN_NOT_FOUND');
    expectProblem(await rt.org(keyB, 'GET', `/api/v1/pipelines/runs/${'0'.repeat(8)}-0000-0000-0000-000000000000`), 404, 'RUN_NOT_FOUND');

    // A run of A still queued or running is as invisible to B as a finished one.
    await saveConfig(keyA, 'slow', etlConfig(SLOW_QUERY));
    const slow = (await trigger(keyA, A, 'custom/configs/slow', {}, false)).json<Run>();
    expectProblem(await rt.org(keyB, 'DELETE', `/api/v1/pipelines/runs/${slow.pipeline_logging_id}`), 404, 'RUN_NOT_FOUND');
    expect((await centralStatus(slow.pipeline_logging_id)).run).not.toBe('CANCELLED');

    const listB = await rt.org(keyB, 'GET', '/api/v1/pipelines/runs?limit=100');
    expect(listB.statusCode, listB.body).toBe(200);
    const idsB = listB.json<{ runs: Run[] }>().runs.map((r) => r.pipeline_logging_id);
    expect(idsB).not.toContain(id);
    expect(idsB).not.toContain(slow.pipeline_logging_id);
    expect(listB.json<{ runs: Run[] }>().runs.every((r) => r.org_slug === B)).toBe(true);
    for (const q of [`?pipeline=${DEMO}`, `?pipeline=${A}_demo_sample_costs`, '?status=SUCCESS', '?status=RUNNING']) {
      const r = await rt.org(keyB, 'GET', `/api/v1/pipelines/runs${q}`);
      expect(r.statusCode, r.body).toBe(200);
      expect(r.json<{ runs: Run[] }>().runs.filter((x) => x.org_slug !== B), q).toEqual([]);
    }

    const cancelled = await rt.org(keyA, 'DELETE', `/api/v1/pipelines/runs/${slow.pipeline_logging_id}`);
    expect(cancelled.statusCode, cancelled.body).toBe(200);
  });
});

describe('runs list', () => {
  it('filters by status and pipeline and pages with a cursor, newest first, each run once', async () => {
    await saveConfig(keyA, 'broken', etlConfig("SELECT CAST('x' AS INTEGER) AS a"));
    const ids: string[] = [];
    for (const date of ['2026-01-10', '2026-01-11', '2026-01-12', '2026-01-13', '2026-01-14']) {
      ids.push((await runToEnd(keyA, A, DEMO, { date, parameters: { lines: 5 } })).pipeline_logging_id);
    }
    const failed = await runToEnd(keyA, A, 'custom/configs/broken');
    expect(failed.status).toBe('FAILED');

    const all = await rt.org(keyA, 'GET', '/api/v1/pipelines/runs?limit=100');
    expect(all.statusCode, all.body).toBe(200);
    const allRuns = all.json<{ runs: Run[]; next_cursor: string | null; limit: number }>();
    expect(allRuns.next_cursor).toBeNull();
    expect(allRuns.limit).toBe(100);
    const allIds = allRuns.runs.map((r) => r.pipeline_logging_id);
    for (const id of [...ids, failed.pipeline_logging_id]) expect(allIds).toContain(id);
    expect(allRuns.runs.every((r) => r.org_slug === A)).toBe(true);
    const times = allRuns.runs.map((r) => Date.parse(r.created_at));
    expect(times).toEqual([...times].sort((x, y) => y - x));
    expect(allIds[0]).toBe(failed.pipeline_logging_id); // newest first

    const byStatus = (await rt.org(keyA, 'GET', '/api/v1/pipelines/runs?status=FAILED')).json<{ runs: Run[] }>();
    expect(byStatus.runs.map((r) => r.pipeline_logging_id)).toEqual([failed.pipeline_logging_id]);
    const byPath = (await rt.org(keyA, 'GET', `/api/v1/pipelines/runs?pipeline=${DEMO}`)).json<{ runs: Run[] }>();
    expect(byPath.runs.map((r) => r.pipeline_logging_id)).toEqual([...ids].reverse());
    const byId = (await rt.org(keyA, 'GET', `/api/v1/pipelines/runs?pipeline=${A}_demo_sample_costs&status=SUCCESS`)).json<{ runs: Run[] }>();
    expect(byId.runs.map((r) => r.pipeline_logging_id)).toEqual([...ids].reverse());
    const none = (await rt.org(keyA, 'GET', `/api/v1/pipelines/runs?pipeline=${DEMO}&status=FAILED`)).json<{ runs: Run[] }>();
    expect(none.runs).toEqual([]);

    // Pages of 2: every run exactly once, in the same order as the single page.
    const paged: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const url: string = `/api/v1/pipelines/runs?limit=2${cursor === null ? '' : `&cursor=${encodeURIComponent(cursor)}`}`;
      const page = await rt.org(keyA, 'GET', url);
      expect(page.statusCode, page.body).toBe(200);
      const body = page.json<{ runs: Run[]; next_cursor: string | null; limit: number }>();
      expect(body.limit).toBe(2);
      expect(body.runs.length).toBeLessThanOrEqual(2);
      paged.push(...body.runs.map((r) => r.pipeline_logging_id));
      cursor = body.next_cursor;
      pages++;
    } while (cursor !== null && pages < 20);
    expect(paged).toEqual(allIds);
    expect(pages).toBe(Math.ceil(allIds.length / 2));

    // Cursor combined with a filter.
    const first = (await rt.org(keyA, 'GET', `/api/v1/pipelines/runs?pipeline=${DEMO}&limit=3`)).json<{ runs: Run[]; next_cursor: string }>();
    const second = (await rt.org(keyA, 'GET', `/api/v1/pipelines/runs?pipeline=${DEMO}&limit=3&cursor=${first.next_cursor}`)).json<{ runs: Run[]; next_cursor: string | null }>();
    expect([...first.runs, ...second.runs].map((r) => r.pipeline_logging_id)).toEqual([...ids].reverse());
    expect(second.next_cursor).toBeNull();

    expectProblem(await rt.org(keyA, 'GET', '/api/v1/pipelines/runs?limit=101'), 400, 'VALIDATION_FAILED');
    expectProblem(await rt.org(keyA, 'GET', '/api/v1/pipelines/runs?limit=0'), 400, 'VALIDATION_FAILED');
    expectProblem(await rt.org(keyA, 'GET', '/api/v1/pipelines/runs?cursor=not-a-cursor'), 400, 'VALIDATION_FAILED');
    expectProblem(await rt.org(keyA, 'GET', `/api/v1/pipelines/runs?cursor=${Buffer.from('["x", 1]').toString('base64url')}`), 400, 'VALIDATION_FAILED');
    expectProblem(await rt.org(keyA, 'GET', '/api/v1/pipelines/runs?status=DONE'), 400, 'VALIDATION_FAILED');
    expectProblem(await rt.org(keyA, 'GET', '/api/v1/pipelines/runs?from=2026-02-30'), 400, 'VALIDATION_FAILED');
  });
});

describe('failures, timeouts and cancellation', () => {
  it('a failing step fails the run with the engine message, runs on_failure, and leaves the table as it was', async () => {
    await saveConfig(keyA, 'good', etlConfig('SELECT CAST(i AS INTEGER) AS a FROM range(3) AS r(i)'));
    const good = await runToEnd(keyA, A, 'custom/configs/good');
    expect(good.status).toBe('SUCCESS');
    expect(stepsById(good).load?.rows_processed).toBe(3);
    expect(await count(`SELECT count(*) AS n FROM ${A}.t`)).toBe(3);

    await saveConfig(
      keyA,
      'bad',
      etlConfig("SELECT CAST('x' AS INTEGER) AS a", {
        extraSteps: `
  - step_id: after
    ps_type: data_quality.check
    depends_on: [load]
    table: "{dataset}.t"
    checks:
      - { name: has_rows, type: row_count, min: 1 }
  - step_id: notify
    ps_type: notify_systems.email_notification
    trigger: on_failure
    to_emails: ["{admin_email}"]
  - step_id: celebrate
    ps_type: notify_systems.email_notification
    trigger: on_success
    to_emails: ["{admin_email}"]
`,
      }),
    );
    const bad = await runToEnd(keyA, A, 'custom/configs/bad');
    expect(bad.status).toBe('FAILED');
    expect(bad.error_message).toMatch(/Could not convert string 'x' to INT32/);
    const steps = stepsById(bad);
    expect(statuses(bad)).toEqual({ load: 'FAILED', after: 'SKIPPED', notify: 'SUCCESS', celebrate: 'SKIPPED' });
    expect(steps.load?.error_message).toMatch(/Could not convert string 'x' to INT32/);
    expect(steps.notify?.metadata).toMatchObject({ sent: false, to: [`admin@${A.replace(/_/g, '-')}.example.com`] });
    expect(await count(`SELECT count(*) AS n FROM ${A}.t`)).toBe(3);
    expect(await count(`SELECT SUM(a) AS n FROM ${A}.t`)).toBe(3);

    const [row] = await rt.warehouse.query<{ status: string; error_message: string }>(`SELECT status, error_message FROM organizations.org_meta_pipeline_runs WHERE pipeline_logging_id = $1`, [
      bad.pipeline_logging_id,
    ]);
    expect(row).toMatchObject({ status: 'FAILED', error_message: expect.stringMatching(/Could not convert/) });
  });

  it('a step over its timeout is interrupted: run TIMEOUT, step FAILED', async () => {
    await saveConfig(keyA, 'too_slow', etlConfig(SLOW_QUERY, { stepExtra: '    timeout: 300ms' }));
    const started = Date.now();
    const run = await runToEnd(keyA, A, 'custom/configs/too_slow');
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(run.status).toBe('TIMEOUT');
    expect(stepsById(run).load).toMatchObject({ status: 'FAILED', error_message: expect.stringContaining('timed out') });
    expect(run.error_message).toMatch(/timed out/);
    expect(await rt.warehouse.listTables(A)).not.toContain('t');

    // A pipeline-level timeout stops the run too; later steps are skipped, on_failure handlers still run.
    await saveConfig(
      keyA,
      'run_too_slow',
      `pipeline_id: "{org_slug}_run_too_slow"
timeout: 300ms
steps:
  - step_id: load
    ps_type: gcp.bq_etl
    source: { query: ${JSON.stringify(SLOW_QUERY)} }
    destination: { table: "{dataset}.t" }
  - step_id: after
    ps_type: gcp.bq_etl
    depends_on: [load]
    source: { query: "SELECT 1 AS n" }
    destination: { table: "{dataset}.t2" }
  - step_id: notify
    ps_type: notify_systems.email_notification
    trigger: on_failure
    to_emails: ["{admin_email}"]
`,
    );
    const t0 = Date.now();
    const whole = await runToEnd(keyA, A, 'custom/configs/run_too_slow');
    expect(Date.now() - t0).toBeLessThan(5_000);
    expect(whole).toMatchObject({ status: 'TIMEOUT', error_message: expect.stringContaining('timed out') });
    expect(statuses(whole)).toEqual({ load: 'FAILED', after: 'SKIPPED', notify: 'SUCCESS' });
    expect(stepsById(whole).notify?.metadata).toMatchObject({ sent: false });
    expect(await rt.warehouse.listTables(A)).not.toContain('t2');
  });

  it('cancels a running run (the query is interrupted); a second cancel is 409', async () => {
    await saveConfig(
      keyA,
      'slow',
      etlConfig(SLOW_QUERY, {
        extraSteps: `
  - step_id: cleanup
    ps_type: notify_systems.email_notification
    trigger: on_completion
    to_emails: ["{admin_email}"]
`,
      }),
    );
    const res = await trigger(keyA, A, 'custom/configs/slow', {}, false);
    expect(res.statusCode, res.body).toBe(202);
    const id = res.json<Run>().pipeline_logging_id;
    await waitFor(async () => {
      const s = await centralStatus(id);
      return s.run === 'RUNNING' && s.steps.load === 'RUNNING' ? s : undefined;
    }, 'the step to run');

    const started = Date.now();
    const cancel = await rt.org(keyA, 'DELETE', `/api/v1/pipelines/runs/${id}`);
    expect(cancel.statusCode, cancel.body).toBe(200);
    expect(Date.now() - started).toBeLessThan(5_000);
    const body = cancel.json<Run>();
    expect(body.status).toBe('CANCELLED');
    expect(statuses(body)).toEqual({ load: 'CANCELLED', cleanup: 'SUCCESS' });
    expect(await centralStatus(id)).toEqual({ run: 'CANCELLED', steps: { load: 'CANCELLED', cleanup: 'SUCCESS' } });

    expectProblem(await rt.org(keyA, 'DELETE', `/api/v1/pipelines/runs/${id}`), 409, 'RUN_FINISHED');
    expectProblem(await rt.org(keyA, 'DELETE', '/api/v1/pipelines/runs/no-such-run'), 404, 'RUN_NOT_FOUND');
    const quota = (await rt.org(keyA, 'GET', `/api/v1/organizations/${A}/quota`)).json<Record<string, unknown>>();
    expect(quota).toMatchObject({ pipelines_run_today: 1, concurrent_running: 0 });
  });

  // Regression (fixed): gcp.bq_etl without a schema file creates its destination inside the long write transaction
  // (duckdb-warehouse.ts writeQueryResult: CREATE TABLE ... WITH NO DATA, then the query), so while the first
  // run of a pipeline is still writing, a second run of it for another day fails at once with
  // "TransactionContext Error: Catalog write-write conflict on create" (no retry, no wait).
  it('a run for another day is not failed by a first run still creating the destination', async () => {
    await saveConfig(
      keyA,
      'daily',
      `pipeline_id: "{org_slug}_daily"
parameters:
  n: { type: integer, default: 1 }
steps:
  - step_id: load
    ps_type: gcp.bq_etl
    source: { query: "SELECT CAST('{date}' AS DATE) AS usage_date, count(*) AS n FROM range({n})" }
    destination: { table: "{dataset}.daily", write_disposition: WRITE_PARTITION }
`,
    );
    const slow = (await trigger(keyA, A, 'custom/configs/daily', { date: '2026-01-01', parameters: { n: 100_000_000_000 } }, false)).json<Run>();
    await waitFor(async () => ((await centralStatus(slow.pipeline_logging_id)).steps.load === 'RUNNING' ? true : undefined), 'the first run to write');
    const quick = await runToEnd(keyA, A, 'custom/configs/daily', { date: '2026-01-02' });
    const slowNow = (await centralStatus(slow.pipeline_logging_id)).run;
    expect(quick.error_message).toBeNull();
    expect(quick.status).toBe('SUCCESS');
    expect(slowNow).toBe('RUNNING'); // whichever created the table first, neither may fail
  });
});

describe('SQL scope', () => {
  it("refuses custom SQL that reaches another org's data, the central tables, files or other databases", async () => {
    await saveConfig(keyA, 'mine', etlConfig("SELECT 'secret of a' AS v"));
    expect((await runToEnd(keyA, A, 'custom/configs/mine')).status).toBe('SUCCESS');
    expect(await count(`SELECT count(*) AS n FROM ${A}.t`)).toBe(1);

    const keyB = (await rt.onboard(B, 'SCALE')).api_key;
    const attempts: [string, string][] = [
      ['other_org', `SELECT * FROM ${A}.t`],
      ['other_org_quoted', `SELECT * FROM "${A}"."t"`],
      ['other_org_catalog', `SELECT * FROM convergence.${A}.t`],
      ['central', 'SELECT * FROM organizations.org_api_keys'],
      ['central_sub', `SELECT v FROM (SELECT api_key_hash AS v FROM organizations.org_api_keys)`],
      ['csv', "SELECT * FROM read_csv('/etc/passwd')"],
      ['file_literal', "SELECT * FROM '/etc/passwd'"],
      ['attach', "ATTACH '/tmp/x.db'"],
      ['two_statements', `SELECT 1 AS v; SELECT * FROM ${A}.t`],
      ['settings', "SELECT current_setting('memory_limit') AS v"],
      ['show_tables', 'SELECT * FROM (SHOW ALL TABLES)'],
      ['describe_central', 'SELECT * FROM (DESCRIBE organizations.org_api_keys)'],
      ['info_schema', 'SELECT * FROM information_schema.tables'],
    ];
    for (const [configId, query] of attempts) {
      await saveConfig(keyB, configId, etlConfig(query));
      const run = await runToEnd(keyB, B, `custom/configs/${configId}`);
      expect(run.status, configId).toBe('FAILED');
      expect(run.error_message, configId).toMatch(/SQL refused/);
    }
    expect(await rt.warehouse.listTables(B)).not.toContain('t');
    expect(await count(`SELECT count(*) AS n FROM ${A}.t`)).toBe(1);
    expect(await rt.warehouse.listTables(A)).toContain('t');

    // Writing into A's dataset, or checking A's tables, is refused as well.
    const writeIntoA = `pipeline_id: "{org_slug}_w"
steps:
  - step_id: load
    ps_type: gcp.bq_etl
    source: { query: "SELECT 'overwritten by b' AS v" }
    destination: { table: "${A}.t", write_disposition: WRITE_TRUNCATE }
`;
    const checkA = (check: string): string => `pipeline_id: "{org_slug}_c"
steps:
  - step_id: own
    ps_type: gcp.bq_etl
    source: { query: "SELECT 1 AS v" }
    destination: { table: "{dataset}.own" }
  - step_id: check
    ps_type: data_quality.check
    depends_on: [own]
${check}
`;
    const dqCases: [string, string, RegExp][] = [
      ['write_into_a', writeIntoA, /outside dataset acme_b/],
      ['check_a_table', checkA(`    table: "${A}.t"\n    checks: [{ name: rows, type: row_count, min: 0 }]`), /outside dataset acme_b/],
      ['check_a_expression', checkA(`    table: "{dataset}.own"\n    checks: [{ name: peek, type: expression, expression: "(SELECT count(*) FROM ${A}.t) = 0" }]`), /SQL refused/],
      ['check_a_where', checkA(`    table: "{dataset}.own"\n    where: "v IN (SELECT 1 FROM ${A}.t)"\n    checks: [{ name: rows, type: row_count, min: 0 }]`), /SQL refused/],
    ];
    for (const [configId, yaml, why] of dqCases) {
      await saveConfig(keyB, configId, yaml);
      const run = await runToEnd(keyB, B, `custom/configs/${configId}`);
      expect(run.status, configId).toBe('FAILED');
      expect(`${run.error_message} ${JSON.stringify(run.dq_results)}`, configId).toMatch(why);
    }
    expect(await rt.warehouse.query(`SELECT v FROM ${A}.t`)).toEqual([{ v: 'secret of a' }]);
  });

  it('refuses a CTE name that would reach a system catalog view outside its scope; ordinary CTEs work', async () => {
    await saveConfig(keyA, 'mine', etlConfig("SELECT 'secret of a' AS v"));
    expect((await runToEnd(keyA, A, 'custom/configs/mine')).status).toBe('SUCCESS');
    const keyB = (await rt.onboard(B, 'SCALE')).api_key;
    const peeks: [string, string][] = [
      ['peek_tables', 'SELECT d.schema_name, d.table_name FROM (WITH duckdb_tables AS (SELECT 1 AS a) SELECT * FROM duckdb_tables) AS s, duckdb_tables AS d'],
      ['peek_views', 'SELECT d.sql FROM (WITH duckdb_views AS (SELECT 1 AS a) SELECT * FROM duckdb_views) AS s, duckdb_views AS d'],
      ['peek_sqlite', 'SELECT d.sql FROM (WITH sqlite_master AS (SELECT 1 AS a) SELECT * FROM sqlite_master) AS s, sqlite_master AS d'],
    ];
    for (const [configId, query] of peeks) {
      await saveConfig(keyB, configId, etlConfig(query, { table: configId }));
      const run = await runToEnd(keyB, B, `custom/configs/${configId}`);
      expect(run.status, configId).toBe('FAILED');
      expect(run.error_message, configId).toMatch(/SQL refused/);
    }
    expect((await rt.warehouse.listTables(B)).filter((t) => t.startsWith('peek'))).toEqual([]);

    await saveConfig(keyB, 'cte', etlConfig('WITH x AS (SELECT CAST(i AS INTEGER) AS a FROM range(2) AS r(i)) SELECT a FROM x', { table: 'cte_t' }));
    expect((await runToEnd(keyB, B, 'custom/configs/cte')).status).toBe('SUCCESS');
    expect(await count(`SELECT count(*) AS n FROM ${B}.cte_t`)).toBe(2);
  });

  // Regression (fixed): the shadowing check (duckdb-warehouse.ts namesOutside + duckdb-query-scope.ts scopeProblems) compares CTE
  // names and table references case-sensitively, while DuckDB resolves identifiers case-insensitively: a CTE named
  // DUCKDB_TABLES inside a subquery lets the same name through outside it, where DuckDB resolves it to the system
  // view duckdb_tables, which lists every tenant's tables (and the central ones).
  it('refuses the same trick with a differently-cased name', async () => {
    await saveConfig(keyA, 'mine', etlConfig("SELECT 'secret of a' AS v"));
    expect((await runToEnd(keyA, A, 'custom/configs/mine')).status).toBe('SUCCESS');
    const keyB = (await rt.onboard(B, 'SCALE')).api_key;
    await saveConfig(keyB, 'peek', etlConfig('SELECT d.schema_name, d.table_name FROM (WITH DUCKDB_TABLES AS (SELECT 1 AS a) SELECT * FROM DUCKDB_TABLES) AS s, DUCKDB_TABLES AS d'));
    const run = await runToEnd(keyB, B, 'custom/configs/peek');
    const leaked = (await rt.warehouse.listTables(B)).includes('t') ? await rt.warehouse.query(`SELECT * FROM ${B}.t WHERE schema_name <> '${B}'`) : [];
    expect(leaked).toEqual([]);
    expect(run.status).toBe('FAILED');
    expect(run.error_message).toMatch(/SQL refused/);
  });
});

describe('org_comprehensive_view', () => {
  it("holds exactly the org's runs joined with their steps", async () => {
    const keyB = (await rt.onboard(B)).api_key;
    const runA = await runToEnd(keyA, A, DEMO, { date: '2026-01-15', parameters: { lines: 5 } });
    const runB = await runToEnd(keyB, B, DEMO, { date: '2026-01-15', parameters: { lines: 5 } });

    const view = await rt.warehouse.query<{ pipeline_logging_id: string; org_slug: string; pipeline_id: string; step_id: string | null; step_status: string | null; run_status: string }>(
      `SELECT pipeline_logging_id, org_slug, pipeline_id, step_id, step_status, run_status FROM ${A}.org_comprehensive_view`,
    );
    const central = await rt.warehouse.query<{ pipeline_logging_id: string }>(`SELECT pipeline_logging_id FROM organizations.org_meta_pipeline_runs WHERE org_slug = $1`, [A]);
    expect(new Set(view.map((r) => r.pipeline_logging_id))).toEqual(new Set(central.map((r) => r.pipeline_logging_id)));
    expect(central).toHaveLength(2); // onboarding + the demo run
    expect(new Set(view.map((r) => r.org_slug))).toEqual(new Set([A]));
    expect(view.some((r) => r.pipeline_logging_id === runB.pipeline_logging_id)).toBe(false);
    expect(view.some((r) => r.pipeline_id === 'setup_organizations_onboarding' && r.run_status === 'SUCCESS')).toBe(true);
    const demoRows = view.filter((r) => r.pipeline_logging_id === runA.pipeline_logging_id);
    expect(Object.fromEntries(demoRows.map((r) => [r.step_id, r.step_status]))).toEqual(statuses(runA));
    expect(demoRows).toHaveLength(4);

    const viewB = await rt.warehouse.query<{ pipeline_logging_id: string; org_slug: string }>(`SELECT DISTINCT pipeline_logging_id, org_slug FROM ${B}.org_comprehensive_view`);
    expect(viewB.map((r) => r.org_slug).every((o) => o === B)).toBe(true);
    expect(viewB.map((r) => r.pipeline_logging_id)).toContain(runB.pipeline_logging_id);
    expect(viewB.map((r) => r.pipeline_logging_id)).not.toContain(runA.pipeline_logging_id);
  });
});

describe('metrics', () => {
  it('counts finished runs by status and HTTP requests', async () => {
    await runToEnd(keyA, A, DEMO, { date: '2026-01-15', parameters: { lines: 5 } });
    await runToEnd(keyA, A, DEMO, { date: '2026-01-16', parameters: { lines: 5 } });
    await saveConfig(keyA, 'broken', etlConfig("SELECT CAST('x' AS INTEGER) AS a"));
    await runToEnd(keyA, A, 'custom/configs/broken');

    const res = await rt.request({ method: 'GET', url: '/metrics' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain/);
    const metric = (re: RegExp): number => Number(re.exec(res.body)?.[1]);
    expect(metric(/^convergence_pipeline_runs_total\{status="SUCCESS"\} (\d+)$/m)).toBe(2);
    expect(metric(/^convergence_pipeline_runs_total\{status="FAILED"\} (\d+)$/m)).toBe(1);
    expect(metric(/^convergence_http_requests_total\{method="POST",route="\/api\/v1\/pipelines\/run\/:org\/:provider\/:domain\/:pipeline",status="200"\} (\d+)$/m)).toBe(3);
    expect(res.body).toMatch(/^convergence_http_requests_total\{method="POST",route="\/api\/v1\/organizations\/onboard",status="201"\} 1$/m);
    expect(metric(/^convergence_pipeline_runs_active (\d+)$/m)).toBe(0);
    expect(res.body).not.toContain(A); // no org slugs or ids in labels
  });
});

describe('review regressions', () => {
  it('the demo pipeline works for an org whose slug starts with a digit', async () => {
    const { api_key: key } = await rt.onboard('1digit_org');
    const run = await runToEnd(key, '1digit_org', 'demo/sample/costs', { date: '2026-01-15', parameters: { lines: 5 } });
    expect(run.status, run.error_message ?? '').toBe('SUCCESS');
  });

  it('a step whose metadata holds a lone surrogate neither fails its run nor strands anyone else\'s', async () => {
    const { api_key: keyB } = await rt.onboard('other_org', 'SCALE');
    await saveConfig(keyA, 'odd', `pipeline_id: odd\nsteps:\n  - step_id: mail\n    ps_type: notify_systems.email_notification\n    to_emails: ["a@example.com"]\n    subject: "x\\uD800y"\n`);
    await saveConfig(keyB, 'fine', `pipeline_id: fine\nsteps:\n  - step_id: mail\n    ps_type: notify_systems.email_notification\n    to_emails: ["b@example.com"]\n`);
    const [odd, ...fine] = await Promise.all([runToEnd(keyA, A, 'custom/configs/odd'), ...[1, 2, 3].map(() => runToEnd(keyB, 'other_org', 'custom/configs/fine'))]);
    expect(odd?.status).toBe('SUCCESS');
    expect(odd?.steps[0]?.metadata).toMatchObject({ subject: 'x\uFFFDy', sent: false });
    expect(fine.map((r) => r.status)).toEqual(['SUCCESS', 'SUCCESS', 'SUCCESS']);
    const [{ n }] = (await rt.warehouse.query<{ n: number }>(`SELECT count(*) AS n FROM organizations.org_meta_pipeline_runs WHERE status IN ('QUEUED', 'RUNNING')`)) as [{ n: number }];
    expect(n).toBe(0);
  });
});
