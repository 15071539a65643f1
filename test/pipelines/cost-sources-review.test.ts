import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DuckDbDatabase } from '../../src/duckdb/duckdb-database.js';
import { exportRow, serviceAccount } from '../helpers/gcp.js';
import { startRuntime, type TestRuntime } from '../helpers/runtime.js';

/**
 * Adversarial review of the cost sources (GCP export files, OpenAI, Anthropic, DeepSeek, FOCUS),
 * written against inputs this team's own fixtures do not produce. Every test states the behaviour
 * the issue / DESIGN / providers.md asks for; the ones that found defects stay as regression tests.
 */
const ORG = 'acme';
const DAY = '2026-11-20';
const NEXT = '2026-11-21';
const OPENAI_KEY = 'sk-admin-REVIEW0123456789abcdefKLMN';
const ANTHROPIC_KEY = 'sk-ant-admin01-REVIEW0123456789abcd-OPQR';
const DEEPSEEK_KEY = 'sk-REVIEWdeepseek0123456789XYZW';

// ---- one loopback server playing all three providers; each test sets what it answers ---------

interface Req {
  path: string;
  query: URLSearchParams;
  headers: http.IncomingHttpHeaders;
}
type Handler = (r: Req) => { status?: number; body: unknown } | undefined;

let handler: Handler = () => undefined;
const requests: Req[] = [];
let server: http.Server;
let baseUrl: string;

beforeAll(async () => {
  server = http.createServer((req, res) => {
    const u = new URL(req.url ?? '/', 'http://x');
    const r: Req = { path: u.pathname, query: u.searchParams, headers: req.headers };
    requests.push(r);
    req.resume();
    const a = handler(r) ?? defaultAnswer(r);
    res.writeHead(a.status ?? 200, { 'content-type': 'application/json' });
    res.end(typeof a.body === 'string' ? a.body : JSON.stringify(a.body));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

const unix = (day: string): number => Date.parse(`${day}T00:00:00Z`) / 1000;

function defaultAnswer(r: Req): { status?: number; body: unknown } {
  if (r.path.startsWith('/v1/organization/')) return { body: { object: 'page', data: [], has_more: false, next_page: null } };
  if (r.path.startsWith('/v1/organizations/')) return { body: { data: [], has_more: false, next_page: null } };
  if (r.path === '/user/balance') return { body: { is_available: true, balance_infos: [] } };
  return { status: 404, body: { error: { message: 'not found' } } };
}

const openAiBucket = (day: string, results: unknown[]): unknown => ({ object: 'bucket', start_time: unix(day), end_time: unix(day) + 86_400, results });
const openAiCost = (value: unknown, over: Record<string, unknown> = {}): unknown => ({
  object: 'organization.costs.result',
  amount: { value, currency: 'usd' },
  line_item: 'gpt-4o, input',
  project_id: 'proj_a',
  quantity: 1000,
  quantity_unit: 'tokens',
  ...over,
});
const anthropicBucket = (day: string, results: unknown[]): unknown => ({ starting_at: `${day}T00:00:00Z`, ending_at: `${NEXT_OF(day)}T00:00:00Z`, results });
const NEXT_OF = (day: string): string => new Date(Date.parse(`${day}T00:00:00Z`) + 86_400_000).toISOString().slice(0, 10);
const anthropicCost = (amount: unknown, over: Record<string, unknown> = {}): unknown => ({
  amount,
  currency: 'USD',
  cost_type: 'tokens',
  description: 'Claude Sonnet 4.5 Usage - Input Tokens',
  model: 'claude-sonnet-4-5-20250929',
  token_type: 'uncached_input_tokens',
  service_tier: 'standard',
  context_window: '0-200k',
  workspace_id: 'wrkspc_1',
  ...over,
});

// ---- runtime ----------------------------------------------------------------------------------

let rt: TestRuntime;
let key: string;
let importDir: string;

beforeEach(async () => {
  handler = () => undefined;
  requests.length = 0;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'convergence-review-'));
  importDir = path.join(dir, 'import');
  fs.mkdirSync(path.join(importDir, 'gcp'), { recursive: true });
  rt = await startRuntime({ IMPORT_DIR: importDir, OPENAI_BASE_URL: baseUrl, ANTHROPIC_BASE_URL: baseUrl, DEEPSEEK_BASE_URL: baseUrl }, dir);
  await rt.bootstrap();
  key = (await rt.onboard(ORG, 'SCALE')).api_key;
});
afterEach(async () => {
  await rt.close();
});

interface Run {
  status: string;
  error_message: string | null;
  steps: { step_id: string; status: string; error_message: string | null; metadata?: unknown }[];
  dq_results: { check_name: string; status: string; observed_value: string | null; expected_value: string | null; message?: string | null }[];
}
const why = (r: Run): string => JSON.stringify({ steps: r.steps.map((s) => [s.step_id, s.status, s.error_message]), dq: r.dq_results.filter((d) => d.status !== 'PASS') });

async function setup(provider: string, credential: unknown, config?: Record<string, string>, k = key, org = ORG): Promise<void> {
  const res = await rt.org(k, 'POST', `/api/v1/integrations/${org}/${provider}/setup`, { credential, skip_validation: provider !== 'gcp', ...(config ? { config } : {}) });
  expect(res.statusCode, res.body).toBe(201);
}

async function run(pipeline: string, date = DAY, k = key, org = ORG): Promise<Run> {
  const res = await rt.org(k, 'POST', `/api/v1/pipelines/run/${org}/${pipeline}?wait=true`, { date });
  expect(res.statusCode, res.body).toBe(200);
  return res.json<Run>();
}

/** Σ per currency as exact decimal text without trailing zeros. */
async function sums(sql: string, params: unknown[] = []): Promise<Record<string, string>> {
  const rows = await rt.warehouse.query<{ c: string; t: string }>(sql, params as never);
  return Object.fromEntries(rows.map((r) => [r.c, r.t.includes('.') ? r.t.replace(/0+$/, '').replace(/\.$/, '') : r.t]));
}
const focusSums = (provider: string, day = DAY): Promise<Record<string, string>> =>
  sums(`SELECT BillingCurrency AS c, CAST(SUM(BilledCost) AS VARCHAR) AS t FROM "${ORG}".cost_focus_daily WHERE x_ProviderCode = $1 AND x_ChargeDate = CAST($2 AS DATE) GROUP BY 1`, [provider, day]);

const writeNdjson = (name: string, rows: unknown[], sep = '\n', prefix = ''): void =>
  fs.writeFileSync(path.join(importDir, 'gcp', name), prefix + rows.map((r) => (typeof r === 'string' ? r : JSON.stringify(r))).join(sep) + sep);

// =============================================================================================
// GCP billing export files
// =============================================================================================

describe('gcp/cost/billing — exports as BigQuery (and other tools) write them', () => {
  it('holds: strings for numbers, +00:00 offsets, no fraction, upper-case cost_type, lower-case currency, null credits/project, duplicate label keys, CRLF, blank lines, midnight-spanning rows, a tax-only day, EUR+USD, re-runs', async () => {
    const rows = [
      // Day 1, USD: numbers as JSON strings (as BigQuery writes NUMERIC / INT64), ISO offset.
      exportRow({ cost: '10.123456789', credits: [{ name: 'SUD', amount: '-1.000000001', full_name: null, id: 'x', type: 'SUSTAINED_USAGE_DISCOUNT' }], usage_start_time: `${DAY}T00:00:00+00:00`, usage_end_time: `${DAY}T01:00:00+00:00`, usage: { amount: '3600', unit: 'seconds', amount_in_pricing_units: '1', pricing_unit: 'hour' } }),
      // credits null and missing, project null, cost_type upper case, currency lower case, no fraction.
      exportRow({ cost: 2.5, credits: null, project: null, cost_type: 'REGULAR', currency: 'usd', usage_start_time: `${DAY} 05:00:00 UTC` }),
      (({ credits: _c, ...r }) => r)(exportRow({ cost: 0.000000001, usage_start_time: `${DAY}T06:00:00Z` })),
      // Duplicate label keys.
      exportRow({ cost: 1, labels: [{ key: 'env', value: 'a' }, { key: 'env', value: 'b' }], credits: [] }),
      // Spans midnight: belongs to the day of usage_start_time.
      exportRow({ cost: 7, credits: [], usage_start_time: `${DAY} 23:00:00 UTC`, usage_end_time: `${NEXT} 00:00:00 UTC` }),
      // EUR, with a credit.
      exportRow({ cost: 3.3, currency: 'EUR', credits: [{ name: 'Promo', amount: -0.3, full_name: null, id: 'p', type: 'PROMOTION' }] }),
      // Day 2: tax only, no project, no sku.
      exportRow({ cost_type: 'tax', cost: 4.44, credits: [], project: null, sku: { id: null, description: null }, usage: null, usage_start_time: `${NEXT} 00:00:00 UTC`, usage_end_time: `${NEXT} 01:00:00 UTC` }),
    ];
    writeNdjson('a.json', rows.slice(0, 3), '\r\n');
    fs.writeFileSync(path.join(importDir, 'gcp', 'b.ndjson'), `\n\n${rows.slice(3).map((r) => JSON.stringify(r)).join('\n\n')}`); // blank lines, no final newline
    await setup('gcp', serviceAccount(), { billing_export_path: 'gcp/*' });

    for (let i = 0; i < 2; i++) {
      const r1 = await run('gcp/cost/billing', DAY);
      expect(r1.status, why(r1)).toBe('SUCCESS');
      const r2 = await run('gcp/cost/billing', NEXT);
      expect(r2.status, why(r2)).toBe('SUCCESS');
    }
    const expected1 = { USD: '19.623456789', EUR: '3' }; // 10.123456789 - 1.000000001 + 2.5 + 0.000000001 + 1 + 7
    expect(await focusSums('gcp', DAY)).toEqual(expected1);
    expect(await sums(`SELECT currency AS c, CAST(SUM(net_cost) AS VARCHAR) AS t FROM "${ORG}".gcp_cost_daily WHERE usage_date = DATE '${DAY}' GROUP BY 1`)).toEqual(expected1);
    expect(await focusSums('gcp', NEXT)).toEqual({ USD: '4.44' });
    const [n] = await rt.warehouse.query<{ n: number }>(`SELECT COUNT(*)::INT AS n FROM "${ORG}".gcp_billing_daily_raw`);
    expect(n?.n).toBe(7);
    const labels = await rt.warehouse.query<{ l: string }>(`SELECT CAST(labels AS VARCHAR) AS l FROM "${ORG}".gcp_billing_daily_raw WHERE cost = 1`);
    expect(JSON.parse(labels[0]?.l ?? '{}')).toEqual({ env: 'b' });
    // FOCUS rules for the tax row: Tax category, no SKU, no pricing/consumed quantity.
    const [tax] = await rt.warehouse.query<Record<string, unknown>>(`SELECT ChargeCategory, SkuId, SkuPriceId, PricingUnit, PricingQuantity, ConsumedQuantity, ServiceName FROM "${ORG}".cost_focus_daily WHERE x_ChargeDate = DATE '${NEXT}'`);
    expect(tax).toMatchObject({ ChargeCategory: 'Tax', SkuId: null, SkuPriceId: null, PricingUnit: null, PricingQuantity: null, ConsumedQuantity: null });
  });

  it('a file starting with a UTF-8 BOM fails the run with a message that says so (line 1), loading nothing', async () => {
    writeNdjson('bom.ndjson', [exportRow({ cost: 1.25, credits: [] })], '\n', '\ufeff');
    await setup('gcp', serviceAccount(), { billing_export_path: 'gcp/*.ndjson' });
    const r = await run('gcp/cost/billing');
    expect(r.status, why(r)).toBe('FAILED');
    expect(r.steps.find((x) => x.step_id === 'extract')?.error_message).toMatch(/bom\.ndjson, line 1: .*byte-order mark/);
  });

  it('a glob matching the NDJSON and the Parquet extract of the same day is refused (it would count every row twice)', async () => {
    const rows = [exportRow({ cost: 10, credits: [] }), exportRow({ cost: 5, credits: [{ name: 'c', amount: -1, full_name: null, id: 'c', type: 'PROMOTION' }] })];
    writeNdjson('day.ndjson', rows);
    const db = await DuckDbDatabase.open(':memory:', { externalAccess: true });
    try {
      const s = await db.session();
      const src = path.join(importDir, 'gcp', 'day.ndjson').replace(/'/g, "''");
      await s.execute(
        `COPY (SELECT * REPLACE (CAST(replace(usage_start_time, ' UTC', '+00') AS TIMESTAMPTZ) AS usage_start_time, CAST(replace(usage_end_time, ' UTC', '+00') AS TIMESTAMPTZ) AS usage_end_time, CAST(replace(export_time, ' UTC', '+00') AS TIMESTAMPTZ) AS export_time)
               FROM read_json('${src}', format = 'newline_delimited'))
         TO '${path.join(importDir, 'gcp', 'day.parquet').replace(/'/g, "''")}' (FORMAT parquet)`,
      );
    } finally {
      await db.close();
    }
    const res = await rt.org(key, 'POST', `/api/v1/integrations/${ORG}/gcp/setup`, { credential: serviceAccount(), config: { billing_export_path: 'gcp/day.*' } });
    expect(res.statusCode, res.body).toBe(400);
    expect(res.json().detail).toMatch(/same extract in two formats/);
  });

  it('lines that are not export rows (`null`, `{}`, a row without usage_start_time) fail the run naming file and line', async () => {
    writeNdjson('a.ndjson', [exportRow({ cost: 1, credits: [] }), 'null', '{}', (({ usage_start_time: _u, ...r }) => r)(exportRow({ cost: 100, credits: [] }))]);
    await setup('gcp', serviceAccount(), { billing_export_path: 'gcp/*.ndjson' });
    const r = await run('gcp/cost/billing');
    expect(r.status, why(r)).toBe('FAILED');
    expect(r.steps.find((s) => s.step_id === 'extract')?.error_message).toMatch(/a\.ndjson, line 2/);
  });

  it('money: a NUMERIC amount given as a string keeps every digit', async () => {
    // 17 significant digits; BigQuery writes NUMERIC/BIGNUMERIC as JSON strings. DECIMAL(38,9) holds it exactly.
    writeNdjson('a.ndjson', [exportRow({ cost: '12345678.123456789', credits: [{ name: 'c', amount: '-0.000000001', full_name: null, id: 'c', type: 'PROMOTION' }] })]);
    await setup('gcp', serviceAccount(), { billing_export_path: 'gcp/*.ndjson' });
    const r = await run('gcp/cost/billing');
    expect(r.status, why(r)).toBe('SUCCESS');
    const [raw] = await rt.warehouse.query<{ c: string }>(`SELECT CAST(cost AS VARCHAR) AS c FROM "${ORG}".gcp_billing_daily_raw`);
    expect(raw?.c).toBe('12345678.123456789');
  });

  it('a gzip-compressed extract (BigQuery GZIP compression, .json.gz) is accepted', async () => {
    const zlib = await import('node:zlib');
    fs.writeFileSync(path.join(importDir, 'gcp', 'a.json.gz'), zlib.gzipSync(`${JSON.stringify(exportRow({ cost: 2, credits: [] }))}\n`));
    const res = await rt.org(key, 'POST', `/api/v1/integrations/${ORG}/gcp/setup`, { credential: serviceAccount(), config: { billing_export_path: 'gcp/*' } });
    expect(res.statusCode, res.body).toBe(201);
  });

  it('an ISO 8601 timestamp without seconds (2026-11-20T03:00Z) is read', async () => {
    writeNdjson('a.ndjson', [exportRow({ cost: 2, credits: [], usage_start_time: `${DAY}T03:00Z`, usage_end_time: `${DAY}T04:00Z` })]);
    await setup('gcp', serviceAccount(), { billing_export_path: 'gcp/*.ndjson' });
    const r = await run('gcp/cost/billing');
    expect(r.status, why(r)).toBe('SUCCESS');
  });
});

// =============================================================================================
// OpenAI
// =============================================================================================

describe('openai/cost/usage_cost', () => {
  it('amount.value with more than 9 decimals (the Costs API returns floats) is stored at 9 places and reconciles', async () => {
    handler = (r) => (r.path === '/v1/organization/costs' ? { body: { object: 'page', data: [openAiBucket(DAY, [openAiCost(0.13080438340307526), openAiCost(0.0000000001, { line_item: 'gpt-4o, output' })])], has_more: false, next_page: null } } : undefined);
    await setup('openai', OPENAI_KEY);
    const r = await run('openai/cost/usage_cost');
    expect(r.status, why(r)).toBe('SUCCESS');
    expect(Number((await focusSums('openai')).USD).toFixed(2)).toBe('0.13');
  });

  it('buckets outside the requested day are not stored under it (OpenAI and Anthropic)', async () => {
    // A provider (or proxy) answering more than the window asked for: the day's bucket and the next one.
    handler = (r) => {
      if (r.path === '/v1/organization/costs') return { body: { object: 'page', data: [openAiBucket(DAY, [openAiCost('1.5')]), openAiBucket(NEXT, [openAiCost('100')])], has_more: false, next_page: null } };
      if (r.path === '/v1/organizations/cost_report') return { body: { data: [anthropicBucket(DAY, [anthropicCost('150')]), anthropicBucket(NEXT, [anthropicCost('10000')])], has_more: false, next_page: null } };
      return undefined;
    };
    await setup('openai', OPENAI_KEY);
    await setup('anthropic', ANTHROPIC_KEY);
    const o = await run('openai/cost/usage_cost');
    const a = await run('anthropic/cost/usage_cost');
    // Either drop what lies outside [DAY, DAY+1) or fail; never file DAY+1's spend under DAY.
    const outside = await rt.warehouse.query<{ n: number }>(
      `SELECT COUNT(*)::INT AS n FROM "${ORG}".cost_focus_daily WHERE ChargePeriodStart < TIMESTAMPTZ '${DAY} 00:00:00+00' OR ChargePeriodEnd > TIMESTAMPTZ '${NEXT} 00:00:00+00'`,
    );
    const got = { openai: [o.status, await focusSums('openai')], anthropic: [a.status, await focusSums('anthropic')], focus_rows_outside_day: outside[0]?.n };
    const ok = (s: unknown[]): boolean => s[0] !== 'SUCCESS' || JSON.stringify(s[1]) === JSON.stringify({ USD: '1.5' });
    expect(ok(got.openai) && ok(got.anthropic), JSON.stringify(got)).toBe(true);
    expect(outside[0]?.n ?? 0).toBe(0);
  });

  it('holds: next_page within one day keeps the window, fields added/missing, value as string, lower-case currency, negative amounts, tiny/huge values', async () => {
    handler = (r) => {
      if (r.path !== '/v1/organization/costs') return undefined;
      const page = r.query.get('page');
      if (page === null)
        return { body: { object: 'page', data: [openAiBucket(DAY, [openAiCost('123456789.123456789', { brand_new: { x: 1 } }), openAiCost(1e-7, { line_item: 'gpt-4o, cached', quantity: undefined, quantity_unit: undefined, project_id: undefined })])], has_more: true, next_page: 'page_2', extra_envelope: 1 } };
      return { body: { object: 'page', data: [openAiBucket(DAY, [openAiCost('-2.5', { line_item: 'credit' })])], has_more: false, next_page: null } };
    };
    await setup('openai', OPENAI_KEY);
    const r = await run('openai/cost/usage_cost');
    expect(r.status, why(r)).toBe('SUCCESS');
    const costReqs = requests.filter((q) => q.path === '/v1/organization/costs');
    expect(costReqs.length).toBe(2);
    for (const q of costReqs) expect([q.query.get('start_time'), q.query.get('end_time')]).toEqual([String(unix(DAY)), String(unix(NEXT))]);
    expect(costReqs[1]?.query.get('page')).toBe('page_2');
    expect(await focusSums('openai')).toEqual({ USD: '123456786.623456889' });
    // Re-run: no duplicates.
    expect((await run('openai/cost/usage_cost')).status).toBe('SUCCESS');
    const [n] = await rt.warehouse.query<{ n: number }>(`SELECT COUNT(*)::INT AS n FROM "${ORG}".cost_focus_daily`);
    expect(n?.n).toBe(3);
  });

  it('a negative cost line (credit/refund) is a Credit in FOCUS', async () => {
    handler = (r) => (r.path === '/v1/organization/costs' ? { body: { object: 'page', data: [openAiBucket(DAY, [openAiCost('5'), openAiCost('-2.5', { line_item: 'credit grant', quantity: null, quantity_unit: null })])], has_more: false, next_page: null } } : undefined);
    await setup('openai', OPENAI_KEY);
    expect((await run('openai/cost/usage_cost')).status).toBe('SUCCESS');
    const rows = await rt.warehouse.query<{ cat: string }>(`SELECT ChargeCategory AS cat FROM "${ORG}".cost_focus_daily WHERE BilledCost < 0`);
    expect(rows.map((x) => x.cat)).toEqual(['Credit']);
  });

  it('a provider answer that echoes the key into a count field never puts the key into the run row', async () => {
    handler = (r) =>
      r.path === '/v1/organization/usage/completions'
        ? { body: { object: 'page', data: [openAiBucket(DAY, [{ object: 'organization.usage.completions.result', input_tokens: String(r.headers.authorization ?? '').replace('Bearer ', ''), output_tokens: 1, num_model_requests: 1 }])], has_more: false, next_page: null } }
        : undefined;
    await setup('openai', OPENAI_KEY);
    const r = await run('openai/cost/usage_cost');
    expect(r.status).toBe('FAILED');
    const list = await rt.org(key, 'GET', '/api/v1/pipelines/runs');
    const text = JSON.stringify(r) + list.body;
    expect(text).not.toContain(OPENAI_KEY.slice(9, 30));
  });

  it('holds (tenant wall): a run that needs an integration the org lacks fails clearly; another org cannot use or see it', async () => {
    const r = await run('openai/cost/usage_cost');
    expect(r.status).toBe('FAILED');
    expect(JSON.stringify(r)).toMatch(/no openai integration/);
    await setup('openai', OPENAI_KEY);
    const other = (await rt.onboard('globex', 'SCALE')).api_key;
    expect((await rt.org(other, 'GET', `/api/v1/integrations/${ORG}/openai`)).statusCode).toBe(404);
    const r2 = await run('openai/cost/usage_cost', DAY, other, 'globex');
    expect(r2.status).toBe('FAILED');
    expect(JSON.stringify(r2)).toMatch(/no openai integration/);
  });
});

// =============================================================================================
// Anthropic
// =============================================================================================

describe('anthropic/cost/usage_cost', () => {
  it('cent amounts with more than 7 decimals ("0.0000000001", "123.78912345") convert and reconcile', async () => {
    handler = (r) =>
      r.path === '/v1/organizations/cost_report'
        ? { body: { data: [anthropicBucket(DAY, [anthropicCost('123.78912345'), anthropicCost('0.0000000001', { description: 'Web Search', cost_type: 'web_search', model: null, token_type: null })])], has_more: false, next_page: null } }
        : undefined;
    await setup('anthropic', ANTHROPIC_KEY);
    const r = await run('anthropic/cost/usage_cost');
    expect(r.status, why(r)).toBe('SUCCESS');
    expect(Number((await focusSums('anthropic')).USD).toFixed(2)).toBe('1.24');
  });

  it('holds: amounts as numbers, lower-case currency, negative cents, unknown fields, missing optional fields, two pages', async () => {
    handler = (r) => {
      if (r.path !== '/v1/organizations/cost_report') return undefined;
      if (r.query.get('page') === null) return { body: { data: [anthropicBucket(DAY, [anthropicCost(250, { currency: 'usd', brand_new: [1] }), { amount: '-50' }])], has_more: true, next_page: 'p2' } };
      return { body: { data: [anthropicBucket(DAY, [anthropicCost('12.5')])], has_more: false, next_page: null } };
    };
    await setup('anthropic', ANTHROPIC_KEY);
    const r = await run('anthropic/cost/usage_cost');
    expect(r.status, why(r)).toBe('SUCCESS');
    expect(await focusSums('anthropic')).toEqual({ USD: '2.125' });
    const reqs = requests.filter((q) => q.path === '/v1/organizations/cost_report');
    for (const q of reqs) expect([q.query.get('starting_at'), q.query.get('ending_at')]).toEqual([`${DAY}T00:00:00.000Z`, `${NEXT}T00:00:00.000Z`]);
  });
});

// =============================================================================================
// FOCUS conformance across providers
// =============================================================================================

describe('cost_focus_daily — FOCUS 1.2 rules', () => {
  it('Usage rows of Anthropic and DeepSeek have PricingQuantity/PricingUnit (FOCUS: not null for non-correction Usage rows)', async () => {
    handler = (r) => {
      if (r.path === '/v1/organizations/cost_report') return { body: { data: [anthropicBucket(DAY, [anthropicCost('150')])], has_more: false, next_page: null } };
      if (r.path === '/v1/organization/costs') return { body: { object: 'page', data: [openAiBucket(DAY, [openAiCost('1.5')])], has_more: false, next_page: null } };
      return undefined;
    };
    await setup('anthropic', ANTHROPIC_KEY);
    await setup('openai', OPENAI_KEY);
    await setup('deepseek', DEEPSEEK_KEY);
    expect((await run('anthropic/cost/usage_cost')).status).toBe('SUCCESS');
    expect((await run('openai/cost/usage_cost')).status).toBe('SUCCESS');
    const today = new Date().toISOString().slice(0, 10);
    const yesterday = new Date(Date.now() - 86_400_000).toISOString().slice(0, 10);
    const inner = handler;
    handler = (r) => (r.path === '/user/balance' ? { body: { is_available: true, balance_infos: [{ currency: 'USD', total_balance: '90', granted_balance: '0', topped_up_balance: '90' }] } } : inner(r));
    expect((await run('deepseek/cost/balance', today)).status).toBe('SUCCESS');
    await rt.warehouse.query(`UPDATE "${ORG}".deepseek_balance_daily SET usage_date = CAST($1 AS DATE)`, [yesterday]);
    handler = (r) => (r.path === '/user/balance' ? { body: { is_available: true, balance_infos: [{ currency: 'USD', total_balance: '80', granted_balance: '0', topped_up_balance: '80' }] } } : inner(r));
    expect((await run('deepseek/cost/balance', today)).status).toBe('SUCCESS');
    const bad = await rt.warehouse.query<{ p: string; n: number }>(
      `SELECT x_ProviderCode AS p, COUNT(*)::INT AS n FROM "${ORG}".cost_focus_daily
       WHERE ChargeCategory = 'Usage' AND ChargeClass IS NULL AND (PricingQuantity IS NULL OR PricingUnit IS NULL) GROUP BY 1 ORDER BY 1`,
    );
    expect(bad).toEqual([]);
  });

  it('holds: mandatory columns non-null, allowed values, exclusive period ends; one provider re-run leaves the others alone', async () => {
    writeNdjson('a.ndjson', [exportRow({ cost: 1, credits: [] }), exportRow({ cost_type: 'adjustment', cost: -0.5, credits: [], adjustment_info: { id: 'a', description: 'd', mode: 'MANUAL_ADJUSTMENT', type: 'GOODWILL' } })]);
    await setup('gcp', serviceAccount(), { billing_export_path: 'gcp/*.ndjson' });
    handler = (r) => (r.path === '/v1/organization/costs' ? { body: { object: 'page', data: [openAiBucket(DAY, [openAiCost('1.5')])], has_more: false, next_page: null } } : undefined);
    await setup('openai', OPENAI_KEY);
    expect((await run('gcp/cost/billing')).status).toBe('SUCCESS');
    expect((await run('openai/cost/usage_cost')).status).toBe('SUCCESS');
    const before = await focusSums('gcp');
    handler = (r) => (r.path === '/v1/organization/costs' ? { body: { object: 'page', data: [openAiBucket(DAY, [openAiCost('2')])], has_more: false, next_page: null } } : undefined);
    expect((await run('openai/cost/usage_cost')).status).toBe('SUCCESS');
    expect(await focusSums('gcp')).toEqual(before);
    expect(await focusSums('openai')).toEqual({ USD: '2' });
    const [v] = await rt.warehouse.query<Record<string, number>>(
      `SELECT
         COUNT(*) FILTER (WHERE ChargeCategory NOT IN ('Usage','Purchase','Tax','Credit','Adjustment'))::INT AS bad_category,
         COUNT(*) FILTER (WHERE ChargeFrequency IS NULL OR ChargeFrequency NOT IN ('One-Time','Recurring','Usage-Based'))::INT AS bad_frequency,
         COUNT(*) FILTER (WHERE ServiceCategory NOT IN ('AI and Machine Learning','Analytics','Business Applications','Compute','Databases','Developer Tools','Multicloud','Identity','Integration','Internet of Things','Management and Governance','Media','Migration','Mobile','Networking','Security','Storage','Web','Other'))::INT AS bad_service_category,
         COUNT(*) FILTER (WHERE ChargePeriodEnd <= ChargePeriodStart OR BillingPeriodEnd <= BillingPeriodStart)::INT AS bad_periods,
         COUNT(*) FILTER (WHERE ChargeClass IS NOT NULL AND ChargeClass <> 'Correction')::INT AS bad_class,
         COUNT(*) FILTER (WHERE NOT regexp_full_match(BillingCurrency, '[A-Z]{3}'))::INT AS bad_currency
       FROM "${ORG}".cost_focus_daily`,
    );
    expect(v).toEqual({ bad_category: 0, bad_frequency: 0, bad_service_category: 0, bad_periods: 0, bad_class: 0, bad_currency: 0 });
  });
});

// =============================================================================================
// DeepSeek
// =============================================================================================

describe('deepseek/cost/balance', () => {
  it('holds: first snapshot, two currencies with a top-up in one, same-day re-runs', async () => {
    const today = new Date().toISOString().slice(0, 10);
    const yesterday = new Date(Date.now() - 86_400_000).toISOString().slice(0, 10);
    let infos: unknown[] = [
      { currency: 'CNY', total_balance: '110.00', granted_balance: '10.00', topped_up_balance: '100.00' },
      { currency: 'usd', total_balance: '5.00', granted_balance: '0.00', topped_up_balance: '5.00' },
    ];
    handler = (r) => (r.path === '/user/balance' ? { body: { is_available: true, balance_infos: infos, new_field: 1 } } : undefined);
    await setup('deepseek', DEEPSEEK_KEY);
    const first = await run('deepseek/cost/balance', today);
    expect(first.status, why(first)).toBe('SUCCESS');
    expect(await focusSums('deepseek', today)).toEqual({});
    // Move today's snapshot to yesterday, as yesterday's run would have left it.
    await rt.warehouse.query(`UPDATE "${ORG}".deepseek_balance_daily SET usage_date = CAST($1 AS DATE)`, [yesterday]);
    // CNY: 3.5 of the grant and 1.25 of the top-up spent. USD: 1 spent, then 20 topped up.
    infos = [
      { currency: 'CNY', total_balance: '105.25', granted_balance: '6.50', topped_up_balance: '98.75' },
      { currency: 'USD', total_balance: '24.00', granted_balance: '0.00', topped_up_balance: '24.00' },
    ];
    for (let i = 0; i < 2; i++) {
      const r = await run('deepseek/cost/balance', today);
      expect(r.status, why(r)).toBe('SUCCESS');
    }
    expect(await focusSums('deepseek', today)).toEqual({ CNY: '4.75', USD: '0' });
    const rows = await rt.warehouse.query<{ c: string; lower: boolean }>(`SELECT currency AS c, spend_is_lower_bound AS lower FROM "${ORG}".deepseek_cost_daily ORDER BY 1`);
    expect(rows).toEqual([{ c: 'CNY', lower: false }, { c: 'USD', lower: true }]);
    const [n] = await rt.warehouse.query<{ n: number }>(`SELECT COUNT(*)::INT AS n FROM "${ORG}".deepseek_balance_daily WHERE usage_date = CAST($1 AS DATE)`, [today]);
    expect(n?.n).toBe(2);
  });
});

// =============================================================================================
// Idempotency under concurrency
// =============================================================================================

describe('re-runs of one day', () => {
  it('concurrent runs of the same pipeline for a day not loaded yet never duplicate its rows', async () => {
    const dayOf = (q: URLSearchParams): string => new Date(Number(q.get('start_time')) * 1000).toISOString().slice(0, 10);
    handler = (r) => (r.path === '/v1/organization/costs' ? { body: { object: 'page', data: [openAiBucket(dayOf(r.query), [openAiCost('1.5')])], has_more: false, next_page: null } } : undefined);
    await setup('openai', OPENAI_KEY);
    expect((await run('openai/cost/usage_cost', DAY)).status).toBe('SUCCESS'); // tables exist from here on
    const seen: Record<string, { runs: string[]; focus: Record<string, string>; raw: number }> = {};
    for (const day of ['2026-11-21', '2026-11-22', '2026-11-23', '2026-11-24', '2026-11-25']) {
      // E.g. the daily schedule and a manual trigger (or an overlapping backfill) at the same time.
      const runs = await Promise.all([1, 2, 3, 4].map(() => run('openai/cost/usage_cost', day)));
      const [raw] = await rt.warehouse.query<{ n: number }>(`SELECT COUNT(*)::INT AS n FROM "${ORG}".openai_cost_daily WHERE usage_date = CAST($1 AS DATE)`, [day]);
      seen[day] = { runs: runs.map((x) => x.status), focus: await focusSums('openai', day), raw: raw?.n ?? -1 };
    }
    for (const day of Object.keys(seen)) expect(seen[day], JSON.stringify(seen)).toMatchObject({ focus: { USD: '1.5' }, raw: 1 });
  });
});

describe('gcp/cost/billing — bad rows', () => {
  it('a row without currency fails naming file and line; a usage amount beyond DECIMAL(38,9) fails naming the file', async () => {
    const messages: (string | null | undefined)[] = [];
    // (The NOT NULL failure is also retried after 5 s by the step's retry policy, though it can never succeed.)
    for (const bad of [exportRow({ currency: null, credits: [] }), exportRow({ cost: 1, credits: [], usage: { amount: 1.5e29, unit: 'byte-seconds' } })]) {
      writeNdjson('a.ndjson', [exportRow({ cost: 1, credits: [] }), bad]);
      if (messages.length === 0) await setup('gcp', serviceAccount(), { billing_export_path: 'gcp/*.ndjson' });
      const r = await run('gcp/cost/billing');
      expect(r.status).toBe('FAILED');
      messages.push(r.steps.find((s) => s.step_id === 'extract')?.error_message);
    }
    expect(messages[0], JSON.stringify(messages)).toMatch(/a\.ndjson, line 2: the row has no currency/);
    expect(messages[1], JSON.stringify(messages)).toMatch(/gcp\/a\.ndjson.*DECIMAL/);
  });
});
