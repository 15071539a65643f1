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
 * A fake Anthropic Admin API (providers.md §3): `GET /v1/organizations/usage_report/messages` and
 * `GET /v1/organizations/cost_report`, serving daily buckets aggregated from raw rows.
 */

/** One raw usage record; the server sums rows per day bucket and requested group. */
export interface MessagesUsageRow {
  readonly day: string; // 'YYYY-MM-DD' (UTC)
  readonly uncached_input_tokens: number;
  readonly output_tokens: number;
  readonly cache_read_input_tokens?: number;
  readonly ephemeral_1h_input_tokens?: number; // → cache_creation.ephemeral_1h_input_tokens
  readonly ephemeral_5m_input_tokens?: number; // → cache_creation.ephemeral_5m_input_tokens
  readonly web_search_requests?: number; // → server_tool_use.web_search_requests
  readonly api_key_id?: string | null;
  readonly workspace_id?: string | null;
  readonly model?: string | null;
  readonly service_tier?: string | null;
  readonly context_window?: string | null;
}

/** One raw cost record. `amount` is a decimal string in CENTS ("123.45" = $1.2345). */
export interface CostReportRow {
  readonly day: string; // 'YYYY-MM-DD' (UTC)
  readonly amount: string;
  readonly currency?: string; // default 'USD'
  readonly workspace_id?: string | null;
  /** The next fields are reported only when grouped by `description`. */
  readonly description?: string | null;
  readonly cost_type?: string | null;
  readonly model?: string | null;
  readonly token_type?: string | null;
  readonly service_tier?: string | null;
  readonly context_window?: string | null;
  readonly inference_geo?: string | null;
}

export interface AnthropicServerOptions {
  readonly adminKeys: readonly string[];
  readonly usage?: readonly MessagesUsageRow[];
  readonly costs?: readonly CostReportRow[];
  /** Caps buckets per page below `limit` (forces pagination). */
  readonly pageSize?: number;
  /** Every page answers `has_more: true` with a fresh `next_page` (pages past the range have `data: []`). */
  readonly endlessPagination?: boolean;
  /** Clock for a missing `ending_at` (ms since epoch); default `Date.now`. */
  readonly now?: () => number;
}

export interface AnthropicServer extends FakeServer {
  setUsage(rows: readonly MessagesUsageRow[]): void;
  setCosts(rows: readonly CostReportRow[]): void;
}

export const ANTHROPIC_USAGE_PATH = '/v1/organizations/usage_report/messages';
export const ANTHROPIC_COST_PATH = '/v1/organizations/cost_report';
const USAGE_GROUPS = ['api_key_id', 'workspace_id', 'model', 'service_tier', 'context_window'] as const;
const COST_GROUPS = ['workspace_id', 'description'] as const;
/** Fields a cost result reports when grouped by description. */
const DESCRIPTION_FIELDS = ['description', 'cost_type', 'model', 'token_type', 'service_tier', 'context_window', 'inference_geo'] as const;
const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})$/i;

/** Unix seconds → `2025-08-01T00:00:00Z`. */
export function rfc3339(sec: number): string {
  return new Date(sec * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function timeParam(q: URLSearchParams, name: string): number | undefined {
  const raw = q.get(name);
  if (raw === null) return undefined;
  const ms = Date.parse(raw);
  if (!RFC3339.test(raw) || Number.isNaN(ms)) throw new FakeHttpError(400, `${name}: Input should be a valid datetime (RFC 3339), got '${raw}'`);
  return Math.floor(ms / 1000);
}

export async function startAnthropicServer(o: AnthropicServerOptions): Promise<AnthropicServer> {
  let usage = [...(o.usage ?? [])];
  let costs = [...(o.costs ?? [])];
  const now = o.now ?? Date.now;

  function authenticate(req: RecordedRequest): void {
    const key = req.headers['x-api-key'];
    if (key === undefined || key === '') throw new FakeHttpError(401, 'x-api-key header is required');
    if (!o.adminKeys.includes(key)) throw new FakeHttpError(401, 'invalid x-api-key');
    if (req.headers['anthropic-version'] === undefined) throw new FakeHttpError(400, 'anthropic-version: header is required');
  }

  function window(q: URLSearchParams, kind: 'usage' | 'costs'): { starts: number[]; has_more: boolean; next_page: string | null; groups: string[] } {
    const start = timeParam(q, 'starting_at');
    if (start === undefined) throw new FakeHttpError(400, 'starting_at: Field required');
    const from = Math.floor(start / DAY_SECONDS) * DAY_SECONDS;
    // Buckets that end at or before ending_at; without it, up to (and including) today's bucket.
    const end = timeParam(q, 'ending_at') ?? Math.ceil(now() / 1000 / DAY_SECONDS) * DAY_SECONDS;
    if (end <= start) throw new FakeHttpError(400, 'ending_at: must be after starting_at');
    const width = q.get('bucket_width') ?? '1d';
    const widths = kind === 'costs' ? ['1d'] : ['1d', '1h', '1m'];
    if (!widths.includes(width)) throw new FakeHttpError(400, `bucket_width: Input should be ${widths.map((w) => `'${w}'`).join(' or ')}`);
    if (width !== '1d') throw new FakeHttpError(400, `bucket_width '${width}' is not supported by this fake server (only '1d')`);
    const limit = intParam(q, 'limit', 1, 31) ?? 7;
    const groups = groupByParam(q, kind === 'costs' ? COST_GROUPS : USAGE_GROUPS);
    const count = Math.max(0, Math.floor((end - from) / DAY_SECONDS));
    const page = pageOfDays({ from, count, size: Math.min(limit, o.pageSize ?? limit), page: q.get('page'), endless: o.endlessPagination === true });
    return { ...page, groups };
  }

  const pick = (groups: readonly string[], row: object, field: string, when = field): unknown => (groups.includes(when) ? ((row as Record<string, unknown>)[field] ?? null) : null);

  function usageResults(day: string, q: URLSearchParams, groups: string[]): unknown[] {
    const filters = { api_key_ids: 'api_key_id', workspace_ids: 'workspace_id', models: 'model', service_tiers: 'service_tier', context_window: 'context_window' } as const;
    const rows = usage.filter((r) => r.day === day && passesFilters(r, q, filters));
    return groupRows(rows, groups).map((g) => {
      const first = g[0] ?? {};
      return {
        uncached_input_tokens: sumInt(g, (r) => r.uncached_input_tokens),
        cache_creation: {
          ephemeral_1h_input_tokens: sumInt(g, (r) => r.ephemeral_1h_input_tokens),
          ephemeral_5m_input_tokens: sumInt(g, (r) => r.ephemeral_5m_input_tokens),
        },
        cache_read_input_tokens: sumInt(g, (r) => r.cache_read_input_tokens),
        output_tokens: sumInt(g, (r) => r.output_tokens),
        server_tool_use: { web_search_requests: sumInt(g, (r) => r.web_search_requests) },
        api_key_id: pick(groups, first, 'api_key_id'),
        workspace_id: pick(groups, first, 'workspace_id'),
        model: pick(groups, first, 'model'),
        service_tier: pick(groups, first, 'service_tier'),
        context_window: pick(groups, first, 'context_window'),
      };
    });
  }

  function costResults(day: string, groups: string[]): unknown[] {
    const fields = [...(groups.includes('workspace_id') ? ['workspace_id'] : []), ...(groups.includes('description') ? DESCRIPTION_FIELDS : [])];
    const rows = costs.filter((r) => r.day === day);
    return groupRows(rows, fields, (r) => [r.currency ?? 'USD']).map((g) => {
      const first = g[0] ?? {};
      const byDescription = (f: string): unknown => pick(groups, first, f, 'description');
      return {
        currency: (first as CostReportRow).currency ?? 'USD',
        amount: sumDecimal(g.map((r) => r.amount)).toFixed(),
        workspace_id: pick(groups, first, 'workspace_id'),
        description: byDescription('description'),
        cost_type: byDescription('cost_type'),
        model: byDescription('model'),
        token_type: byDescription('token_type'),
        service_tier: byDescription('service_tier'),
        context_window: byDescription('context_window'),
        inference_geo: byDescription('inference_geo'),
      };
    });
  }

  const server = await startFakeServer('anthropic', (req) => {
    if (req.method !== 'GET' || (req.path !== ANTHROPIC_USAGE_PATH && req.path !== ANTHROPIC_COST_PATH)) throw new FakeHttpError(404, 'Not found');
    authenticate(req);
    const kind = req.path === ANTHROPIC_COST_PATH ? 'costs' : 'usage';
    const w = window(req.query, kind);
    const data = w.starts.map((s) => {
      const day = dayOfSeconds(s);
      return { starting_at: rfc3339(s), ending_at: rfc3339(s + DAY_SECONDS), results: kind === 'costs' ? costResults(day, w.groups) : usageResults(day, req.query, w.groups) };
    });
    return { status: 200, body: { data, has_more: w.has_more, next_page: w.next_page } };
  });
  return Object.assign(server, {
    setUsage: (rows: readonly MessagesUsageRow[]) => void (usage = [...rows]),
    setCosts: (rows: readonly CostReportRow[]) => void (costs = [...rows]),
  });
}

/** Exact cost total per currency for one day, in DOLLARS (cents / 100), e.g. `{ USD: '1.2345' }`. */
export function expectedAnthropicCostTotal(rows: readonly CostReportRow[], day: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const g of groupRows(rows.filter((r) => r.day === day), [], (r) => [r.currency ?? 'USD'])) {
    const first = g[0];
    if (first !== undefined) out[first.currency ?? 'USD'] = sumDecimal(g.map((r) => r.amount)).div(100).toFixed();
  }
  return out;
}

export interface AnthropicUsageTotals {
  uncached_input_tokens: number;
  cache_read_input_tokens: number;
  ephemeral_1h_input_tokens: number;
  ephemeral_5m_input_tokens: number;
  output_tokens: number;
  web_search_requests: number;
  /** uncached + cache reads + both cache-creation counts (providers.md §3.2). */
  total_input_tokens: number;
}

/** Token/request totals for one day across all rows. */
export function expectedAnthropicUsageTotals(rows: readonly MessagesUsageRow[], day: string): AnthropicUsageTotals {
  const d = rows.filter((r) => r.day === day);
  const t = {
    uncached_input_tokens: sumInt(d, (r) => r.uncached_input_tokens),
    cache_read_input_tokens: sumInt(d, (r) => r.cache_read_input_tokens),
    ephemeral_1h_input_tokens: sumInt(d, (r) => r.ephemeral_1h_input_tokens),
    ephemeral_5m_input_tokens: sumInt(d, (r) => r.ephemeral_5m_input_tokens),
    output_tokens: sumInt(d, (r) => r.output_tokens),
    web_search_requests: sumInt(d, (r) => r.web_search_requests),
  };
  return { ...t, total_input_tokens: t.uncached_input_tokens + t.cache_read_input_tokens + t.ephemeral_1h_input_tokens + t.ephemeral_5m_input_tokens };
}
