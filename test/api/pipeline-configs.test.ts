import type { LightMyRequestResponse } from 'fastify';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { expectProblem, startRuntime, type TestRuntime } from '../helpers/runtime.js';

/** An organization's own pipeline configs: upload and validation, versions, listing, running, isolation. */
let rt: TestRuntime;
let key: string;
const ORG = 'acme_cfg';

beforeEach(async () => {
  rt = await startRuntime();
  await rt.bootstrap();
  key = (await rt.onboard(ORG, 'SCALE')).api_key;
});
afterEach(async () => {
  await rt.close();
});

const upload = (k: string, config_id: unknown, yaml: unknown): Promise<LightMyRequestResponse> => rt.org(k, 'POST', '/api/v1/pipelines/configs', { config_id, yaml });
const listConfigs = async (k = key): Promise<{ config_id: string; version: number }[]> => {
  const res = await rt.org(k, 'GET', '/api/v1/pipelines/configs');
  expect(res.statusCode, res.body).toBe(200);
  return res.json<{ configs: { config_id: string; version: number }[] }>().configs;
};
const runConfig = (k: string, org: string, id: string): Promise<LightMyRequestResponse> => rt.org(k, 'POST', `/api/v1/pipelines/run/${org}/custom/configs/${id}?wait=true`, {});

const VALID = `
pipeline_id: "{org_slug}_daily_copy"
description: "Copies numbers for {org_slug}"
parameters:
  n: { type: integer, default: 3, minimum: 1, maximum: 100 }
steps:
  - step_id: load
    ps_type: gcp.bq_etl
    source:
      query: "SELECT CAST(i AS INTEGER) AS v, CAST('{date}' AS DATE) AS usage_date FROM range({n}) AS r(i)"
    destination:
      table: "{dataset}.copy_t"
      write_disposition: WRITE_PARTITION
  - step_id: check
    ps_type: data_quality.check
    depends_on: [load]
    table: "{dataset}.copy_t"
    checks:
      - { name: has_rows, type: row_count, min: 1 }
`;

/** VALID with its `load` step replaced by `step` (YAML at step indentation) and no check step. */
const withStep = (step: string): string => `
pipeline_id: "{org_slug}_x"
steps:
${step}
`;

describe('upload, versions, read, delete', () => {
  it('stores versions, lists and returns the YAML, deletes, and a deleted config no longer runs', async () => {
    const first = await upload(key, 'daily_copy', VALID);
    expect(first.statusCode, first.body).toBe(201);
    expect(first.json()).toMatchObject({
      config_id: 'daily_copy',
      version: 1,
      pipeline_id: '{org_slug}_daily_copy',
      steps: 2,
      run_path: `/api/v1/pipelines/run/${ORG}/custom/configs/daily_copy`,
    });
    const second = await upload(key, 'daily_copy', VALID.replace('default: 3', 'default: 4'));
    expect(second.statusCode, second.body).toBe(201);
    expect(second.json().version).toBe(2);

    expect(await listConfigs()).toEqual([expect.objectContaining({ config_id: 'daily_copy', version: 2 })]);
    const one = await rt.org(key, 'GET', '/api/v1/pipelines/configs/daily_copy');
    expect(one.statusCode, one.body).toBe(200);
    expect(one.json()).toMatchObject({ config_id: 'daily_copy', version: 2, yaml: VALID.replace('default: 3', 'default: 4') });

    // The latest version is what runs.
    const run = await runConfig(key, ORG, 'daily_copy');
    expect(run.statusCode, run.body).toBe(200);
    expect(run.json()).toMatchObject({ status: 'SUCCESS', pipeline_id: `${ORG}_daily_copy`, pipeline_path: 'custom/configs/daily_copy', parameters: { n: 4 } });

    const del = await rt.org(key, 'DELETE', '/api/v1/pipelines/configs/daily_copy');
    expect(del.statusCode, del.body).toBe(200);
    expect(del.json()).toEqual({ config_id: 'daily_copy', deleted: true });
    expectProblem(await rt.org(key, 'GET', '/api/v1/pipelines/configs/daily_copy'), 404, 'CONFIG_NOT_FOUND');
    expectProblem(await rt.org(key, 'DELETE', '/api/v1/pipelines/configs/daily_copy'), 404, 'CONFIG_NOT_FOUND');
    expectProblem(await runConfig(key, ORG, 'daily_copy'), 404, 'PIPELINE_NOT_FOUND');
    expect(await listConfigs()).toEqual([]);
    expectProblem(await rt.org(key, 'GET', '/api/v1/pipelines/configs/..%2Fx'), 404, 'CONFIG_NOT_FOUND');
  });

  it('refuses invalid configs with a problem naming the step and field, and stores nothing', async () => {
    const bomb = ['a: &a ["x","x","x","x","x","x","x","x","x","x"]', ...Array.from({ length: 9 }, (_, i) => `${String.fromCharCode(98 + i)}: &${String.fromCharCode(98 + i)} [${Array(10).fill(`*${String.fromCharCode(97 + i)}`).join(',')}]`)].join('\n');
    const cases: [string, string, number, string, RegExp][] = [
      ['malformed YAML', 'steps: [\n  - step_id: "x\n', 422, 'INVALID_PIPELINE', /invalid YAML/],
      ['duplicate keys', 'pipeline_id: a\npipeline_id: b\nsteps: []\n', 422, 'INVALID_PIPELINE', /invalid YAML/],
      ['alias bomb', bomb, 422, 'INVALID_PIPELINE', /alias/i],
      ['not a mapping', '- just\n- a list\n', 422, 'INVALID_PIPELINE', /document/],
      ['no steps', 'pipeline_id: x\nsteps: []\n', 422, 'INVALID_PIPELINE', /steps/],
      [
        'step failing its schema',
        withStep('  - step_id: load\n    ps_type: gcp.bq_etl\n    source: { query: "SELECT 1 AS a" }\n    destination: { table: "{dataset}.t", write_disposition: WRITE_SOMETIMES }'),
        422,
        'INVALID_PIPELINE',
        /step "load".*destination\.write_disposition/,
      ],
      [
        'missing required config',
        withStep('  - step_id: load\n    ps_type: gcp.bq_etl\n    source: { query: "SELECT 1 AS a" }'),
        422,
        'INVALID_PIPELINE',
        /step "load".*destination/,
      ],
      [
        'unknown config key',
        withStep('  - step_id: load\n    ps_type: gcp.bq_etl\n    source: { query: "SELECT 1 AS a" }\n    destination: { table: "t" }\n    colour: red'),
        422,
        'INVALID_PIPELINE',
        /step "load"/,
      ],
      ['unknown ps_type', withStep('  - step_id: load\n    ps_type: gcp.nothing'), 422, 'INVALID_PIPELINE', /step "load".*unknown ps_type "gcp\.nothing"/],
      [
        'cycle',
        withStep(
          '  - step_id: a\n    ps_type: notify_systems.email_notification\n    depends_on: [b]\n    to_emails: ["{admin_email}"]\n' +
            '  - step_id: b\n    ps_type: notify_systems.email_notification\n    depends_on: [a]\n    to_emails: ["{admin_email}"]',
        ),
        422,
        'INVALID_PIPELINE',
        /cycle: (a → b → a|b → a → b)/,
      ],
      [
        'unknown dependency',
        withStep('  - step_id: a\n    ps_type: notify_systems.email_notification\n    depends_on: [ghost]\n    to_emails: ["{admin_email}"]'),
        422,
        'INVALID_PIPELINE',
        /step "a".*unknown step "ghost"/,
      ],
      [
        'unknown variable',
        withStep('  - step_id: load\n    ps_type: gcp.bq_etl\n    source: { query: "SELECT {nope} AS a" }\n    destination: { table: "{dataset}.t" }'),
        422,
        'INVALID_PIPELINE',
        /step "load": field "source\.query": unknown variable "nope"/,
      ],
      [
        'a string variable in SQL',
        withStep("  - step_id: load\n    ps_type: gcp.bq_etl\n    source: { query: \"SELECT '{admin_email}' AS a\" }\n    destination: { table: \"{dataset}.t\" }"),
        422,
        'INVALID_PIPELINE',
        /step "load": field "source\.query": variable "admin_email" is of type string .*@admin_email/,
      ],
      [
        'unknown query parameter',
        withStep('  - step_id: load\n    ps_type: gcp.bq_etl\n    source: { query: "SELECT @secret AS a" }\n    destination: { table: "{dataset}.t" }'),
        422,
        'INVALID_PIPELINE',
        /step "load".*@secret/,
      ],
      [
        'reserved setup processor',
        withStep('  - step_id: onboard\n    ps_type: setup.organizations.onboarding'),
        422,
        'INVALID_PIPELINE',
        /step "onboard": setup\.organizations\.onboarding is reserved/,
      ],
      [
        'a schema file outside configs',
        withStep('  - step_id: load\n    ps_type: gcp.bq_etl\n    source: { query: "SELECT 1 AS a" }\n    destination: { table: "{dataset}.t", schema: ../../etc/passwd.json }'),
        422,
        'INVALID_PIPELINE',
        /step "load".*schema/,
      ],
      ['bad duration', withStep('  - step_id: a\n    ps_type: notify_systems.email_notification\n    timeout: soon\n    to_emails: ["x@example.com"]'), 422, 'INVALID_PIPELINE', /timeout/],
    ];
    for (const [label, yaml, status, code, detail] of cases) {
      const problem = expectProblem(await upload(key, 'bad_config', yaml), status, code);
      expect(problem.detail, label).toMatch(detail);
    }

    // Ids and sizes the request schema refuses.
    for (const id of ['Bad ID', '../x', 'x/y', '', '-x', 'a'.repeat(65), 'ünï']) {
      expect((await upload(key, id, VALID)).statusCode, id).toBe(400);
    }
    expectProblem(await upload(key, 'x', ''), 400, 'VALIDATION_FAILED');
    expectProblem(await upload(key, 'x', 42), 400, 'VALIDATION_FAILED');
    const big = await upload(key, 'big', `${VALID}\n# ${'x'.repeat(256 * 1024)}\n`);
    expect([400, 413], big.body).toContain(big.statusCode);
    const bigMultibyte = await upload(key, 'big', `${VALID}\n# ${'é'.repeat(130 * 1024)}\n`);
    expect([400, 413], bigMultibyte.body).toContain(bigMultibyte.statusCode);
    expectProblem(await rt.org(key, 'POST', '/api/v1/pipelines/configs', { config_id: 'x', yaml: VALID, extra: 1 }), 400, 'VALIDATION_FAILED');

    expect(await listConfigs()).toEqual([]);
    expect(Number((await rt.warehouse.query<{ n: bigint }>('SELECT count(*) AS n FROM organizations.org_pipeline_configs'))[0]?.n)).toBe(0);
  });

  it('accepts the seed form and runs it', async () => {
    const seed = `
pipeline:
  id: "{org_slug}_seed"
  name: "Seed form pipeline"
  version: "1.0"
dependencies:
  level_1: [{ step: load }]
  level_2: [{ step: check }]
steps:
  - id: load
    ps_type: gcp.bq_etl
    config:
      source:
        query: "SELECT CAST(i AS INTEGER) AS n FROM range(4) AS r(i)"
      destination:
        table: "{dataset}.seed_t"
        write_disposition: WRITE_TRUNCATE
  - id: check
    ps_type: data_quality.check
    config:
      table: "{dataset}.seed_t"
      checks:
        - { name: four_rows, type: row_count, min: 4, max: 4 }
        - { name: n_present, type: not_null, column: n }
`;
    const saved = await upload(key, 'seed', seed);
    expect(saved.statusCode, saved.body).toBe(201);
    expect(saved.json()).toMatchObject({ version: 1, pipeline_id: '{org_slug}_seed', steps: 2 });

    const listed = (await rt.org(key, 'GET', '/api/v1/pipelines')).json<{ pipelines: Record<string, unknown>[] }>().pipelines;
    expect(listed.find((p) => p.path === 'custom/configs/seed')).toMatchObject({
      steps: [
        { step_id: 'load', ps_type: 'gcp.bq_etl', depends_on: [] },
        { step_id: 'check', ps_type: 'data_quality.check', depends_on: ['load'] },
      ],
    });

    const run = await runConfig(key, ORG, 'seed');
    expect(run.statusCode, run.body).toBe(200);
    const body = run.json<{ status: string; pipeline_id: string; steps: { step_id: string; status: string }[]; dq_results: { check_name: string; status: string }[] }>();
    expect(body).toMatchObject({ status: 'SUCCESS', pipeline_id: `${ORG}_seed` });
    expect(body.steps.map((s) => [s.step_id, s.status])).toEqual(expect.arrayContaining([['load', 'SUCCESS'], ['check', 'SUCCESS']]));
    expect(body.dq_results.map((d) => [d.check_name, d.status]).sort()).toEqual([['four_rows', 'PASS'], ['n_present', 'PASS']]);
    expect(Number((await rt.warehouse.query<{ n: bigint }>(`SELECT count(*) AS n FROM ${ORG}.seed_t`))[0]?.n)).toBe(4);
  });
});

describe('isolation', () => {
  it("another org's config is invisible: not listed, not readable, not deletable, not runnable", async () => {
    expect((await upload(key, 'daily_copy', VALID)).statusCode).toBe(201);
    const other = (await rt.onboard('acme_other')).api_key;
    expect(await listConfigs(other)).toEqual([]);
    expectProblem(await rt.org(other, 'GET', '/api/v1/pipelines/configs/daily_copy'), 404, 'CONFIG_NOT_FOUND');
    expectProblem(await rt.org(other, 'DELETE', '/api/v1/pipelines/configs/daily_copy'), 404, 'CONFIG_NOT_FOUND');
    expectProblem(await runConfig(other, 'acme_other', 'daily_copy'), 404, 'PIPELINE_NOT_FOUND');
    expectProblem(await runConfig(other, ORG, 'daily_copy'), 404, 'ORG_NOT_FOUND');
    const pipelines = (await rt.org(other, 'GET', '/api/v1/pipelines')).json<{ pipelines: { path: string }[] }>().pipelines;
    expect(pipelines.map((p) => p.path)).not.toContain('custom/configs/daily_copy');

    // The same id in the other org is its own config, with its own versions.
    const own = await upload(other, 'daily_copy', VALID.replace('default: 3', 'default: 5'));
    expect(own.json().version).toBe(1);
    expect((await rt.org(key, 'GET', '/api/v1/pipelines/configs/daily_copy')).json()).toMatchObject({ version: 1, yaml: VALID });
    expect((await rt.org(key, 'DELETE', '/api/v1/pipelines/configs/daily_copy')).statusCode).toBe(200);
    expect((await rt.org(other, 'GET', '/api/v1/pipelines/configs/daily_copy')).statusCode).toBe(200);
  });
});

describe('catalogue and schema', () => {
  it('lists built-in pipelines with their parameters and the org configs; publishes the JSON Schema', async () => {
    expect((await upload(key, 'daily_copy', VALID)).statusCode).toBe(201);
    const res = await rt.org(key, 'GET', '/api/v1/pipelines');
    expect(res.statusCode, res.body).toBe(200);
    const pipelines = res.json<{ pipelines: Record<string, unknown>[] }>().pipelines;
    const demo = pipelines.find((p) => p.path === 'demo/sample/costs');
    expect(demo).toMatchObject({ source: 'builtin', pipeline_id: '{org_slug}_demo_sample_costs' });
    expect(demo?.parameters).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ name: 'date', type: 'date', default: 'yesterday' }),
        expect.objectContaining({ name: 'lines', type: 'integer', default: 200 }),
      ]),
    );
    expect(pipelines.map((p) => String(p.path)).some((p) => p.startsWith('setup/') || p.startsWith('system/'))).toBe(false);
    expect(pipelines.find((p) => p.path === 'custom/configs/daily_copy')).toMatchObject({
      source: 'custom',
      version: 1,
      parameters: [expect.objectContaining({ name: 'n', type: 'integer', default: 3 })],
    });
    expectProblem(await rt.request({ method: 'GET', url: '/api/v1/pipelines' }), 401, 'API_KEY_REQUIRED');

    const schema = await rt.request({ method: 'GET', url: '/api/v1/pipelines/schema' });
    expect(schema.statusCode, schema.body).toBe(200);
    const doc = schema.json<{ $schema: string; properties: { steps: { items: { oneOf: { title: string; properties: { ps_type: { const: string } } }[] } } } }>();
    expect(doc.$schema).toMatch(/json-schema\.org/);
    const branches = doc.properties.steps.items.oneOf;
    expect(branches.map((b) => b.title)).toEqual(expect.arrayContaining(['gcp.bq_etl', 'data_quality.check', 'notify_systems.email_notification']));
    expect(branches.find((b) => b.title === 'gcp.bq_etl')?.properties.ps_type.const).toBe('gcp.bq_etl');
  });
});
