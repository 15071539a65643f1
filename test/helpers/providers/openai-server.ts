import {
  DAY_SECONDS,
  FakeHttpError,
  dayOfSeconds,
  groupByParam,
  groupRows,
  intParam,
  pageOfDays,
  passesFilters,
  startFakeServer,
  sumDecimal,
  sumInt,
  type FakeServer,
  type RecordedRequest,
} from './fake-server.js';

/**
 * A fake OpenAI Admin API (providers.md §2): `GET /v1/organization/usage/completions`,
 * `GET /v1/organization/costs` and `GET /v1/models`, serving daily buckets aggregated from raw rows.
 */

/** One raw usage record; the server sums rows per day bucket and requested group. */
export interface CompletionsUsageRow {
  readonly day: string; // 'YYYY-MM-DD' (UTC)
  readonly input_tokens: number;
  readonly output_tokens: number;
  readonly num_model_requests: number;
  readonly input_cached_tokens?: number;
  readonly input_cache_write_tokens?: number;
  readonly input_audio_tokens?: number;
  readonly output_audio_tokens?: number;
  readonly project_id?: string | null;
  readonly user_id?: string | null;
  readonly api_key_id?: string | null;
  readonly model?: string | null;
  readonly batch?: boolean | null;
  readonly service_tier?: string | null;
}

/** One raw cost record. `amount` in currency units (a decimal string keeps it exact). */
export interface CostRow {
  readonly day: string; // 'YYYY-MM-DD' (UTC)
  readonly amount: string | number;
  readonly currency?: string; // default 'usd'; answered in lower case
  readonly line_item?: string | null;
  readonly project_id?: string | null;
  readonly api_key_id?: string | null;
  readonly quantity?: number | null;
  readonly quantity_unit?: string | null;
}

export interface OpenAiServerOptions {
  readonly adminKeys: readonly string[];
  /** Valid keys without admin scope: 200 on /v1/models, 401 (insufficient permissions) on admin endpoints. */
  readonly projectKeys?: readonly string[];
  readonly usage?: readonly CompletionsUsageRow[];
  readonly costs?: readonly CostRow[];
  /** Caps buckets per page below `limit` (forces pagination). */
  readonly pageSize?: number;
  /** Every page answers `has_more: true` with a fresh `next_page` (pages past the range have `data: []`). */
  readonly endlessPagination?: boolean;
  /** Clock for a missing `end_time` (ms since epoch); default `Date.now`. */
  readonly now?: () => number;
}

export interface OpenAiServer extends FakeServer {
  setUsage(rows: readonly CompletionsUsageRow[]): void;
  setCosts(rows: readonly CostRow[]): void;
}

export const OPENAI_USAGE_PATH = '/v1/organization/usage/completions';
export const OPENAI_COSTS_PATH = '/v1/organization/costs';
const USAGE_GROUPS = ['project_id', 'user_id', 'api_key_id', 'model', 'batch', 'service_tier'] as const;
const COST_GROUPS = ['project_id', 'line_item', 'api_key_id'] as const;

export const OPENAI_MODELS = [
  { id: 'gpt-4o', object: 'model', created: 1715367049, owned_by: 'system' },
  { id: 'gpt-4o-mini', object: 'model', created: 1721172741, owned_by: 'system' },
  { id: 'o3-mini', object: 'model', created: 1737146383, owned_by: 'system' },
];

function redact(key: string): string {
  return key.length <= 8 ? '****' : `${key.slice(0, 3)}*****${key.slice(-4)}`;
}

export async function startOpenAiServer(o: OpenAiServerOptions): Promise<OpenAiServer> {
  let usage = [...(o.usage ?? [])];
  let costs = [...(o.costs ?? [])];
  const now = o.now ?? Date.now;

  /** Returns 'admin' | 'project' or throws the 401 OpenAI sends. */
  function authenticate(req: RecordedRequest): 'admin' | 'project' {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '');
    const key = m?.[1];
    if (key === undefined) {
      throw new FakeHttpError(401, "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).", { code: null });
    }
    if (o.adminKeys.includes(key)) return 'admin';
    if (o.projectKeys?.includes(key) === true) return 'project';
    throw new FakeHttpError(401, `Incorrect API key provided: ${redact(key)}. You can find your API key at https://platform.openai.com/account/api-keys.`, { code: 'invalid_api_key' });
  }

  function window(q: URLSearchParams, kind: 'usage' | 'costs'): { starts: number[]; has_more: boolean; next_page: string | null; groups: string[] } {
    if (q.get('start_time') === null) throw new FakeHttpError(400, "Missing required parameter: 'start_time'.", { param: 'start_time' });
    const start = intParam(q, 'start_time', 0, Number.MAX_SAFE_INTEGER) ?? 0;
    const end = intParam(q, 'end_time', 0, Number.MAX_SAFE_INTEGER) ?? Math.floor(now() / 1000);
    if (end <= start) throw new FakeHttpError(400, "Invalid value for 'end_time': must be greater than 'start_time'.", { param: 'end_time' });
    const width = q.get('bucket_width') ?? '1d';
    const widths = kind === 'costs' ? ['1d'] : ['1m', '1h', '1d'];
    if (!widths.includes(width)) throw new FakeHttpError(400, `Invalid value for 'bucket_width': '${width}'. Supported values are: ${widths.map((w) => `'${w}'`).join(', ')}.`, { param: 'bucket_width' });
    if (width !== '1d') throw new FakeHttpError(400, `bucket_width '${width}' is not supported by this fake server (only '1d').`, { param: 'bucket_width' });
    const limit = intParam(q, 'limit', 1, kind === 'costs' ? 180 : 31) ?? 7;
    const groups = groupByParam(q, kind === 'costs' ? COST_GROUPS : USAGE_GROUPS);
    const from = Math.floor(start / DAY_SECONDS) * DAY_SECONDS;
    const count = Math.ceil((end - from) / DAY_SECONDS);
    const page = pageOfDays({ from, count, size: Math.min(limit, o.pageSize ?? limit), page: q.get('page'), endless: o.endlessPagination === true });
    return { ...page, groups };
  }

  const bucket = (start: number, results: unknown[]): unknown => ({ object: 'bucket', start_time: start, end_time: start + DAY_SECONDS, results });
  const pick = (groups: string[], row: object, field: string): unknown => (groups.includes(field) ? ((row as Record<string, unknown>)[field] ?? null) : null);

  function usageResults(day: string, q: URLSearchParams, groups: string[]): unknown[] {
    const rows = usage.filter((r) => r.day === day && passesFilters(r, q, { project_ids: 'project_id', user_ids: 'user_id', api_key_ids: 'api_key_id', models: 'model', batch: 'batch' }));
    return groupRows(rows, groups).map((g) => ({
      object: 'organization.usage.completions.result',
      input_tokens: sumInt(g, (r) => r.input_tokens),
      output_tokens: sumInt(g, (r) => r.output_tokens),
      input_cached_tokens: sumInt(g, (r) => r.input_cached_tokens),
      input_audio_tokens: sumInt(g, (r) => r.input_audio_tokens),
      output_audio_tokens: sumInt(g, (r) => r.output_audio_tokens),
      num_model_requests: sumInt(g, (r) => r.num_model_requests),
      project_id: pick(groups, g[0] ?? {}, 'project_id'),
      user_id: pick(groups, g[0] ?? {}, 'user_id'),
      api_key_id: pick(groups, g[0] ?? {}, 'api_key_id'),
      model: pick(groups, g[0] ?? {}, 'model'),
      batch: pick(groups, g[0] ?? {}, 'batch'),
      service_tier: pick(groups, g[0] ?? {}, 'service_tier'),
      // Fields a defensive parser must tolerate: a newer documented one and an unknown one.
      input_cache_write_tokens: sumInt(g, (r) => r.input_cache_write_tokens),
      x_future_field: { note: 'unknown field; clients must ignore it' },
    }));
  }

  function costResults(day: string, q: URLSearchParams, groups: string[]): unknown[] {
    const rows = costs.filter((r) => r.day === day && passesFilters(r, q, { project_ids: 'project_id', api_key_ids: 'api_key_id' }));
    const byLine = groups.includes('line_item');
    return groupRows(rows, groups, (r) => [(r.currency ?? 'usd').toLowerCase()]).map((g) => {
      const first = g[0] ?? { currency: 'usd' };
      const quantities = g.filter((r) => r.quantity !== undefined && r.quantity !== null);
      return {
        object: 'organization.costs.result',
        amount: { value: Number(sumDecimal(g.map((r) => r.amount)).toString()), currency: (first.currency ?? 'usd').toLowerCase() },
        line_item: pick(groups, first, 'line_item'),
        project_id: pick(groups, first, 'project_id'),
        api_key_id: pick(groups, first, 'api_key_id'),
        quantity: byLine && quantities.length > 0 ? Number(sumDecimal(quantities.map((r) => r.quantity ?? 0)).toString()) : null,
        quantity_unit: byLine ? (g.find((r) => r.quantity_unit !== undefined && r.quantity_unit !== null)?.quantity_unit ?? null) : null,
      };
    });
  }

  const server = await startFakeServer('openai', (req) => {
    if (req.method !== 'GET') throw new FakeHttpError(404, `Invalid URL (${req.method} ${req.path})`);
    if (req.path === '/v1/models') {
      authenticate(req);
      return { status: 200, body: { object: 'list', data: OPENAI_MODELS } };
    }
    if (req.path !== OPENAI_USAGE_PATH && req.path !== OPENAI_COSTS_PATH) throw new FakeHttpError(404, `Invalid URL (GET ${req.path})`);
    if (authenticate(req) !== 'admin') {
      throw new FakeHttpError(401, 'You have insufficient permissions for this operation. Missing scopes: api.usage.read. Check that you have the correct role in your organization (Owner), and if you\'re using a restricted API key, that it has the necessary scopes.', { code: null });
    }
    const kind = req.path === OPENAI_COSTS_PATH ? 'costs' : 'usage';
    const w = window(req.query, kind);
    const data = w.starts.map((s) => bucket(s, (kind === 'costs' ? costResults : usageResults)(dayOfSeconds(s), req.query, w.groups)));
    return { status: 200, body: { object: 'page', data, has_more: w.has_more, next_page: w.next_page } };
  });
  return Object.assign(server, {
    setUsage: (rows: readonly CompletionsUsageRow[]) => void (usage = [...rows]),
    setCosts: (rows: readonly CostRow[]) => void (costs = [...rows]),
  });
}

/** Exact cost total per currency (upper-case code) for one day, e.g. `{ USD: '1.23' }`. */
export function expectedOpenAiCostTotal(rows: readonly CostRow[], day: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const g of groupRows(rows.filter((r) => r.day === day), [], (r) => [(r.currency ?? 'usd').toUpperCase()])) {
    const first = g[0];
    if (first !== undefined) out[(first.currency ?? 'usd').toUpperCase()] = sumDecimal(g.map((r) => r.amount)).toFixed();
  }
  return out;
}

export interface OpenAiUsageTotals {
  input_tokens: number;
  output_tokens: number;
  input_cached_tokens: number;
  input_cache_write_tokens: number;
  input_audio_tokens: number;
  output_audio_tokens: number;
  num_model_requests: number;
}

/** Token/request totals for one day across all rows. */
export function expectedOpenAiUsageTotals(rows: readonly CompletionsUsageRow[], day: string): OpenAiUsageTotals {
  const d = rows.filter((r) => r.day === day);
  return {
    input_tokens: sumInt(d, (r) => r.input_tokens),
    output_tokens: sumInt(d, (r) => r.output_tokens),
    input_cached_tokens: sumInt(d, (r) => r.input_cached_tokens),
    input_cache_write_tokens: sumInt(d, (r) => r.input_cache_write_tokens),
    input_audio_tokens: sumInt(d, (r) => r.input_audio_tokens),
    output_audio_tokens: sumInt(d, (r) => r.output_audio_tokens),
    num_model_requests: sumInt(d, (r) => r.num_model_requests),
  };
}
