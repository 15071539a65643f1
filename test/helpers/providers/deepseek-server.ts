import Big from 'big.js';
import { FakeHttpError, startFakeServer, type FakeServer, type RecordedRequest } from './fake-server.js';

/**
 * A fake DeepSeek API (providers.md §4): `GET /user/balance` and `GET /models` with bearer auth.
 * DeepSeek has no usage/cost history API; balances can be changed between calls with `setBalances`.
 */

/** As DeepSeek sends it: every amount a decimal string. */
export interface BalanceInfo {
  readonly currency: string; // 'CNY' | 'USD'
  readonly total_balance: string;
  readonly granted_balance: string;
  readonly topped_up_balance: string;
}

export type Balances = readonly BalanceInfo[] | (() => readonly BalanceInfo[]);

export interface DeepSeekServerOptions {
  readonly keys: readonly string[];
  readonly balances: Balances;
  /** Default: true when some `total_balance` is above zero. */
  readonly isAvailable?: boolean | (() => boolean);
}

export interface DeepSeekServer extends FakeServer {
  setBalances(balances: Balances): void;
  setAvailable(isAvailable: boolean | (() => boolean) | undefined): void;
}

export const DEEPSEEK_MODELS = [
  { id: 'deepseek-chat', object: 'model', owned_by: 'deepseek' },
  { id: 'deepseek-reasoner', object: 'model', owned_by: 'deepseek' },
];

/** A consistent BalanceInfo: `total_balance = granted + topped_up`, all with 2 decimals. */
export function balanceInfo(currency: string, granted: string | number, toppedUp: string | number): BalanceInfo {
  const g = new Big(granted);
  const t = new Big(toppedUp);
  return { currency, total_balance: g.plus(t).toFixed(2), granted_balance: g.toFixed(2), topped_up_balance: t.toFixed(2) };
}

export async function startDeepSeekServer(o: DeepSeekServerOptions): Promise<DeepSeekServer> {
  let balances: Balances = o.balances;
  let available = o.isAvailable;
  const current = (): readonly BalanceInfo[] => (typeof balances === 'function' ? balances() : balances);

  function authenticate(req: RecordedRequest): void {
    const key = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '')?.[1];
    if (key === undefined || !o.keys.includes(key)) {
      const shown = key === undefined ? '' : `****${key.slice(-4)}`;
      throw new FakeHttpError(401, `Authentication Fails, Your api key: ${shown} is invalid`, { type: 'authentication_error', code: 'invalid_request_error' });
    }
  }

  const server = await startFakeServer('deepseek', (req) => {
    if (req.method !== 'GET' || (req.path !== '/user/balance' && req.path !== '/models')) throw new FakeHttpError(404, `Not Found: ${req.method} ${req.path}`);
    authenticate(req);
    if (req.path === '/models') return { status: 200, body: { object: 'list', data: DEEPSEEK_MODELS } };
    const infos = current();
    const isAvailable = typeof available === 'function' ? available() : (available ?? infos.some((b) => new Big(b.total_balance).gt(0)));
    return { status: 200, body: { is_available: isAvailable, balance_infos: infos.map((b) => ({ ...b })) } };
  });
  return Object.assign(server, {
    setBalances: (b: Balances) => void (balances = b),
    setAvailable: (v: boolean | (() => boolean) | undefined) => void (available = v),
  });
}

/** `total_balance` per currency, exact (normalised decimal strings). */
export function expectedDeepSeekTotals(infos: readonly BalanceInfo[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const b of infos) out[b.currency] = new Big(out[b.currency] ?? 0).plus(b.total_balance).toFixed();
  return out;
}

/**
 * Spend between two balance snapshots per currency: `before.total - after.total` (exact). It is
 * negative when a top-up outweighs the spend; currencies missing on one side count as zero.
 */
export function expectedDeepSeekSpend(before: readonly BalanceInfo[], after: readonly BalanceInfo[]): Record<string, string> {
  const b = expectedDeepSeekTotals(before);
  const a = expectedDeepSeekTotals(after);
  const out: Record<string, string> = {};
  for (const c of new Set([...Object.keys(b), ...Object.keys(a)])) out[c] = new Big(b[c] ?? 0).minus(a[c] ?? 0).toFixed();
  return out;
}
