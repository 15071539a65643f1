import { currencyCode, decimalText, toMoneyScale } from '../core/money.js';
import { endpointWithQuery, type ProviderHttp } from './provider-http.js';
import { collectPages, dayWindow, inWindow, readBucketPage, type BucketTimes, type ResponseReader } from './response-reader.js';

/**
 * OpenAI organization Usage and Costs APIs (admin key; reference/providers.md §2). Usage is token
 * telemetry per model and project; costs are the billing source of truth, per line item and project.
 */
export interface OpenAiUsageRow {
  readonly bucket_start: Date;
  readonly bucket_end: Date;
  readonly project_id: string | null;
  readonly model: string | null;
  readonly input_tokens: number;
  readonly input_cached_tokens: number;
  readonly output_tokens: number;
  readonly input_audio_tokens: number;
  readonly output_audio_tokens: number;
  readonly num_model_requests: number;
}

export interface OpenAiCostRow {
  readonly bucket_start: Date;
  readonly bucket_end: Date;
  readonly project_id: string | null;
  readonly line_item: string | null;
  /** Rounded half-even to the money scale (9 decimal places), as stored. */
  readonly amount: string;
  /** Exactly as the API reported it (JSON floats may carry more digits). */
  readonly amount_as_reported: string;
  /** ISO 4217, upper case. */
  readonly currency: string;
  readonly quantity: string | null;
  readonly quantity_unit: string | null;
}

const bucketTimes = (r: ResponseReader, b: Record<string, unknown>, path: string): BucketTimes => ({ bucket_start: r.unixTime(b, 'start_time', path), bucket_end: r.unixTime(b, 'end_time', path) });

const PROVIDER = 'openai';
/** One daily bucket per page is what a day needs; the API allows up to 31 (usage) / 180 (costs). */
const BUCKETS_PER_PAGE = 31;

export class OpenAiClient {
  constructor(
    private readonly http: ProviderHttp,
    private readonly baseUrl: string,
    private readonly adminKey: string,
  ) {}

  /** A cheap admin call: a project key or a wrong key is refused (401/403) here, not at the first run. */
  async validateAdminKey(signal?: AbortSignal): Promise<void> {
    const start = Math.floor(Date.now() / 1000) - 86_400;
    await this.get('/v1/organization/costs', { start_time: String(start), limit: '1' }, signal);
  }

  async completionsUsage(day: string, signal?: AbortSignal): Promise<OpenAiUsageRow[]> {
    const { start, end } = dayWindow(day);
    const what = 'GET /v1/organization/usage/completions';
    const rows = await collectPages(PROVIDER, what, async (page) => {
      const body = await this.get(
        '/v1/organization/usage/completions',
        { start_time: unix(start), end_time: unix(end), bucket_width: '1d', limit: String(BUCKETS_PER_PAGE), page, group_by: ['model', 'project_id'] },
        signal,
      );
      return readBucketPage(PROVIDER, what, body, bucketTimes, (r, result, path, bucket) => ({
        ...bucket,
        project_id: r.optionalString(result, 'project_id', path),
        model: r.optionalString(result, 'model', path),
        input_tokens: r.count(result, 'input_tokens', path),
        input_cached_tokens: r.count(result, 'input_cached_tokens', path),
        output_tokens: r.count(result, 'output_tokens', path),
        input_audio_tokens: r.count(result, 'input_audio_tokens', path),
        output_audio_tokens: r.count(result, 'output_audio_tokens', path),
        num_model_requests: r.count(result, 'num_model_requests', path),
      }));
    });
    return inWindow(rows, { start, end });
  }

  async costs(day: string, signal?: AbortSignal): Promise<OpenAiCostRow[]> {
    const { start, end } = dayWindow(day);
    const what = 'GET /v1/organization/costs';
    const rows = await collectPages(PROVIDER, what, async (page) => {
      const body = await this.get(
        '/v1/organization/costs',
        { start_time: unix(start), end_time: unix(end), bucket_width: '1d', limit: String(BUCKETS_PER_PAGE), page, group_by: ['line_item', 'project_id'] },
        signal,
      );
      return readBucketPage(PROVIDER, what, body, bucketTimes, (r, result, path, bucket) => {
        const amount = r.object(result.amount, `${path}.amount`);
        const value = decimalText(amount.value) ?? r.fail(`${path}.amount.value`, 'is not a number');
        const currency = currencyCode(amount.currency) ?? r.fail(`${path}.amount.currency`, 'is not an ISO 4217 code');
        const quantity = result.quantity === undefined || result.quantity === null ? null : (decimalText(result.quantity) ?? r.fail(`${path}.quantity`, 'is not a number'));
        return {
          ...bucket,
          project_id: r.optionalString(result, 'project_id', path),
          line_item: r.optionalString(result, 'line_item', path),
          amount: toMoneyScale(value),
          amount_as_reported: value,
          currency,
          quantity,
          quantity_unit: r.optionalString(result, 'quantity_unit', path),
        };
      });
    });
    return inWindow(rows, { start, end });
  }

  private async get(pathname: string, query: Record<string, string | string[] | undefined>, signal?: AbortSignal): Promise<unknown> {
    const url = endpointWithQuery(this.baseUrl, pathname, query);
    return this.http.getJson({ url, headers: { authorization: `Bearer ${this.adminKey}` }, secret: this.adminKey, signal });
  }
}

const unix = (d: Date): string => String(Math.floor(d.getTime() / 1000));
