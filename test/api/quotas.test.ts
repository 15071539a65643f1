import type { LightMyRequestResponse } from 'fastify';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { expectProblem, startRuntime, type TestRuntime } from '../helpers/runtime.js';

/** Admission against the plan (STARTER: 6 a day, 180 a month, 3 at once) and the subscription status. */
let rt: TestRuntime;
let key: string;
const ORG = 'acme_quota';

beforeEach(async () => {
  rt = await startRuntime();
  await rt.bootstrap();
  key = (await rt.onboard(ORG)).api_key; // STARTER
});
afterEach(async () => {
  await rt.close();
});

const config = (query: string): string => `
pipeline_id: "{org_slug}_quota_test"
steps:
  - step_id: load
    ps_type: gcp.bq_etl
    source:
      query: ${JSON.stringify(query)}
    destination:
      table: "{dataset}.quota_t"
      write_disposition: WRITE_TRUNCATE
`;

async function saveConfig(id: string, query: string): Promise<void> {
  const res = await rt.org(key, 'POST', '/api/v1/pipelines/configs', { config_id: id, yaml: config(query) });
  expect(res.statusCode, res.body).toBe(201);
}

const trigger = (id: string, wait: boolean): Promise<LightMyRequestResponse> => rt.org(key, 'POST', `/api/v1/pipelines/run/${ORG}/custom/configs/${id}${wait ? '?wait=true' : ''}`, {});

async function usageRow(): Promise<{ pipelines_run_today: number; pipelines_run_month: number; concurrent_running: number }> {
  const rows = await rt.warehouse.query<{ pipelines_run_today: number; pipelines_run_month: number; concurrent_running: number }>(
    `SELECT pipelines_run_today, pipelines_run_month, concurrent_running FROM organizations.org_usage_quotas WHERE org_slug = $1 AND usage_date = CAST($2 AS DATE)`,
    [ORG, new Date().toISOString().slice(0, 10)],
  );
  expect(rows).toHaveLength(1);
  const r = rows[0] as { pipelines_run_today: number; pipelines_run_month: number; concurrent_running: number };
  return { pipelines_run_today: Number(r.pipelines_run_today), pipelines_run_month: Number(r.pipelines_run_month), concurrent_running: Number(r.concurrent_running) };
}

const runCount = async (): Promise<number> =>
  Number((await rt.warehouse.query<{ n: bigint }>(`SELECT count(*) AS n FROM organizations.org_meta_pipeline_runs WHERE org_slug = $1 AND pipeline_path LIKE 'custom/%'`, [ORG]))[0]?.n);

describe('plan limits at admission', () => {
  it('admits exactly the concurrent limit out of 50 simultaneous triggers, then stops at the daily limit', async () => {
    await saveConfig('slow', 'SELECT count(*) AS n FROM range(100000000000)');
    await saveConfig('quick', 'SELECT 1 AS n');
    await saveConfig('broken', "SELECT CAST('x' AS INTEGER) AS n");
    // The destination exists beforehand: runs that create it at the same time conflict (reported separately).
    await rt.warehouse.query(`CREATE TABLE ${ORG}.quota_t (n BIGINT)`);

    const answers = await Promise.all(Array.from({ length: 50 }, () => trigger('slow', false)));
    const byStatus = new Map<number, number>();
    for (const a of answers) byStatus.set(a.statusCode, (byStatus.get(a.statusCode) ?? 0) + 1);
    expect(Object.fromEntries(byStatus)).toEqual({ 202: 3, 429: 47 });
    for (const refused of answers.filter((a) => a.statusCode === 429)) {
      const problem = expectProblem(refused, 429, 'CONCURRENT_LIMIT_REACHED');
      expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);
      expect(problem.limit).toMatchObject({ name: 'concurrent_limit', value: 3, plan: 'STARTER' });
    }
    const admitted = answers.filter((a) => a.statusCode === 202).map((a) => a.json<{ pipeline_logging_id: string; status: string }>());
    expect(admitted.every((r) => r.status === 'QUEUED')).toBe(true);
    expect(new Set(admitted.map((r) => r.pipeline_logging_id)).size).toBe(3);
    expect(await runCount()).toBe(3);
    expect((await usageRow()).pipelines_run_today).toBe(3);

    const busy = (await rt.org(key, 'GET', `/api/v1/organizations/${ORG}/quota`)).json<Record<string, unknown>>();
    expect(busy).toMatchObject({ pipelines_run_today: 3, daily_limit: 6, concurrent_limit: 3 });

    // Cancelled runs still count.
    for (const r of admitted) {
      const res = await rt.org(key, 'DELETE', `/api/v1/pipelines/runs/${r.pipeline_logging_id}`);
      expect(res.statusCode, res.body).toBe(200);
      expect(res.json().status).toBe('CANCELLED');
    }

    // Quick runs (one of them failing) up to the daily limit of 6.
    const outcomes: string[] = [];
    for (const id of ['quick', 'broken', 'quick']) {
      const res = await trigger(id, true);
      expect(res.statusCode, res.body).toBe(200);
      outcomes.push(res.json<{ status: string }>().status);
    }
    expect(outcomes).toEqual(['SUCCESS', 'FAILED', 'SUCCESS']);

    const seventh = await trigger('quick', true);
    const problem = expectProblem(seventh, 429, 'DAILY_QUOTA_EXCEEDED');
    const retryAfter = Number(seventh.headers['retry-after']);
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(86_400);
    expect(problem.limit).toMatchObject({ name: 'daily_limit', value: 6, used: 6, plan: 'STARTER' });
    expectProblem(await trigger('slow', false), 429, 'DAILY_QUOTA_EXCEEDED');

    expect(await runCount()).toBe(6);
    expect(await usageRow()).toEqual({ pipelines_run_today: 6, pipelines_run_month: 6, concurrent_running: 0 });
    const quota = await rt.org(key, 'GET', `/api/v1/organizations/${ORG}/quota`);
    expect(quota.statusCode, quota.body).toBe(200);
    expect(quota.json()).toMatchObject({
      org_slug: ORG,
      plan_name: 'STARTER',
      pipelines_run_today: 6,
      daily_limit: 6,
      daily_remaining: 0,
      pipelines_run_month: 6,
      monthly_limit: 180,
      concurrent_running: 0,
      concurrent_limit: 3,
      runs_allowed: false,
    });

    const metrics = (await rt.request({ method: 'GET', url: '/metrics' })).body;
    expect(metrics).toMatch(/^convergence_quota_refusals_total\{limit="concurrent_limit"\} 47$/m);
    expect(metrics).toMatch(/^convergence_quota_refusals_total\{limit="daily_limit"\} 2$/m);
  });

  it('refuses runs while the subscription is suspended, cancelled or an expired trial, and allows them again when active', async () => {
    await saveConfig('quick', 'SELECT 1 AS n');
    const setSubscription = async (body: Record<string, unknown>): Promise<void> => {
      const res = await rt.root('PUT', `/api/v1/organizations/${ORG}/subscription`, body);
      expect(res.statusCode, res.body).toBe(200);
    };

    await setSubscription({ status: 'SUSPENDED' });
    expectProblem(await trigger('quick', true), 403, 'SUBSCRIPTION_INACTIVE');
    expectProblem(await rt.org(key, 'POST', `/api/v1/pipelines/run/${ORG}/demo/sample/costs?wait=true`, { date: '2026-01-15' }), 403, 'SUBSCRIPTION_INACTIVE');
    const yesterday = new Date(Date.now() - 86_400_000).toISOString().slice(0, 10);
    await setSubscription({ status: 'TRIAL', trial_end_date: yesterday });
    expectProblem(await trigger('quick', true), 403, 'SUBSCRIPTION_INACTIVE');
    await setSubscription({ status: 'CANCELLED' });
    expectProblem(await trigger('quick', true), 403, 'SUBSCRIPTION_INACTIVE');
    expect(await runCount()).toBe(0);
    expect((await usageRow()).pipelines_run_today).toBe(0);

    await setSubscription({ status: 'TRIAL', trial_end_date: '2099-12-31' });
    const trial = await trigger('quick', true);
    expect(trial.statusCode, trial.body).toBe(200);
    await setSubscription({ status: 'ACTIVE' });
    const active = await trigger('quick', true);
    expect(active.statusCode, active.body).toBe(200);
    expect(active.json().status).toBe('SUCCESS');
    expect((await usageRow()).pipelines_run_today).toBe(2);
  });
});
