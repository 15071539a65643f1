import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { expectProblem, startRuntime, type TestRuntime } from '../helpers/runtime.js';

const REPO_CONFIGS = path.resolve(import.meta.dirname, '..', '..', 'configs');
const CENTRAL_TABLES = [
  'org_api_keys', 'org_audit_logs', 'org_integration_credentials', 'org_meta_dq_results', 'org_meta_pipeline_runs', 'org_meta_step_logs',
  'org_pipeline_configs', 'org_pipeline_execution_queue', 'org_price_overrides', 'org_profiles', 'org_scheduled_pipeline_runs', 'org_subscriptions', 'org_usage_quotas',
];

let rt: TestRuntime | undefined;
afterEach(async () => {
  await rt?.close();
  rt = undefined;
});

const count = async (r: TestRuntime, table: string): Promise<number> =>
  Number((await r.warehouse.query<{ n: number }>(`SELECT count(*) AS n FROM organizations.${table}`))[0]?.n);

describe('POST /api/v1/admin/bootstrap', () => {
  it('creates the central dataset and all thirteen tables, then is idempotent', async () => {
    rt = await startRuntime();
    const first = await rt.root('POST', '/api/v1/admin/bootstrap', { force_recreate_dataset: false });
    expect(first.statusCode, first.body).toBe(200);
    expect(first.json()).toMatchObject({ status: 'SUCCESS', dataset: 'organizations', dataset_created: true, tables_existing: [], total_tables: 13 });
    expect([...first.json().tables_created].sort()).toEqual(CENTRAL_TABLES);
    expect(await rt.warehouse.listTables('organizations')).toEqual(expect.arrayContaining(CENTRAL_TABLES));

    await rt.onboard('acme_corp');
    const orgsBefore = await count(rt, 'org_profiles');
    const second = await rt.root('POST', '/api/v1/admin/bootstrap');
    expect(second.statusCode, second.body).toBe(200);
    expect(second.json()).toMatchObject({ dataset_created: false, tables_created: [], tables_recreated: [], columns_added: {} });
    expect([...second.json().tables_existing].sort()).toEqual(CENTRAL_TABLES);
    expect(await count(rt, 'org_profiles')).toBe(orgsBefore);
  });

  it('logs each bootstrap as a setup run with its step', async () => {
    rt = await startRuntime();
    const res = await rt.root('POST', '/api/v1/admin/bootstrap');
    const id = res.json().pipeline_logging_id as string;
    const runs = await rt.warehouse.query(`SELECT * FROM organizations.org_meta_pipeline_runs WHERE pipeline_logging_id = $1`, [id]);
    expect(runs).toHaveLength(1);
    expect(runs[0]).toMatchObject({ org_slug: '_platform', pipeline_id: 'setup_initial_bootstrap', status: 'SUCCESS', trigger_type: 'setup', trigger_by: 'root' });
    const steps = await rt.warehouse.query(`SELECT * FROM organizations.org_meta_step_logs WHERE pipeline_logging_id = $1`, [id]);
    expect(steps).toMatchObject([{ step_id: 'create_central_tables', ps_type: 'setup.initial.onetime_bootstrap', status: 'SUCCESS' }]);
  });

  it('force_recreate_tables drops and recreates every table', async () => {
    rt = await startRuntime();
    await rt.bootstrap();
    await rt.onboard('acme_corp');
    const res = await rt.root('POST', '/api/v1/admin/bootstrap', { force_recreate_tables: true });
    expect(res.statusCode, res.body).toBe(200);
    expect([...res.json().tables_recreated].sort()).toEqual(CENTRAL_TABLES);
    // Only the bootstrap run just logged remains.
    expect(await count(rt, 'org_profiles')).toBe(0);
    expect(await count(rt, 'org_meta_pipeline_runs')).toBe(1);
  });

  it('force_recreate_dataset drops the dataset and creates it again', async () => {
    rt = await startRuntime();
    await rt.bootstrap();
    await rt.onboard('acme_corp');
    const res = await rt.root('POST', '/api/v1/admin/bootstrap', { force_recreate_dataset: true });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json()).toMatchObject({ dataset_recreated: true });
    expect(res.json().tables_created).toHaveLength(13);
    expect(await count(rt, 'org_profiles')).toBe(0);
  });

  it('adds columns that are new in the schema files and keeps existing rows', async () => {
    const configs = fs.mkdtempSync(path.join(os.tmpdir(), 'convergence-configs-'));
    fs.cpSync(REPO_CONFIGS, configs, { recursive: true });
    rt = await startRuntime({ CONVERGENCE_CONFIGS_DIR: configs });
    try {
      await rt.bootstrap();
      await rt.onboard('acme_corp');
      const file = path.join(configs, 'setup/bootstrap/schemas/org_profiles.json');
      const schema = JSON.parse(fs.readFileSync(file, 'utf8'));
      schema.fields.push({ name: 'billing_country', type: 'STRING', mode: 'REQUIRED', description: 'new' });
      fs.writeFileSync(file, JSON.stringify(schema));

      const res = await rt.root('POST', '/api/v1/admin/bootstrap');
      expect(res.statusCode, res.body).toBe(200);
      expect(res.json().columns_added).toEqual({ org_profiles: ['billing_country'] });
      const rows = await rt.warehouse.query(`SELECT org_slug, billing_country FROM organizations.org_profiles`);
      expect(rows).toEqual([{ org_slug: 'acme_corp', billing_country: null }]);
      // And a third call finds nothing more to add.
      expect((await rt.root('POST', '/api/v1/admin/bootstrap')).json().columns_added).toEqual({});
    } finally {
      fs.rmSync(configs, { recursive: true, force: true });
    }
  });

  it('refuses bad requests with a problem and changes nothing', async () => {
    rt = await startRuntime();
    expectProblem(await rt.root('POST', '/api/v1/admin/bootstrap', { force_recreate_tables: 'yes' }), 400, 'VALIDATION_FAILED');
    expectProblem(await rt.root('POST', '/api/v1/admin/bootstrap', { force: true }), 400, 'VALIDATION_FAILED');
    expectProblem(await rt.root('POST', '/api/v1/admin/bootstrap', '{"force_recreate_tables": tru'), 400, 'MALFORMED_JSON');
    expectProblem(await rt.request({ method: 'POST', url: '/api/v1/admin/bootstrap', body: {} }), 401, 'ROOT_KEY_REQUIRED');
    expectProblem(await rt.request({ method: 'POST', url: '/api/v1/admin/bootstrap', body: {}, headers: { 'x-ca-root-key': 'wrong' } }), 401, 'INVALID_ROOT_KEY');
    expect(await rt.warehouse.datasetExists('organizations')).toBe(false);
  });
});
