import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { sha256Hex } from '../../src/crypto/api-keys.js';
import { expectProblem, ROOT_KEY, startRuntime, type TestRuntime } from '../helpers/runtime.js';

let rt: TestRuntime;
beforeEach(async () => {
  rt = await startRuntime();
});
afterEach(async () => {
  await rt.close();
});

const request = (org_slug: string, extra: Record<string, unknown> = {}): Record<string, unknown> => ({
  org_slug,
  company_name: 'Acme Corp',
  admin_email: 'admin@acme.com',
  ...extra,
});

/** Every row any central table holds for an org, plus whether its dataset exists. */
async function traces(slug: string): Promise<{ rows: Record<string, number>; dataset: boolean }> {
  const rows: Record<string, number> = {};
  for (const t of ['org_profiles', 'org_api_keys', 'org_subscriptions', 'org_usage_quotas']) {
    rows[t] = Number((await rt.warehouse.query<{ n: number }>(`SELECT count(*) AS n FROM organizations.${t} WHERE org_slug = $1`, [slug]))[0]?.n);
  }
  return { rows, dataset: await rt.warehouse.datasetExists(slug) };
}
const NOTHING = { rows: { org_profiles: 0, org_api_keys: 0, org_subscriptions: 0, org_usage_quotas: 0 }, dataset: false };

describe('dry run', () => {
  it('reports every check and creates nothing', async () => {
    await rt.bootstrap();
    const res = await rt.root('POST', '/api/v1/organizations/dryrun', request('acmecorp', { subscription_plan: 'PROFESSIONAL' }));
    expect(res.statusCode, res.body).toBe(200);
    const body = res.json();
    expect(body.valid).toBe(true);
    expect(body.checks.map((c: { name: string }) => c.name)).toEqual([
      'org_slug_format', 'org_slug_not_reserved', 'company_name_valid', 'admin_email_valid', 'subscription_plan_known', 'bootstrap_done', 'warehouse_reachable', 'org_slug_available', 'org_dataset_empty',
    ]);
    expect(body.checks.every((c: { passed: boolean }) => c.passed)).toBe(true);
    expect(await traces('acmecorp')).toEqual(NOTHING);
  });

  it('answers 422 with the failing checks named', async () => {
    const res = await rt.root('POST', '/api/v1/organizations/dryrun', request('acmecorp', { admin_email: 'nope', subscription_plan: 'GOLD' }));
    const body = expectProblem(res, 422, 'DRYRUN_FAILED');
    const failed = (body.checks as { name: string; passed: boolean }[]).filter((c) => !c.passed).map((c) => c.name);
    expect(failed).toEqual(['admin_email_valid', 'subscription_plan_known', 'bootstrap_done']);
  });

  it('reports a taken slug', async () => {
    await rt.bootstrap();
    await rt.onboard('acmecorp');
    const body = expectProblem(await rt.root('POST', '/api/v1/organizations/dryrun', request('acmecorp')), 422, 'DRYRUN_FAILED');
    expect(body.checks).toContainEqual({ name: 'org_slug_available', passed: false, detail: 'organization "acmecorp" already exists' });
  });
});

describe('onboarding', () => {
  it('creates profile, subscription, usage row, dataset, view and a working key', async () => {
    await rt.bootstrap();
    const res = await rt.root('POST', '/api/v1/organizations/onboard', request('acmecorp', { subscription_plan: 'SCALE' }));
    expect(res.statusCode, res.body).toBe(201);
    const body = res.json();
    expect(body).toMatchObject({
      org_slug: 'acmecorp',
      subscription_plan: 'SCALE',
      dataset_created: true,
      dataset_id: 'acmecorp',
      views_created: ['org_comprehensive_view'],
      limits: { daily_limit: 100, monthly_limit: 3000, concurrent_limit: 10 },
    });
    expect(body.api_key).toMatch(/^acmecorp_api_[0-9A-Za-z]{32}$/);
    expect(body.api_key_fingerprint).toBe(body.api_key.slice(-4));
    expect(await traces('acmecorp')).toEqual({ rows: { org_profiles: 1, org_api_keys: 1, org_subscriptions: 1, org_usage_quotas: 1 }, dataset: true });

    // Only the hash is stored.
    const keys = await rt.warehouse.query(`SELECT * FROM organizations.org_api_keys WHERE org_slug = 'acmecorp'`);
    expect(keys[0]).toMatchObject({ api_key_hash: sha256Hex(body.api_key), fingerprint: body.api_key.slice(-4), is_active: true });
    expect(JSON.stringify(keys)).not.toContain(body.api_key);

    const me = await rt.org(body.api_key, 'GET', '/api/v1/organizations/acmecorp');
    expect(me.statusCode, me.body).toBe(200);
    expect(me.json()).toMatchObject({ org_slug: 'acmecorp', company_name: 'Acme Corp', status: 'ACTIVE', subscription: { plan_name: 'SCALE', status: 'ACTIVE' } });
  });

  it('uses STARTER when no plan is given, with the limits of plans.yml', async () => {
    await rt.bootstrap();
    const res = await rt.root('POST', '/api/v1/organizations/onboard', request('acmecorp'));
    expect(res.json()).toMatchObject({ subscription_plan: 'STARTER', limits: { daily_limit: 6, monthly_limit: 180, concurrent_limit: 3 } });
  });

  it('org_comprehensive_view shows exactly that org\'s runs', async () => {
    await rt.bootstrap();
    await rt.onboard('acme_one');
    await rt.onboard('acme_two');
    const one = await rt.warehouse.query<{ org_slug: string; pipeline_id: string; step_id: string }>(`SELECT * FROM acme_one.org_comprehensive_view`);
    expect(one.length).toBeGreaterThan(0);
    expect(new Set(one.map((r) => r.org_slug))).toEqual(new Set(['acme_one']));
    expect(one).toContainEqual(expect.objectContaining({ pipeline_id: 'setup_organizations_onboarding', run_status: 'SUCCESS', step_id: 'onboard' }));
  });

  it('refuses a second onboarding of the same slug with 409', async () => {
    await rt.bootstrap();
    await rt.onboard('acmecorp');
    expectProblem(await rt.root('POST', '/api/v1/organizations/onboard', request('acmecorp')), 409, 'ORG_EXISTS');
    expect((await traces('acmecorp')).rows.org_api_keys).toBe(1);
  });

  it('two simultaneous onboardings of one slug: one wins, the other gets 409, nothing is lost', async () => {
    await rt.bootstrap();
    const [x, y] = await Promise.all([
      rt.root('POST', '/api/v1/organizations/onboard', request('acmecorp')),
      rt.root('POST', '/api/v1/organizations/onboard', request('acmecorp')),
    ]);
    expect([x?.statusCode, y?.statusCode].sort()).toEqual([201, 409]);
    const winner = [x, y].find((r) => r?.statusCode === 201);
    expect(await traces('acmecorp')).toEqual({ rows: { org_profiles: 1, org_api_keys: 1, org_subscriptions: 1, org_usage_quotas: 1 }, dataset: true });
    expect((await rt.org(String(winner?.json().api_key), 'GET', '/api/v1/organizations/acmecorp')).statusCode).toBe(200);
  });

  it('refuses onboarding before bootstrap', async () => {
    expectProblem(await rt.root('POST', '/api/v1/organizations/onboard', request('acmecorp')), 409, 'NOT_BOOTSTRAPPED');
    expect(await rt.warehouse.datasetExists('acmecorp')).toBe(false);
  });

  it.each([
    ['uppercase', 'AcmeCorp', 'INVALID_ORG_SLUG'],
    ['spaces', 'acme corp', 'INVALID_ORG_SLUG'],
    ['dashes', 'acme-corp', 'INVALID_ORG_SLUG'],
    ['SQL', "a'; DROP TABLE x; --", 'INVALID_ORG_SLUG'],
    ['unicode', 'acmé_corp', 'INVALID_ORG_SLUG'],
    ['2 chars', 'ab', 'INVALID_ORG_SLUG'],
    ['51 chars', 'a'.repeat(51), 'INVALID_ORG_SLUG'],
    ['leading underscore', '_acme', 'INVALID_ORG_SLUG'],
    ['empty', '', 'INVALID_ORG_SLUG'],
    ['reserved organizations', 'organizations', 'RESERVED_ORG_SLUG'],
    ['reserved information_schema', 'information_schema', 'RESERVED_ORG_SLUG'],
    ['reserved main', 'main', 'RESERVED_ORG_SLUG'],
    ['reserved pg_catalog', 'pg_catalog', 'RESERVED_ORG_SLUG'],
    ['reserved pg_ prefix', 'pg_acme', 'RESERVED_ORG_SLUG'],
    ['the DuckDB catalog name', 'convergence', 'RESERVED_ORG_SLUG'],
  ])('refuses a slug with %s (400) and leaves nothing behind', async (_label, slug, code) => {
    await rt.bootstrap();
    expectProblem(await rt.root('POST', '/api/v1/organizations/onboard', request(slug)), 400, code);
    const profiles = await rt.warehouse.query(`SELECT org_slug FROM organizations.org_profiles`);
    expect(profiles).toEqual([]);
  });

  it.each([
    ['invalid email', request('acmecorp', { admin_email: 'not-an-email' }), 400, 'INVALID_EMAIL'],
    ['unknown plan', request('acmecorp', { subscription_plan: 'ENTERPRISE' }), 400, 'UNKNOWN_PLAN'],
    ['unknown field', request('acmecorp', { tenant_id: 'x' }), 400, 'VALIDATION_FAILED'],
    ['missing field', { org_slug: 'acmecorp', company_name: 'Acme' }, 400, 'VALIDATION_FAILED'],
    ['wrong type', request('acmecorp', { company_name: 42 }), 400, 'VALIDATION_FAILED'],
    ['empty company name', request('acmecorp', { company_name: '   ' }), 400, 'VALIDATION_FAILED'],
    ['lone surrogate in company name', request('acmecorp', { company_name: 'Acme \ud800' }), 400, 'VALIDATION_FAILED'],
    ['malformed JSON', '{"org_slug": "acmecorp",', 400, 'MALFORMED_JSON'],
    ['JSON array', '[1,2]', 400, 'VALIDATION_FAILED'],
    ['prototype pollution', '{"__proto__": {"admin": true}, "org_slug": "acmecorp"}', 400, 'MALFORMED_JSON'],
  ])('refuses %s', async (_label, body, status, code) => {
    await rt.bootstrap();
    expectProblem(await rt.root('POST', '/api/v1/organizations/onboard', body), status, code);
    expect(await traces('acmecorp')).toEqual(NOTHING);
  });

  it('refuses a 5 MB body with 413', async () => {
    await rt.bootstrap();
    const res = await rt.root('POST', '/api/v1/organizations/onboard', request('acmecorp', { company_name: 'x'.repeat(5 * 1024 * 1024) }));
    expectProblem(res, 413, 'PAYLOAD_TOO_LARGE');
    expect(await traces('acmecorp')).toEqual(NOTHING);
  });

  it('refuses a body that is not JSON with 415', async () => {
    await rt.bootstrap();
    const res = await rt.request({ method: 'POST', url: '/api/v1/organizations/onboard', headers: { 'x-ca-root-key': ROOT_KEY, 'content-type': 'text/plain' }, body: 'org_slug=acme' });
    expectProblem(res, 415, 'UNSUPPORTED_MEDIA_TYPE');
  });

  it('never adopts a dataset that already holds tables, but reuses one holding only views', async () => {
    await rt.bootstrap();
    await rt.warehouse.query('CREATE SCHEMA acmecorp');
    await rt.warehouse.query(`CREATE TABLE acmecorp.openai_cost_daily AS SELECT 'earlier tenant data' AS secret`);
    expectProblem(await rt.root('POST', '/api/v1/organizations/onboard', request('acmecorp')), 409, 'DATASET_NOT_EMPTY');
    expect((await traces('acmecorp')).rows).toEqual(NOTHING.rows);

    await rt.warehouse.query('DROP TABLE acmecorp.openai_cost_daily');
    await rt.warehouse.query('CREATE VIEW acmecorp.org_comprehensive_view AS SELECT 1 AS x'); // an interrupted attempt
    const res = await rt.root('POST', '/api/v1/organizations/onboard', request('acmecorp'));
    expect(res.statusCode, res.body).toBe(201);
    expect(res.json().dataset_created).toBe(false);
  });

  it('is all-or-nothing when the warehouse step fails, and the retry succeeds', async () => {
    await rt.close();
    const configs = fs.mkdtempSync(path.join(os.tmpdir(), 'convergence-configs-'));
    fs.cpSync(path.resolve(import.meta.dirname, '..', '..', 'configs'), configs, { recursive: true });
    const viewFile = path.join(configs, 'setup/organizations/onboarding/views/org_comprehensive_view.sql');
    const good = fs.readFileSync(viewFile, 'utf8');
    // A view over a table that does not exist fails for real when DuckDB binds it.
    fs.writeFileSync(viewFile, good.replace('{table:organizations.org_meta_step_logs}', '{table:organizations.no_such_table}'));
    rt = await startRuntime({ CONVERGENCE_CONFIGS_DIR: configs });
    try {
      await rt.bootstrap();
      const res = await rt.root('POST', '/api/v1/organizations/onboard', request('acmecorp'));
      expectProblem(res, 500, 'INTERNAL');
      expect(res.body).not.toMatch(/no_such_table|Catalog|DuckDB/i); // no internals in a 5xx
      expect(await traces('acmecorp')).toEqual(NOTHING); // the dataset this attempt created is gone
      // The failed attempt is on the platform's record with the engine's message, not in the org's history.
      const runs = await rt.warehouse.query<{ org_slug: string; status: string; error_message: string }>(
        `SELECT org_slug, status, error_message FROM organizations.org_meta_pipeline_runs WHERE pipeline_id = 'setup_organizations_onboarding'`,
      );
      expect(runs).toEqual([{ org_slug: '_platform', status: 'FAILED', error_message: expect.stringMatching(/no_such_table/) }]);

      fs.writeFileSync(viewFile, good);
      const retry = await rt.root('POST', '/api/v1/organizations/onboard', request('acmecorp'));
      expect(retry.statusCode, retry.body).toBe(201);
      const history = await rt.warehouse.query(`SELECT DISTINCT run_status FROM acmecorp.org_comprehensive_view`);
      expect(history).toEqual([{ run_status: 'SUCCESS' }]);
    } finally {
      fs.rmSync(configs, { recursive: true, force: true });
    }
  });

  it('is all-or-nothing when the control-store transaction fails: rows rolled back, dataset dropped', async () => {
    await rt.bootstrap();
    // A stray usage row makes the transaction's third insert violate the primary key.
    const today = new Date().toISOString().slice(0, 10);
    await rt.warehouse.query(
      `INSERT INTO organizations.org_usage_quotas (org_slug, usage_date, pipelines_run_today, pipelines_run_month, concurrent_running, updated_at)
       VALUES ('acmecorp', CAST($1 AS DATE), 0, 0, 0, now())`,
      [today],
    );
    expectProblem(await rt.root('POST', '/api/v1/organizations/onboard', request('acmecorp')), 500, 'INTERNAL');
    expect(await traces('acmecorp')).toEqual({ rows: { org_profiles: 0, org_api_keys: 0, org_subscriptions: 0, org_usage_quotas: 1 }, dataset: false });

    await rt.warehouse.query(`DELETE FROM organizations.org_usage_quotas WHERE org_slug = 'acmecorp'`);
    const retry = await rt.root('POST', '/api/v1/organizations/onboard', request('acmecorp'));
    expect(retry.statusCode, retry.body).toBe(201);
  });
});

describe('subscription and quota', () => {
  it('changes plan (limits follow) and status', async () => {
    await rt.bootstrap();
    const { api_key } = await rt.onboard('acmecorp');
    const res = await rt.root('PUT', '/api/v1/organizations/acmecorp/subscription', { plan: 'PROFESSIONAL', status: 'SUSPENDED' });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json()).toMatchObject({ plan_name: 'PROFESSIONAL', status: 'SUSPENDED', daily_limit: 25, monthly_limit: 750, concurrent_limit: 5 });
    const quota = await rt.org(api_key, 'GET', '/api/v1/organizations/acmecorp/quota');
    expect(quota.statusCode, quota.body).toBe(200);
    expect(quota.json()).toMatchObject({
      org_slug: 'acmecorp', plan_name: 'PROFESSIONAL', subscription_status: 'SUSPENDED', pipelines_run_today: 0, daily_limit: 25, daily_remaining: 25,
      pipelines_run_month: 0, monthly_limit: 750, concurrent_limit: 5, runs_allowed: false,
    });
  });

  it.each([
    [{}, 'VALIDATION_FAILED'],
    [{ plan: 'PLATINUM' }, 'UNKNOWN_PLAN'],
    [{ status: 'PAUSED' }, 'VALIDATION_FAILED'],
    [{ trial_end_date: '2025-13-40' }, 'VALIDATION_FAILED'],
    [{ plan: 'SCALE', daily_limit: 1000 }, 'VALIDATION_FAILED'],
  ])('refuses subscription change %j', async (body, code) => {
    await rt.bootstrap();
    await rt.onboard('acmecorp');
    expectProblem(await rt.root('PUT', '/api/v1/organizations/acmecorp/subscription', body), 400, code);
    const org = await rt.root('GET', '/api/v1/organizations/acmecorp');
    expect(org.json().subscription).toMatchObject({ plan_name: 'STARTER', status: 'ACTIVE' });
  });

  it('quota is for the org key only', async () => {
    await rt.bootstrap();
    await rt.onboard('acmecorp');
    expectProblem(await rt.root('GET', '/api/v1/organizations/acmecorp/quota'), 401, 'API_KEY_REQUIRED');
  });
});

describe('offboarding and purge', () => {
  it('revokes keys, marks deleted, keeps the slug taken until purged', async () => {
    await rt.bootstrap();
    const { api_key } = await rt.onboard('acmecorp');
    // A schedule row as the scheduler will write it: offboarding must stop it.
    await rt.warehouse.query(
      `INSERT INTO organizations.org_scheduled_pipeline_runs
         (schedule_id, org_slug, pipeline, cron, timezone, missed_run_policy, is_active, created_at, updated_at)
       VALUES ('s1', 'acmecorp', 'gcp/cost/billing', '0 2 * * *', 'UTC', 'none', TRUE, now(), now())`,
    );
    const res = await rt.root('DELETE', '/api/v1/organizations/acmecorp');
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json()).toMatchObject({ org_slug: 'acmecorp', status: 'DELETED', api_keys_revoked: 1, schedules_deactivated: 1, dataset_dropped: false });
    expect(await rt.warehouse.query(`SELECT is_active FROM organizations.org_scheduled_pipeline_runs`)).toEqual([{ is_active: false }]);
    expectProblem(await rt.org(api_key, 'GET', '/api/v1/organizations/acmecorp'), 401, 'INVALID_API_KEY');
    expect((await rt.root('GET', '/api/v1/organizations/acmecorp')).json()).toMatchObject({ status: 'DELETED', subscription: { status: 'CANCELLED' } });
    expect(await rt.warehouse.datasetExists('acmecorp')).toBe(true);

    expectProblem(await rt.root('POST', '/api/v1/organizations/onboard', request('acmecorp')), 409, 'ORG_DELETED');
    expectProblem(await rt.root('PUT', '/api/v1/organizations/acmecorp/subscription', { status: 'ACTIVE' }), 409, 'ORG_DELETED');
    expectProblem(await rt.root('POST', '/api/v1/organizations/acmecorp/api-keys/rotate'), 409, 'ORG_DELETED');

    const purge = await rt.root('POST', '/api/v1/admin/organizations/acmecorp/purge');
    expect(purge.statusCode, purge.body).toBe(200);
    expect(purge.json()).toEqual({ org_slug: 'acmecorp', purged: true, dataset_dropped: true });
    expect(await traces('acmecorp')).toEqual(NOTHING);
    expect((await rt.root('POST', '/api/v1/organizations/onboard', request('acmecorp'))).statusCode).toBe(201);
  });

  it('drop_dataset=true removes the dataset; purge of a live org is refused', async () => {
    await rt.bootstrap();
    await rt.onboard('acmecorp');
    await rt.onboard('keepme');
    expectProblem(await rt.root('POST', '/api/v1/admin/organizations/keepme/purge'), 409, 'ORG_NOT_DELETED');
    const res = await rt.root('DELETE', '/api/v1/organizations/acmecorp?drop_dataset=true');
    expect(res.json()).toMatchObject({ dataset_dropped: true });
    expect(await rt.warehouse.datasetExists('acmecorp')).toBe(false);
    expect(await rt.warehouse.datasetExists('keepme')).toBe(true);
    expectProblem(await rt.root('DELETE', '/api/v1/organizations/acmecorp?drop_dataset=maybe'), 400, 'VALIDATION_FAILED');
    expectProblem(await rt.root('DELETE', '/api/v1/organizations/nobody'), 404, 'ORG_NOT_FOUND');
  });
});
