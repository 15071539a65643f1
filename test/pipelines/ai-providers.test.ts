import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { expectedAnthropicCostTotal, startAnthropicServer, type AnthropicServer, type CostReportRow } from '../helpers/providers/anthropic-server.js';
import { balanceInfo, startDeepSeekServer, type DeepSeekServer } from '../helpers/providers/deepseek-server.js';
import { expectedOpenAiCostTotal, startOpenAiServer, type CostRow, type OpenAiServer } from '../helpers/providers/openai-server.js';
import { startRuntime, type TestRuntime } from '../helpers/runtime.js';

/**
 * The OpenAI, Anthropic and DeepSeek pipelines end to end against loopback servers that answer
 * like the providers' documented APIs: totals to the cent, re-runs, and the failures providers
 * produce (rejected keys, 429 with Retry-After, malformed answers, endless pagination).
 */
const ORG = 'acme';
const DAY = '2026-11-20';
const OPENAI_KEY = 'sk-admin-0123456789abcdefghijKLMN';
const ANTHROPIC_KEY = 'sk-ant-admin01-0123456789abcdefghij-OPQR';
const DEEPSEEK_KEY = 'sk-deepseek0123456789abcdefXYZW';

const OPENAI_COSTS: CostRow[] = [
      { day: DAY, amount: '0.1', line_item: 'gpt-4o-2024-08-06, input', project_id: 'proj_a', quantity: 40000, quantity_unit: 'tokens' },
      { day: DAY, amount: '0.2', line_item: 'gpt-4o-2024-08-06, output', project_id: 'proj_a', quantity: 20000, quantity_unit: 'tokens' },
      { day: DAY, amount: '1.000000001', line_item: 'gpt-4o-mini, input', project_id: 'proj_b' },
      { day: '2026-11-21', amount: '50', line_item: 'gpt-4o-mini, input', project_id: 'proj_b' },
    ];
const ANTHROPIC_COSTS: CostReportRow[] = [
      { day: DAY, amount: '123.78912', description: 'Claude Sonnet 4.5 Usage - Input Tokens', model: 'claude-sonnet-4-5-20250929', token_type: 'uncached_input_tokens', cost_type: 'tokens', service_tier: 'standard', workspace_id: 'wrkspc_1' },
      { day: DAY, amount: '0.1', description: 'Web Search', cost_type: 'web_search', workspace_id: null },
      { day: DAY, amount: '45', description: 'Claude Sonnet 4.5 Usage - Output Tokens', model: 'claude-sonnet-4-5-20250929', token_type: 'output_tokens', cost_type: 'tokens', service_tier: 'batch', workspace_id: 'wrkspc_1' },
    ];

let rt: TestRuntime;
let key: string;
let openai: OpenAiServer;
let anthropic: AnthropicServer;
let deepseek: DeepSeekServer;

interface Step {
  step_id: string;
  status: string;
  error_message: string | null;
}
interface Run {
  status: string;
  error_message: string | null;
  steps: Step[];
  dq_results: { check_name: string; status: string; observed_value: string | null; expected_value: string | null }[];
}

beforeEach(async () => {
  openai = await startOpenAiServer({
    adminKeys: [OPENAI_KEY],
    costs: OPENAI_COSTS,
    usage: [
      { day: DAY, input_tokens: 40000, output_tokens: 20000, num_model_requests: 12, model: 'gpt-4o-2024-08-06', project_id: 'proj_a' },
      { day: DAY, input_tokens: 500, output_tokens: 10, num_model_requests: 2, model: 'gpt-4o-mini', project_id: 'proj_b', input_cached_tokens: 100 },
    ],
  });
  anthropic = await startAnthropicServer({
    adminKeys: [ANTHROPIC_KEY],
    costs: ANTHROPIC_COSTS,
    usage: [
      { day: DAY, uncached_input_tokens: 1000, output_tokens: 500, model: 'claude-sonnet-4-5-20250929', service_tier: 'standard', workspace_id: 'wrkspc_1' },
      { day: DAY, uncached_input_tokens: 1_000_000, output_tokens: 100_000, cache_read_input_tokens: 10_000, model: 'claude-sonnet-4-5-20250929', service_tier: 'priority', workspace_id: 'wrkspc_1' },
    ],
  });
  deepseek = await startDeepSeekServer({ keys: [DEEPSEEK_KEY], balances: [balanceInfo('USD', '10.00', '90.00')] });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'convergence-ai-'));
  fs.mkdirSync(path.join(dir, 'import'));
  rt = await startRuntime({ OPENAI_BASE_URL: openai.url, ANTHROPIC_BASE_URL: anthropic.url, DEEPSEEK_BASE_URL: deepseek.url, IMPORT_DIR: path.join(dir, 'import') }, dir);
  await rt.bootstrap();
  key = (await rt.onboard(ORG, 'SCALE')).api_key;
});
afterEach(async () => {
  await rt.close();
  await Promise.all([openai.close(), anthropic.close(), deepseek.close()]);
});

async function setup(provider: string, credential: string, extra: Record<string, unknown> = {}): Promise<void> {
  const res = await rt.org(key, 'POST', `/api/v1/integrations/${ORG}/${provider}/setup`, { credential, ...extra });
  expect(res.statusCode, res.body).toBe(201);
}

async function run(pipeline: string, date = DAY): Promise<Run> {
  const res = await rt.org(key, 'POST', `/api/v1/pipelines/run/${ORG}/${pipeline}?wait=true`, { date });
  expect(res.statusCode, res.body).toBe(200);
  return res.json<Run>();
}

const describeSteps = (r: Run): string => JSON.stringify(r.steps.map((s) => [s.step_id, s.status, s.error_message]));

async function focusTotal(provider: string, opts: { estimated?: boolean } = {}): Promise<Record<string, string>> {
  const rows = await rt.warehouse.query<{ c: string; t: string }>(
    `SELECT BillingCurrency AS c, CAST(SUM(BilledCost) AS VARCHAR) AS t FROM "${ORG}".cost_focus_daily
     WHERE x_ProviderCode = $1 AND x_ChargeDate = DATE '${DAY}' AND ($2::BOOLEAN IS NULL OR x_Estimated = $2) GROUP BY 1`,
    [provider, opts.estimated ?? null],
  );
  return Object.fromEntries(rows.map((r) => [r.c, r.t.replace(/\.?0+$/, '')]));
}

describe('openai/cost/usage_cost', () => {
  it('loads usage and costs of the day and reconciles FOCUS with the Costs API exactly', async () => {
    await setup('openai', OPENAI_KEY, { config: { organization_id: 'org-acme' } });
    const r = await run('openai/cost/usage_cost');
    expect(r.status, describeSteps(r)).toBe('SUCCESS');
    expect(await focusTotal('openai')).toEqual(expectedOpenAiCostTotal(OPENAI_COSTS, DAY));
    expect(await focusTotal('openai')).toEqual({ USD: '1.300000001' });
    expect(r.dq_results.every((d) => d.status === 'PASS'), JSON.stringify(r.dq_results)).toBe(true);
    const [usage] = await rt.warehouse.query<{ n: number; input: number }>(`SELECT COUNT(*)::INT AS n, SUM(input_tokens)::INT AS input FROM "${ORG}".openai_usage_daily_raw`);
    expect(usage).toEqual({ n: 2, input: 40500 });
    // The requests carried the admin key as a bearer token and grouped as documented.
    const costReq = openai.requests.find((q) => q.path === '/v1/organization/costs' && q.query.get('bucket_width') === '1d');
    expect(costReq?.headers.authorization).toBe(`Bearer ${OPENAI_KEY}`);
    expect(costReq?.query.getAll('group_by').sort()).toEqual(['line_item', 'project_id']);

    // A re-run replaces the day: same totals, no duplicates.
    const again = await run('openai/cost/usage_cost');
    expect(again.status, describeSteps(again)).toBe('SUCCESS');
    expect(await focusTotal('openai')).toEqual({ USD: '1.300000001' });
    const [count] = await rt.warehouse.query<{ n: number }>(`SELECT COUNT(*)::INT AS n FROM "${ORG}".openai_cost_daily`);
    expect(count?.n).toBe(3);
  });

  it('waits out a 429 with Retry-After and succeeds', async () => {
    await setup('openai', OPENAI_KEY);
    openai.failNext({ path: '/v1/organization/costs', status: 429, retryAfter: 0 }, { path: '/v1/organization/costs', status: 503 });
    const r = await run('openai/cost/usage_cost');
    expect(r.status, describeSteps(r)).toBe('SUCCESS');
    expect(await focusTotal('openai')).toEqual({ USD: '1.300000001' });
  });

  it('fails clearly, without the key, when the stored key is rejected', async () => {
    await setup('openai', 'sk-admin-revoked-0123456789abcdef', { skip_validation: true });
    const r = await run('openai/cost/usage_cost');
    expect(r.status).toBe('FAILED');
    const failed = r.steps.find((s) => s.step_id === 'cost');
    expect(failed?.status).toBe('FAILED');
    expect(failed?.error_message).toMatch(/401.*set it up again/s);
    expect(JSON.stringify(r)).not.toContain('revoked-0123456789');
  });

  it('gives up on pagination that never ends', async () => {
    const endless = await startOpenAiServer({ adminKeys: [OPENAI_KEY], costs: OPENAI_COSTS, endlessPagination: true });
    const rt2 = await startRuntime({ OPENAI_BASE_URL: endless.url });
    try {
      await rt2.bootstrap();
      const k = (await rt2.onboard(ORG, 'SCALE')).api_key;
      expect((await rt2.org(k, 'POST', `/api/v1/integrations/${ORG}/openai/setup`, { credential: OPENAI_KEY })).statusCode).toBe(201);
      const res = await rt2.org(k, 'POST', `/api/v1/pipelines/run/${ORG}/openai/cost/usage_cost?wait=true`, { date: DAY });
      const r = res.json<Run>();
      expect(r.status).toBe('FAILED');
      expect(r.steps.find((s) => s.step_id === 'cost')?.error_message).toMatch(/still has_more after \d+ pages/);
    } finally {
      await rt2.close();
      await endless.close();
    }
  });

  it('fails the step on a malformed answer and loads nothing', async () => {
    await setup('openai', OPENAI_KEY);
    openai.failNext({ path: '/v1/organization/costs', kind: 'malformed-json' }, { path: '/v1/organization/costs', kind: 'malformed-json' }, { path: '/v1/organization/costs', kind: 'malformed-json' });
    const bad = await run('openai/cost/usage_cost');
    expect(bad.status).toBe('FAILED');
    expect(bad.steps.find((s) => s.step_id === 'cost')?.error_message).toMatch(/not JSON/);
    const [n] = await rt.warehouse.query<{ n: number }>(`SELECT COUNT(*)::INT AS n FROM "${ORG}".cost_focus_daily`).catch(() => [{ n: 0 }]);
    expect(n?.n ?? 0).toBe(0);
  });
});

describe('anthropic/cost/usage_cost', () => {
  it('converts cents exactly, estimates the priority tier, and reconciles with the cost report', async () => {
    await setup('anthropic', ANTHROPIC_KEY);
    const r = await run('anthropic/cost/usage_cost');
    expect(r.status, describeSteps(r)).toBe('SUCCESS');
    expect(await focusTotal('anthropic', { estimated: false })).toEqual(expectedAnthropicCostTotal(ANTHROPIC_COSTS, DAY));
    expect(await focusTotal('anthropic', { estimated: false })).toEqual({ USD: '1.6888912' });
    // Priority tier: 1.01M input tokens is over the 200k long-context threshold, so the whole request
    // is priced at the tier: 1M input at $6 + 10k cache reads at $0.60 + 100k output at $22.50 (per 1M).
    expect(await focusTotal('anthropic', { estimated: true })).toEqual({ USD: '8.256' });
    const req = anthropic.requests.find((q) => q.path === '/v1/organizations/cost_report');
    expect(req?.headers['x-api-key']).toBe(ANTHROPIC_KEY);
    expect(req?.headers['anthropic-version']).toBe('2023-06-01');
  });
});

describe('deepseek/cost/balance', () => {
  it('snapshots today and derives spend from the previous snapshot', async () => {
    await setup('deepseek', DEEPSEEK_KEY);
    const today = new Date().toISOString().slice(0, 10);
    const yesterday = new Date(Date.now() - 86_400_000).toISOString().slice(0, 10);
    const first = await run('deepseek/cost/balance', today);
    expect(first.status, describeSteps(first)).toBe('SUCCESS');
    // A snapshot from yesterday, as yesterday's run would have left it.
    await rt.warehouse.query(
      `INSERT INTO "${ORG}".deepseek_balance_daily (usage_date, currency, total_balance, granted_balance, topped_up_balance, is_available, captured_at)
       VALUES (CAST($1 AS DATE), 'USD', 112.5, 12.5, 100, true, now() - INTERVAL 1 DAY)`,
      [yesterday],
    );
    const second = await run('deepseek/cost/balance', today);
    expect(second.status, describeSteps(second)).toBe('SUCCESS');
    const [spend] = await rt.warehouse.query<{ spend: string; lower: boolean }>(`SELECT CAST(spend AS VARCHAR) AS spend, spend_is_lower_bound AS lower FROM "${ORG}".deepseek_cost_daily`);
    expect(Number(spend?.spend)).toBe(12.5);
    expect(spend?.lower).toBe(false);
  });

  it('refuses a day other than today', async () => {
    await setup('deepseek', DEEPSEEK_KEY);
    const r = await run('deepseek/cost/balance', '2026-01-01');
    expect(r.status).toBe('FAILED');
    expect(r.steps.find((s) => s.step_id === 'balance')?.error_message).toMatch(/current balance/);
  });
});

describe('deepseek/cost/usage', () => {
  it('prices the day of the usage log with the price table (org overrides win)', async () => {
    const importDir = path.join(rt.dir, 'import');
    fs.mkdirSync(path.join(importDir, ORG), { recursive: true });
    const t = Date.parse(`${DAY}T10:00:00Z`) / 1000;
    const lines = [
      { id: 'a', created: t, model: 'deepseek-chat', usage: { prompt_tokens: 1_000_000, completion_tokens: 1_000_000, prompt_cache_hit_tokens: 0, prompt_cache_miss_tokens: 1_000_000 } },
      { id: 'b', created: t + 60, model: 'deepseek-chat', usage: { prompt_tokens: 2_000_000, completion_tokens: 0, prompt_cache_hit_tokens: 2_000_000, prompt_cache_miss_tokens: 0 }, x_unknown: true },
      { id: 'c', created: t - 86_400, model: 'deepseek-chat', usage: { prompt_tokens: 5, completion_tokens: 5 } },
      { id: 'd', created: t, model: 'deepseek-mystery', usage: { prompt_tokens: 10, completion_tokens: 10 } },
    ];
    fs.writeFileSync(path.join(importDir, ORG, 'usage.ndjson'), lines.map((l) => JSON.stringify(l)).join('\n') + '\n');
    await setup('deepseek', DEEPSEEK_KEY, { config: { usage_log_path: `${ORG}/*.ndjson` } });
    const r = await run('deepseek/cost/usage');
    expect(r.status, describeSteps(r)).toBe('SUCCESS');
    const rows = await rt.warehouse.query<{ model: string; requests: number; cost: string | null }>(
      `SELECT model, requests::INT AS requests, CAST(estimated_cost AS VARCHAR) AS cost FROM "${ORG}".deepseek_usage_daily ORDER BY model`,
    );
    // Seed prices (USD per 1M): deepseek-chat input 0.135, cache read 0.035, output 0.55 → 0.135 + 0.55 + 2 × 0.035.
    expect(rows).toEqual([
      { model: 'deepseek-chat', requests: 2, cost: '0.755000000' },
      { model: 'deepseek-mystery', requests: 1, cost: null },
    ]);
    expect(r.dq_results.find((d) => d.check_name === 'models_priced')?.status).toBe('FAIL');

    const put = await rt.org(key, 'PUT', `/api/v1/integrations/${ORG}/deepseek/pricing`, { prices: [{ model: 'deepseek-chat', input: '0.27', cached_input: '0.07', output: '1.1' }] });
    expect(put.statusCode, put.body).toBe(200);
    expect((await run('deepseek/cost/usage')).status).toBe('SUCCESS');
    const [chat] = await rt.warehouse.query<{ cost: string }>(`SELECT CAST(estimated_cost AS VARCHAR) AS cost FROM "${ORG}".deepseek_usage_daily WHERE model = 'deepseek-chat'`);
    expect(chat?.cost).toBe('1.510000000');
  });
});
