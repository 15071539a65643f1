import type { ControlStore } from '../control-store/control-store.js';
import type { PriceOverrideRecord } from '../control-store/records.js';
import { AppError } from '../core/errors.js';
import { loadDefaultPrices, overridesToModelPrices, PriceTable, PRICE_PROVIDERS, type ModelPrice, type PriceOverrides, type PriceProvider } from '../pricing/price-table.js';

/**
 * Model prices used to estimate cost where a provider reports only usage (DeepSeek tokens,
 * Anthropic priority tier): the defaults shipped in configs/{provider}/seed/pricing.csv, and per-org
 * overrides (`GET/PUT /api/v1/integrations/{org}/{provider}/pricing`).
 */
export interface PriceView {
  readonly model: string;
  readonly input: string;
  readonly cached_input: string | null;
  readonly cache_write_5m: string | null;
  readonly cache_write_1h: string | null;
  readonly output: string;
  readonly source: 'default' | 'override';
  readonly checked: string | null;
}

export class PricingService {
  constructor(
    private readonly store: ControlStore,
    private readonly configsDir: string,
    private readonly now: () => Date,
  ) {}

  async get(orgSlug: string, provider: string): Promise<{ provider: PriceProvider; currency: 'USD'; unit: string; prices: PriceView[] }> {
    const p = priced(provider);
    const overrides = await this.overrides(orgSlug, p);
    const overridden = new Set(overrides.map((o) => o.model.toLowerCase()));
    const prices = [
      ...overrides.map((o) => toView(o, 'override')),
      ...loadDefaultPrices(this.configsDir, p)
        .filter((d) => !overridden.has(d.model.toLowerCase()))
        .map((d) => toView(d, 'default')),
    ];
    return { provider: p, currency: 'USD', unit: 'per 1000000 tokens', prices };
  }

  /** Replaces the org's overrides for the provider (an empty list goes back to the defaults). */
  async put(orgSlug: string, provider: string, body: PriceOverrides): Promise<ReturnType<PricingService['get']>> {
    const p = priced(provider);
    const at = this.now();
    const records: PriceOverrideRecord[] = overridesToModelPrices(body).map((m) => ({
      org_slug: orgSlug,
      provider: p,
      model: m.model,
      input: m.input,
      cached_input: m.cachedInput ?? null,
      cache_write_5m: m.cacheWrite5m ?? null,
      cache_write_1h: m.cacheWrite1h ?? null,
      output: m.output,
      updated_at: at,
    }));
    await this.store.transaction((tx) => tx.integrations.replacePrices(orgSlug, p, records));
    return this.get(orgSlug, p);
  }

  /** The table a run prices usage with: the org's overrides over the defaults. */
  async tableFor(orgSlug: string, provider: PriceProvider): Promise<PriceTable> {
    return new PriceTable(loadDefaultPrices(this.configsDir, provider), await this.overrides(orgSlug, provider));
  }

  private async overrides(orgSlug: string, provider: PriceProvider): Promise<ModelPrice[]> {
    const rows = await this.store.integrations.listPrices(orgSlug, provider);
    return rows.map((r) => ({
      model: r.model,
      input: plain(r.input),
      output: plain(r.output),
      ...(r.cached_input === null ? {} : { cachedInput: plain(r.cached_input) }),
      ...(r.cache_write_5m === null ? {} : { cacheWrite5m: plain(r.cache_write_5m) }),
      ...(r.cache_write_1h === null ? {} : { cacheWrite1h: plain(r.cache_write_1h) }),
      source: 'override',
    }));
  }
}

function priced(provider: string): PriceProvider {
  if (!(PRICE_PROVIDERS as readonly string[]).includes(provider)) {
    throw new AppError('NOT_FOUND', `${provider} reports its costs already priced; model prices exist for ${PRICE_PROVIDERS.join(', ')}`);
  }
  return provider as PriceProvider;
}

/** DECIMAL(38,9) text without its trailing zeros. */
const plain = (v: string): string => (v.includes('.') ? v.replace(/0+$/, '').replace(/\.$/, '') : v);

function toView(m: ModelPrice | PriceOverrideRecord, source: 'default' | 'override'): PriceView {
  if ('org_slug' in m) throw new Error('unreachable');
  return {
    model: m.model,
    input: m.input,
    cached_input: m.cachedInput ?? null,
    cache_write_5m: m.cacheWrite5m ?? null,
    cache_write_1h: m.cacheWrite1h ?? null,
    output: m.output,
    source,
    checked: m.checked ?? null,
  };
}
