import { afterEach, describe, expect, it } from 'vitest';
import { waitFor } from '../wait.js';
import { ANTHROPIC_COST_PATH, ANTHROPIC_USAGE_PATH, expectedAnthropicCostTotal, expectedAnthropicUsageTotals, startAnthropicServer, type CostReportRow, type MessagesUsageRow } from './anthropic-server.js';
import { balanceInfo, expectedDeepSeekSpend, expectedDeepSeekTotals, startDeepSeekServer } from './deepseek-server.js';
import { HTML_BODY, MALFORMED_BODY, dayStartSeconds, type FakeServer } from './fake-server.js';
import { OPENAI_COSTS_PATH, OPENAI_USAGE_PATH, expectedOpenAiCostTotal, expectedOpenAiUsageTotals, startOpenAiServer, type CompletionsUsageRow, type CostRow } from './openai-server.js';

type Json = Record<string, unknown> & { data: Bucket[]; has_more: boolean; next_page: string | null };
type Bucket = Record<string, unknown> & { results: Record<string, unknown>[] };

const open: FakeServer[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((s) => s.close()));
});
async function track<S extends FakeServer>(p: Promise<S>): Promise<S> {
  const s = await p;
  open.push(s);
  return s;
}
async function get(url: string, headers: Record<string, string> = {}): Promise<{ status: number; body: Json; headers: Headers }> {
  const res = await fetch(url, { headers });
  return { status: res.status, body: (await res.json()) as Json, headers: res.headers };
}

const ADMIN = 'sk-admin-test-0001';
const PROJECT = 'sk-proj-test-0002';
const bearer = (k: string): Record<string, string> => ({ authorization: `Bearer ${k}` });
const AUG1 = dayStartSeconds('2025-08-01');
const COSTS: CostRow[] = [
  { day: '2025-08-01', amount: '0.1', project_id: 'proj_a', line_item: 'gpt-4o, input', quantity: 1000, quantity_unit: 'tokens' },
  { day: '2025-08-01', amount: '0.2', project_id: 'proj_a', line_item: 'gpt-4o, output', quantity: 200, quantity_unit: 'tokens' },
  { day: '2025-08-01', amount: '0.05', project_id: 'proj_b', line_item: 'gpt-4o, input', quantity: 500, quantity_unit: 'tokens' },
  { day: '2025-08-03', amount: '1.005', project_id: 'proj_b', line_item: 'o3, input' },
];
const USAGE: CompletionsUsageRow[] = [
  { day: '2025-08-01', model: 'gpt-4o', project_id: 'proj_a', input_tokens: 1000, output_tokens: 200, input_cached_tokens: 100, num_model_requests: 3 },
  { day: '2025-08-01', model: 'gpt-4o-mini', project_id: 'proj_a', input_tokens: 50, output_tokens: 5, num_model_requests: 1, batch: true },
];

describe('OpenAI fake', () => {
  const start = (o: Partial<Parameters<typeof startOpenAiServer>[0]> = {}) => track(startOpenAiServer({ adminKeys: [ADMIN], projectKeys: [PROJECT], costs: COSTS, usage: USAGE, ...o }));
  const costsUrl = (s: FakeServer, q: string): string => `${s.url}${OPENAI_COSTS_PATH}?${q}`;

  it('authenticates: missing, unknown, project and admin keys', async () => {
    const s = await start();
    const q = `start_time=${AUG1}&end_time=${AUG1 + 86400}`;
    expect((await get(costsUrl(s, q))).status).toBe(401);
    const unknown = await get(costsUrl(s, q), bearer('sk-nope-123456789'));
    expect(unknown.status).toBe(401);
    expect(unknown.body).toMatchObject({ error: { type: 'invalid_request_error', code: 'invalid_api_key', param: null, message: expect.any(String) } });
    const project = await get(costsUrl(s, q), bearer(PROJECT));
    expect(project.status).toBe(401);
    expect((project.body.error as { message: string }).message).toMatch(/insufficient permissions/);
    expect((await get(`${s.url}/v1/models`, bearer(PROJECT))).body).toMatchObject({ object: 'list', data: expect.arrayContaining([expect.objectContaining({ object: 'model' })]) });
    expect((await get(`${s.url}/v1/models`, bearer(ADMIN))).status).toBe(200);
    expect((await get(`${s.url}/v1/models`, bearer('bad'))).status).toBe(401);
    expect((await get(costsUrl(s, q), bearer(ADMIN))).status).toBe(200);
  });

  it.each([
    [OPENAI_COSTS_PATH, '', 'start_time'],
    [OPENAI_COSTS_PATH, 'start_time=1.5', 'start_time'],
    [OPENAI_COSTS_PATH, 'start_time=abc', 'start_time'],
    [OPENAI_COSTS_PATH, `start_time=${AUG1}&end_time=${AUG1}`, 'end_time'],
    [OPENAI_COSTS_PATH, `start_time=${AUG1}&bucket_width=1h`, 'bucket_width'],
    [OPENAI_COSTS_PATH, `start_time=${AUG1}&limit=0`, 'limit'],
    [OPENAI_COSTS_PATH, `start_time=${AUG1}&limit=181`, 'limit'],
    [OPENAI_COSTS_PATH, `start_time=${AUG1}&group_by=model`, 'group_by'],
    [OPENAI_COSTS_PATH, `start_time=${AUG1}&page=garbage`, 'page'],
    [OPENAI_USAGE_PATH, `start_time=${AUG1}&limit=32`, 'limit'],
    [OPENAI_USAGE_PATH, `start_time=${AUG1}&bucket_width=1w`, 'bucket_width'],
    [OPENAI_USAGE_PATH, `start_time=${AUG1}&group_by=line_item`, 'group_by'],
  ])('400 on %s?%s', async (path, q, param) => {
    const s = await start();
    const r = await get(`${s.url}${path}?${q}`, bearer(ADMIN));
    expect(r.status).toBe(400);
    expect(r.body).toMatchObject({ error: { type: 'invalid_request_error', param } });
  });

  it('accepts the documented limit bounds', async () => {
    const s = await start();
    expect((await get(costsUrl(s, `start_time=${AUG1}&end_time=${AUG1 + 86400}&limit=180`), bearer(ADMIN))).status).toBe(200);
    expect((await get(`${s.url}${OPENAI_USAGE_PATH}?start_time=${AUG1}&end_time=${AUG1 + 86400}&limit=31`, bearer(ADMIN))).status).toBe(200);
  });

  it('paginates over every day exactly once, empty days included', async () => {
    const s = await start({ pageSize: 3 });
    const end = AUG1 + 10 * 86400;
    const seen: number[] = [];
    const sizes: number[] = [];
    let page: string | null = null;
    let calls = 0;
    do {
      const r = await get(costsUrl(s, `start_time=${AUG1 + 3600}&end_time=${end}&limit=31${page === null ? '' : `&page=${page}`}`), bearer(ADMIN));
      expect(r.status).toBe(200);
      expect(r.body.object).toBe('page');
      for (const b of r.body.data) {
        expect(b).toMatchObject({ object: 'bucket', end_time: (b.start_time as number) + 86400 });
        seen.push(b.start_time as number);
        sizes.push(b.results.length);
      }
      page = r.body.has_more ? r.body.next_page : null;
      if (!r.body.has_more) expect(r.body.next_page).toBeNull();
      calls++;
    } while (page !== null);
    expect(calls).toBe(4);
    expect(seen).toEqual(Array.from({ length: 10 }, (_, i) => AUG1 + i * 86400));
    expect(sizes).toEqual([1, 0, 1, 0, 0, 0, 0, 0, 0, 0]);
  });

  it('aggregates costs by group_by (repeated keys and group_by[]), nulls for ungrouped keys', async () => {
    const s = await start();
    const q = `start_time=${AUG1}&end_time=${AUG1 + 86400}`;
    const flat = (await get(costsUrl(s, q), bearer(ADMIN))).body.data[0]?.results;
    expect(flat).toEqual([{ object: 'organization.costs.result', amount: { value: 0.35, currency: 'usd' }, line_item: null, project_id: null, api_key_id: null, quantity: null, quantity_unit: null }]);
    expect(expectedOpenAiCostTotal(COSTS, '2025-08-01')).toEqual({ USD: '0.35' });
    for (const form of ['group_by=project_id&group_by=line_item', 'group_by[]=project_id&group_by[]=line_item']) {
      const res = (await get(costsUrl(s, `${q}&${form}`), bearer(ADMIN))).body.data[0]?.results;
      expect(res).toHaveLength(3);
      expect(res).toContainEqual(expect.objectContaining({ project_id: 'proj_a', line_item: 'gpt-4o, input', quantity: 1000, quantity_unit: 'tokens', amount: { value: 0.1, currency: 'usd' } }));
    }
    const byProject = (await get(costsUrl(s, `${q}&group_by=project_id&project_ids=proj_b`), bearer(ADMIN))).body.data[0]?.results;
    expect(byProject).toEqual([expect.objectContaining({ project_id: 'proj_b', line_item: null, amount: { value: 0.05, currency: 'usd' } })]);
  });

  it('serves usage results with group keys, documented and unknown extra fields', async () => {
    const s = await start();
    const base = `${s.url}${OPENAI_USAGE_PATH}?start_time=${AUG1}&end_time=${AUG1 + 2 * 86400}`;
    const flat = (await get(base, bearer(ADMIN))).body;
    expect(flat.data.map((b) => b.results.length)).toEqual([1, 0]);
    const t = expectedOpenAiUsageTotals(USAGE, '2025-08-01');
    expect(flat.data[0]?.results[0]).toMatchObject({ object: 'organization.usage.completions.result', input_tokens: t.input_tokens, output_tokens: 205, num_model_requests: 4, input_cached_tokens: 100, model: null, batch: null, project_id: null, input_cache_write_tokens: 0, x_future_field: expect.anything() });
    const byModel = (await get(`${base}&group_by=model&group_by=batch`, bearer(ADMIN))).body.data[0]?.results;
    expect(byModel?.map((r) => [r.model, r.batch, r.project_id])).toEqual([['gpt-4o', null, null], ['gpt-4o-mini', true, null]]);
  });

  it('endless pagination keeps handing out fresh cursors', async () => {
    const s = await start({ endlessPagination: true, pageSize: 1 });
    const cursors = new Set<string>();
    let page = '';
    for (let i = 0; i < 5; i++) {
      const r = await get(costsUrl(s, `start_time=${AUG1}&end_time=${AUG1 + 2 * 86400}${page === '' ? '' : `&page=${page}`}`), bearer(ADMIN));
      expect(r.body.has_more).toBe(true);
      expect(r.body.data).toHaveLength(i < 2 ? 1 : 0);
      page = r.body.next_page ?? '';
      cursors.add(page);
    }
    expect(cursors.size).toBe(5);
  });

  it('logs every request with path, parsed query and lower-case headers', async () => {
    const s = await start();
    s.setCosts([]);
    await get(costsUrl(s, `start_time=${AUG1}&group_by=project_id&group_by=line_item`), { ...bearer(ADMIN), 'X-Custom': 'v' });
    expect(s.requests).toHaveLength(1);
    const r = s.requests[0];
    expect(r).toMatchObject({ method: 'GET', path: OPENAI_COSTS_PATH });
    expect(r?.query.getAll('group_by')).toEqual(['project_id', 'line_item']);
    expect(r?.headers).toMatchObject({ authorization: `Bearer ${ADMIN}`, 'x-custom': 'v' });
  });
});

describe('faults', () => {
  it('answers each fault kind in order, filtered by path, then recovers', async () => {
    const s = await track(startOpenAiServer({ adminKeys: [ADMIN], costs: COSTS }));
    const url = `${s.url}${OPENAI_COSTS_PATH}?start_time=${AUG1}&end_time=${AUG1 + 86400}`;
    s.failNext({ status: 429, retryAfter: 2 }, { status: 500 }, { status: 502 }, { status: 503 }, { status: 401 }, { path: '/v1/models', status: 500 });
    const r429 = await get(url, bearer(ADMIN));
    expect([r429.status, r429.headers.get('retry-after')]).toEqual([429, '2']);
    expect(r429.body).toMatchObject({ error: { code: 'rate_limit_exceeded', message: expect.any(String), param: null, type: expect.any(String) } });
    for (const status of [500, 502, 503]) expect(await get(url, bearer(ADMIN))).toMatchObject({ status, body: { error: { type: 'server_error' } } });
    expect((await get(url, bearer(ADMIN))).status).toBe(401);
    expect((await get(url, bearer(ADMIN))).status).toBe(200); // the /v1/models fault is skipped
    expect(s.pendingFaults()).toBe(1);
    expect((await get(`${s.url}/v1/models`, bearer(ADMIN))).status).toBe(500);

    s.failNext({ kind: 'malformed-json' }, { kind: 'html' }, { kind: 'truncated' });
    const bad = await fetch(url, { headers: bearer(ADMIN) });
    expect([bad.status, await bad.text()]).toEqual([200, MALFORMED_BODY]);
    const html = await fetch(url, { headers: bearer(ADMIN) });
    expect([html.status, html.headers.get('content-type'), await html.text()]).toEqual([200, 'text/html; charset=utf-8', HTML_BODY]);
    const cut = await fetch(url, { headers: bearer(ADMIN) });
    expect(cut.status).toBe(200);
    await expect(cut.text()).rejects.toThrow();

    s.failNext({ kind: 'hang' });
    await expect(fetch(url, { headers: bearer(ADMIN), signal: AbortSignal.timeout(200) })).rejects.toThrow();
    expect((await get(url, bearer(ADMIN))).status).toBe(200);
    s.failNext({ kind: 'hang' });
    const before = s.requests.length;
    const pending = fetch(url, { headers: bearer(ADMIN) });
    await waitFor(() => (s.requests.length > before ? true : undefined), 'the hanging request to arrive');
    await s.close();
    await expect(pending).rejects.toThrow();
  });

  it('uses each provider error shape', async () => {
    const a = await track(startAnthropicServer({ adminKeys: [ADMIN] }));
    a.failNext({ status: 429 }, { status: 500 });
    const h = { 'x-api-key': ADMIN, 'anthropic-version': '2023-06-01' };
    expect((await get(`${a.url}${ANTHROPIC_COST_PATH}`, h)).body).toEqual({ type: 'error', error: { type: 'rate_limit_error', message: expect.any(String) } });
    expect((await get(`${a.url}${ANTHROPIC_COST_PATH}`, h)).body).toEqual({ type: 'error', error: { type: 'api_error', message: expect.any(String) } });
    const d = await track(startDeepSeekServer({ keys: ['sk-ds'], balances: [] }));
    d.failNext({ status: 503 });
    expect((await get(`${d.url}/user/balance`, bearer('sk-ds'))).body).toMatchObject({ error: { type: 'server_error', message: expect.any(String), param: null, code: null } });
  });
});

describe('Anthropic fake', () => {
  const COST_ROWS: CostReportRow[] = [
    { day: '2025-08-01', amount: '123.45', workspace_id: 'wrkspc_a', description: 'Claude Sonnet 4 Usage - Input Tokens', cost_type: 'tokens', model: 'claude-sonnet-4-20250514', token_type: 'uncached_input_tokens', service_tier: 'standard', context_window: '0-200k' },
    { day: '2025-08-01', amount: '0.00005', workspace_id: null, description: 'Web Search Usage', cost_type: 'web_search' },
    { day: '2025-08-01', amount: '10', workspace_id: 'wrkspc_a', description: 'Web Search Usage', cost_type: 'web_search' },
  ];
  const USAGE_ROWS: MessagesUsageRow[] = [
    { day: '2025-08-02', uncached_input_tokens: 1500, output_tokens: 500, cache_read_input_tokens: 200, ephemeral_1h_input_tokens: 1000, ephemeral_5m_input_tokens: 500, web_search_requests: 10, model: 'claude-sonnet-4-20250514', workspace_id: 'wrkspc_a' },
    { day: '2025-08-02', uncached_input_tokens: 10, output_tokens: 1, model: 'claude-haiku-3-5' },
  ];
  const H = { 'x-api-key': ADMIN, 'anthropic-version': '2023-06-01' };
  const start = (o: { pageSize?: number; endlessPagination?: boolean } = {}) => track(startAnthropicServer({ adminKeys: [ADMIN], costs: COST_ROWS, usage: USAGE_ROWS, ...o }));
  const range = 'starting_at=2025-08-01T00:00:00Z&ending_at=2025-08-04T00:00:00Z';

  it('authenticates and requires anthropic-version and starting_at', async () => {
    const s = await start();
    const url = `${s.url}${ANTHROPIC_COST_PATH}?${range}`;
    expect(await get(url, { 'anthropic-version': '2023-06-01' })).toMatchObject({ status: 401, body: { type: 'error', error: { type: 'authentication_error' } } });
    expect((await get(url, { ...H, 'x-api-key': 'sk-ant-api03-x' })).status).toBe(401);
    expect(await get(url, { 'x-api-key': ADMIN })).toMatchObject({ status: 400, body: { error: { type: 'invalid_request_error' } } });
    for (const q of ['', 'starting_at=2025-08-01', 'starting_at=2025-08-01T00:00:00Z&bucket_width=1h', 'starting_at=2025-08-01T00:00:00Z&limit=32', 'starting_at=2025-08-01T00:00:00Z&group_by[]=model']) {
      expect(await get(`${s.url}${ANTHROPIC_COST_PATH}?${q}`, H)).toMatchObject({ status: 400, body: { error: { type: 'invalid_request_error' } } });
    }
    expect((await get(`${s.url}/v1/nothing`, H)).body).toMatchObject({ error: { type: 'not_found_error' } });
  });

  it('walks pages of RFC 3339 buckets, empty days included', async () => {
    const s = await start({ pageSize: 2 });
    const starts: string[] = [];
    let page: string | null = null;
    do {
      const r = await get(`${s.url}${ANTHROPIC_USAGE_PATH}?${range}${page === null ? '' : `&page=${page}`}`, H);
      for (const b of r.body.data) starts.push(`${String(b.starting_at)}/${String(b.ending_at)}:${b.results.length}`);
      page = r.body.has_more ? r.body.next_page : null;
    } while (page !== null);
    expect(starts).toEqual(['2025-08-01T00:00:00Z/2025-08-02T00:00:00Z:0', '2025-08-02T00:00:00Z/2025-08-03T00:00:00Z:1', '2025-08-03T00:00:00Z/2025-08-04T00:00:00Z:0']);
  });

  it('aggregates usage by group_by[] and shapes results as documented', async () => {
    const s = await start();
    const flat = (await get(`${s.url}${ANTHROPIC_USAGE_PATH}?${range}`, H)).body.data[1]?.results[0];
    expect(flat).toEqual({ uncached_input_tokens: 1510, cache_creation: { ephemeral_1h_input_tokens: 1000, ephemeral_5m_input_tokens: 500 }, cache_read_input_tokens: 200, output_tokens: 501, server_tool_use: { web_search_requests: 10 }, api_key_id: null, workspace_id: null, model: null, service_tier: null, context_window: null });
    expect(expectedAnthropicUsageTotals(USAGE_ROWS, '2025-08-02').total_input_tokens).toBe(3210);
    const byModel = (await get(`${s.url}${ANTHROPIC_USAGE_PATH}?${range}&group_by[]=model&group_by=workspace_id`, H)).body.data[1]?.results;
    expect(byModel?.map((r) => [r.model, r.workspace_id])).toEqual([['claude-sonnet-4-20250514', 'wrkspc_a'], ['claude-haiku-3-5', null]]);
  });

  it('sums cost amounts as exact cent strings per group', async () => {
    const s = await start();
    const flat = (await get(`${s.url}${ANTHROPIC_COST_PATH}?${range}`, H)).body.data[0]?.results;
    expect(flat).toEqual([{ currency: 'USD', amount: '133.45005', workspace_id: null, description: null, cost_type: null, model: null, token_type: null, service_tier: null, context_window: null, inference_geo: null }]);
    expect(expectedAnthropicCostTotal(COST_ROWS, '2025-08-01')).toEqual({ USD: '1.3345005' });
    const byWs = (await get(`${s.url}${ANTHROPIC_COST_PATH}?${range}&group_by[]=workspace_id`, H)).body.data[0]?.results;
    expect(byWs?.map((r) => [r.workspace_id, r.amount])).toEqual([['wrkspc_a', '133.45'], [null, '0.00005']]);
    const byDesc = (await get(`${s.url}${ANTHROPIC_COST_PATH}?${range}&group_by[]=description`, H)).body.data[0]?.results;
    expect(byDesc).toHaveLength(2);
    expect(byDesc).toContainEqual(expect.objectContaining({ description: 'Web Search Usage', cost_type: 'web_search', amount: '10.00005', workspace_id: null, token_type: null }));
  });

  it('endless pagination never ends', async () => {
    const s = await start({ endlessPagination: true });
    const r1 = await get(`${s.url}${ANTHROPIC_COST_PATH}?${range}`, H);
    const r2 = await get(`${s.url}${ANTHROPIC_COST_PATH}?${range}&page=${r1.body.next_page}`, H);
    expect([r1.body.has_more, r2.body.has_more, r2.body.data.length]).toEqual([true, true, 0]);
    expect(r2.body.next_page).not.toBe(r1.body.next_page);
    expect(s.requests.map((r) => r.headers['anthropic-version'])).toEqual(['2023-06-01', '2023-06-01']);
  });
});

describe('DeepSeek fake', () => {
  it('serves balances (settable, or computed per call), models, and 401s', async () => {
    const before = [balanceInfo('CNY', '10', '100'), balanceInfo('USD', 0, '5.5')];
    const s = await track(startDeepSeekServer({ keys: ['sk-ds'], balances: before }));
    expect((await get(`${s.url}/user/balance`, bearer('sk-ds'))).body).toEqual({
      is_available: true,
      balance_infos: [
        { currency: 'CNY', total_balance: '110.00', granted_balance: '10.00', topped_up_balance: '100.00' },
        { currency: 'USD', total_balance: '5.50', granted_balance: '0.00', topped_up_balance: '5.50' },
      ],
    });
    const after = [balanceInfo('CNY', '0', '99.99')];
    s.setBalances(after);
    expect((await get(`${s.url}/user/balance`, bearer('sk-ds'))).body.balance_infos).toEqual(after);
    expect(expectedDeepSeekTotals(after)).toEqual({ CNY: '99.99' });
    expect(expectedDeepSeekSpend(before, after)).toEqual({ CNY: '10.01', USD: '5.5' });
    let n = 0;
    s.setBalances(() => [balanceInfo('USD', 0, 10 - ++n)]);
    s.setAvailable(false);
    const polled = [await get(`${s.url}/user/balance`, bearer('sk-ds')), await get(`${s.url}/user/balance`, bearer('sk-ds'))];
    expect(polled.map((p) => [p.body.is_available, (p.body.balance_infos as { total_balance: string }[])[0]?.total_balance])).toEqual([[false, '9.00'], [false, '8.00']]);
    expect((await get(`${s.url}/models`, bearer('sk-ds'))).body).toMatchObject({ object: 'list', data: [{ id: 'deepseek-chat' }, { id: 'deepseek-reasoner' }] });
    const denied = await get(`${s.url}/user/balance`, bearer('sk-wrong'));
    expect(denied).toMatchObject({ status: 401, body: { error: { type: 'authentication_error', message: expect.stringContaining('Authentication Fails') } } });
    expect((await get(`${s.url}/models`)).status).toBe(401);
  });
});
