import { currencyCode, decimalText, shiftDecimal, toMoneyScale } from '../core/money.js';
import { endpointWithQuery, type ProviderHttp } from './provider-http.js';
import { collectPages, dayWindow, inWindow, readBucketPage, type BucketTimes, type ResponseReader } from './response-reader.js';

/**
 * Anthropic Admin API usage and cost reports (admin key, `anthropic-version`; reference/providers.md §3).
 * Cost amounts arrive as decimal strings in cents and are converted exactly; priority-tier usage
 * has no cost lines and is priced from the org's price table instead.
 */
export interface AnthropicUsageRow {
  readonly bucket_start: Date;
  readonly bucket_end: Date;
  readonly workspace_id: string | null;
  readonly model: string | null;
  readonly service_tier: string | null;
  readonly context_window: string | null;
  readonly uncached_input_tokens: number;
  readonly cache_creation_5m_input_tokens: number;
  readonly cache_creation_1h_input_tokens: number;
  readonly cache_read_input_tokens: number;
  readonly output_tokens: number;
  readonly web_search_requests: number;
}

export interface AnthropicCostRow {
  readonly bucket_start: Date;
  readonly bucket_end: Date;
  readonly workspace_id: string | null;
  readonly description: string | null;
  readonly cost_type: string | null;
  readonly model: string | null;
  readonly token_type: string | null;
  readonly service_tier: string | null;
  readonly context_window: string | null;
  /** As reported: lowest currency unit (cents), exact decimal text. */
  readonly amount_cents: string;
  /** amount_cents ÷ 100, exactly, then rounded half-even to the money scale (9 decimal places). */
  readonly amount: string;
  /** amount_cents ÷ 100 with all its digits. */
  readonly amount_as_reported: string;
  readonly currency: string;
}

const bucketTimes = (r: ResponseReader, b: Record<string, unknown>, path: string): BucketTimes => ({ bucket_start: r.isoTime(b, 'starting_at', path), bucket_end: r.isoTime(b, 'ending_at', path) });

const PROVIDER = 'anthropic';
export const ANTHROPIC_VERSION = '2023-06-01';
const BUCKETS_PER_PAGE = 31;

export class AnthropicClient {
  constructor(
    private readonly http: ProviderHttp,
    private readonly baseUrl: string,
    private readonly adminKey: string,
  ) {}

  /** The cost report refuses keys that are not admin keys, so one bucket of it proves the key. */
  async validateAdminKey(signal?: AbortSignal): Promise<void> {
    const start = new Date(Date.now() - 2 * 86_400_000);
    start.setUTCHours(0, 0, 0, 0);
    await this.get('/v1/organizations/cost_report', { starting_at: start.toISOString(), limit: '1' }, signal);
  }

  async messagesUsage(day: string, signal?: AbortSignal): Promise<AnthropicUsageRow[]> {
    const { start, end } = dayWindow(day);
    const what = 'GET /v1/organizations/usage_report/messages';
    const rows = await collectPages(PROVIDER, what, async (page) => {
      const body = await this.get(
        '/v1/organizations/usage_report/messages',
        {
          starting_at: start.toISOString(), ending_at: end.toISOString(), bucket_width: '1d', limit: String(BUCKETS_PER_PAGE), page,
          'group_by[]': ['model', 'workspace_id', 'service_tier', 'context_window'],
        },
        signal,
      );
      return readBucketPage(PROVIDER, what, body, bucketTimes, (r, result, path, bucket) => {
        const cache = result.cache_creation === undefined || result.cache_creation === null ? {} : r.object(result.cache_creation, `${path}.cache_creation`);
        const tools = result.server_tool_use === undefined || result.server_tool_use === null ? {} : r.object(result.server_tool_use, `${path}.server_tool_use`);
        return {
          ...bucket,
          workspace_id: r.optionalString(result, 'workspace_id', path),
          model: r.optionalString(result, 'model', path),
          service_tier: r.optionalString(result, 'service_tier', path),
          context_window: r.optionalString(result, 'context_window', path),
          uncached_input_tokens: r.count(result, 'uncached_input_tokens', path),
          cache_creation_5m_input_tokens: r.count(cache, 'ephemeral_5m_input_tokens', `${path}.cache_creation`),
          cache_creation_1h_input_tokens: r.count(cache, 'ephemeral_1h_input_tokens', `${path}.cache_creation`),
          cache_read_input_tokens: r.count(result, 'cache_read_input_tokens', path),
          output_tokens: r.count(result, 'output_tokens', path),
          web_search_requests: r.count(tools, 'web_search_requests', `${path}.server_tool_use`),
        };
      });
    });
    return inWindow(rows, { start, end });
  }

  async costReport(day: string, signal?: AbortSignal): Promise<AnthropicCostRow[]> {
    const { start, end } = dayWindow(day);
    const what = 'GET /v1/organizations/cost_report';
    const rows = await collectPages(PROVIDER, what, async (page) => {
      const body = await this.get(
        '/v1/organizations/cost_report',
        { starting_at: start.toISOString(), ending_at: end.toISOString(), bucket_width: '1d', limit: String(BUCKETS_PER_PAGE), page, 'group_by[]': ['workspace_id', 'description'] },
        signal,
      );
      return readBucketPage(PROVIDER, what, body, bucketTimes, (r, result, path, bucket) => {
        // Amounts are strings in cents ("123.45" USD is $1.2345); a number is accepted too.
        const cents = decimalText(result.amount) ?? r.fail(`${path}.amount`, 'is not a decimal amount');
        const currency = currencyCode(result.currency ?? 'USD') ?? r.fail(`${path}.currency`, 'is not an ISO 4217 code');
        return {
          ...bucket,
          workspace_id: r.optionalString(result, 'workspace_id', path),
          description: r.optionalString(result, 'description', path),
          cost_type: r.optionalString(result, 'cost_type', path),
          model: r.optionalString(result, 'model', path),
          token_type: r.optionalString(result, 'token_type', path),
          service_tier: r.optionalString(result, 'service_tier', path),
          context_window: r.optionalString(result, 'context_window', path),
          amount_cents: toMoneyScale(cents),
          amount: toMoneyScale(shiftDecimal(cents, 2)),
          amount_as_reported: shiftDecimal(cents, 2),
          currency,
        };
      });
    });
    return inWindow(rows, { start, end });
  }

  private async get(pathname: string, query: Record<string, string | string[] | undefined>, signal?: AbortSignal): Promise<unknown> {
    const url = endpointWithQuery(this.baseUrl, pathname, query);
    return this.http.getJson({ url, headers: { 'x-api-key': this.adminKey, 'anthropic-version': ANTHROPIC_VERSION }, secret: this.adminKey, signal });
  }
}
