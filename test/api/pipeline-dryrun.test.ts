import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { expectProblem, startRuntime, type TestRuntime } from '../helpers/runtime.js';

let rt: TestRuntime;
let key: string;
beforeEach(async () => {
  rt = await startRuntime();
  await rt.bootstrap();
  key = (await rt.onboard('acme_co')).api_key;
});
afterEach(async () => {
  await rt.close();
});

type Check = { name: string; passed: boolean; detail: string };
const dryrun = (path: string, body: unknown = {}) => rt.org(key, 'POST', `/api/v1/pipelines/dryrun/acme_co/${path}`, body);
const count = async (sql: string): Promise<number> => Number((await rt.warehouse.query<{ n: number }>(sql))[0]?.n ?? 0);

describe('pipeline dry run', () => {
  it('checks the demo pipeline and runs, writes and counts nothing', async () => {
    const res = await dryrun('demo/sample/costs', { date: '2026-01-15' });
    expect(res.statusCode, res.body).toBe(200);
    const body = res.json<{ valid: boolean; checks: Check[]; parameters: Record<string, unknown>; pipeline_id: string }>();
    expect(body.valid).toBe(true);
    expect(body.pipeline_id).toBe('acme_co_demo_sample_costs');
    expect(body.parameters).toMatchObject({ date: '2026-01-15', lines: 200 });
    expect(body.checks.map((c) => c.name)).toEqual([
      'parameters_valid',
      'subscription_allows_runs',
      'daily_limit',
      'monthly_limit',
      'concurrent_limit',
      'step:generate',
      'step:aggregate',
      'step:check',
      'step:notify_failure',
    ]);
    expect(body.checks.every((c) => c.passed)).toBe(true);
    expect(await count(`SELECT count(*) AS n FROM organizations.org_meta_pipeline_runs WHERE org_slug = 'acme_co'`)).toBe(1); // the onboarding run only
    expect(await count(`SELECT COALESCE(SUM(pipelines_run_today), 0) AS n FROM organizations.org_usage_quotas WHERE org_slug = 'acme_co'`)).toBe(0);
    expect(await rt.warehouse.listTables('acme_co')).not.toContain('demo_cost_daily_raw');
  });

  it('reports bad parameters as a failed check (422)', async () => {
    const body = expectProblem(await dryrun('demo/sample/costs', { date: "2025-01-01' OR '1'='1" }), 422, 'DRYRUN_FAILED');
    expect(body.checks).toEqual([expect.objectContaining({ name: 'parameters_valid', passed: false })]);
  });

  it('names the step whose SQL reaches outside the dataset, and the unknown pipeline is 404', async () => {
    const yaml = `pipeline_id: sneaky
steps:
  - step_id: steal
    ps_type: gcp.bq_etl
    source: { query: "SELECT * FROM organizations.org_api_keys" }
    destination: { table: loot }
  - step_id: tell
    ps_type: notify_systems.webhook
    url: "http://127.0.0.1:9/hook"
`;
    expect((await rt.org(key, 'POST', '/api/v1/pipelines/configs', { config_id: 'sneaky', yaml })).statusCode).toBe(201);
    const body = expectProblem(await dryrun('custom/configs/sneaky'), 422, 'DRYRUN_FAILED');
    const checks = body.checks as Check[];
    expect(checks.find((c) => c.name === 'step:steal')).toMatchObject({ passed: false, detail: expect.stringContaining('outside dataset acme_co') });
    expect(checks.find((c) => c.name === 'step:tell')).toMatchObject({ passed: false, detail: expect.stringContaining('private or loopback') });
    expectProblem(await dryrun('demo/sample/nope'), 404, 'PIPELINE_NOT_FOUND');
  });
});
