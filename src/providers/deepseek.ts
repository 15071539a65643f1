import { currencyCode, decimalText } from '../core/money.js';
import { endpoint, type ProviderHttp } from './provider-http.js';
import { ResponseReader } from './response-reader.js';

/** DeepSeek: only the account balance is exposed (reference/providers.md §4); values are strings. */
export interface DeepSeekBalance {
  readonly currency: string;
  readonly total_balance: string;
  readonly granted_balance: string;
  readonly topped_up_balance: string;
}

export interface DeepSeekBalanceSnapshot {
  readonly is_available: boolean;
  readonly balances: readonly DeepSeekBalance[];
}

const PROVIDER = 'deepseek';

export class DeepSeekClient {
  constructor(
    private readonly http: ProviderHttp,
    private readonly baseUrl: string,
    private readonly apiKey: string,
  ) {}

  async validateKey(signal?: AbortSignal): Promise<void> {
    await this.balance(signal);
  }

  async balance(signal?: AbortSignal): Promise<DeepSeekBalanceSnapshot> {
    const what = 'GET /user/balance';
    const body = await this.http.getJson({ url: endpoint(this.baseUrl, '/user/balance'), headers: { authorization: `Bearer ${this.apiKey}` }, secret: this.apiKey, signal });
    const r = new ResponseReader(PROVIDER, what);
    const o = r.object(body, 'body');
    const balances = r.array(o.balance_infos ?? [], 'balance_infos').map((b, i) => {
      const path = `balance_infos[${i}]`;
      const info = r.object(b, path);
      const amount = (key: string): string => decimalText(info[key]) ?? r.fail(`${path}.${key}`, 'is not a decimal amount');
      return {
        currency: currencyCode(info.currency) ?? r.fail(`${path}.currency`, 'is not an ISO 4217 code'),
        total_balance: amount('total_balance'),
        granted_balance: amount('granted_balance'),
        topped_up_balance: amount('topped_up_balance'),
      };
    });
    return { is_available: r.optionalBoolean(o, 'is_available', 'body') ?? false, balances };
  }
}
