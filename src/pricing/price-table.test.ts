import path from 'node:path';
import { fileURLToPath } from 'node:url';
import Big from 'big.js';
import fc from 'fast-check';
import { Value } from '@sinclair/typebox/value';
import { describe, expect, it } from 'vitest';
import { AppError } from '../core/errors.js';
import {
  PRICE_PROVIDERS,
  PRICING_CSV_COLUMNS,
  PriceFileError,
  PriceOverrides,
  PriceTable,
  loadDefaultPrices,
  overridesToModelPrices,
  parsePricingCsv,
  type ModelPrice,
  type TokenUsage,
} from './price-table.js';

const CONFIGS = fileURLToPath(new URL('../../configs', import.meta.url));
const HEADER = PRICING_CSV_COLUMNS.join(',');

const byModel = (prices: ModelPrice[], model: string): ModelPrice => {
  const p = prices.find((x) => x.model === model);
  if (p === undefined) throw new Error(`no ${model}`);
  return p;
};

describe('shipped seed prices', () => {
  // Every model id of providers.md §6, per provider.
  const EXPECTED: Record<(typeof PRICE_PROVIDERS)[number], string[]> = {
    openai: [
      'gpt-4o', 'gpt-4o-mini', 'gpt-4.1', 'gpt-4.1-mini', 'gpt-4.1-nano', 'o3', 'o4-mini', 'o3-mini', 'gpt-5', 'gpt-5-mini', 'gpt-5-nano',
      'gpt-5.1', 'gpt-5.2', 'gpt-5.4', 'gpt-5.4-mini', 'gpt-5.4-nano', 'gpt-5.5', 'gpt-5.6-luna', 'gpt-5.6-terra', 'gpt-5.6-sol',
      'text-embedding-3-small', 'text-embedding-3-large',
    ],
    anthropic: [
      'claude-3-haiku', 'claude-3-5-haiku-latest', 'claude-haiku-4-5', 'claude-3-7-sonnet-latest', 'claude-sonnet-4-0', 'claude-sonnet-4-5',
      'claude-sonnet-4-6', 'claude-sonnet-5', 'claude-opus-4-1', 'claude-opus-4-5', 'claude-opus-4-6', 'claude-opus-4-7', 'claude-opus-4-8', 'claude-opus-5',
    ],
    deepseek: ['deepseek-chat', 'deepseek-reasoner', 'deepseek-v3.2', 'deepseek-v4-flash', 'deepseek-v4-pro'],
  };

  it.each(PRICE_PROVIDERS)('%s parses and lists every model of the reference table once', (provider) => {
    const prices = loadDefaultPrices(CONFIGS, provider);
    expect(prices.map((p) => p.model)).toEqual(EXPECTED[provider]);
    for (const p of prices) {
      expect(p.source).toBe('genai-prices@47df840a');
      expect(p.checked).toMatch(/^20\d\d-\d\d-\d\d$/);
    }
  });

  it('matches spot values of the reference table', () => {
    const openai = loadDefaultPrices(CONFIGS, 'openai');
    expect(byModel(openai, 'gpt-4o')).toEqual({ model: 'gpt-4o', input: '2.5', cachedInput: '1.25', output: '10', source: 'genai-prices@47df840a', checked: '2025-07-04' });
    expect(byModel(openai, 'gpt-5.4').tier).toEqual({ thresholdTokens: 272000, input: '5', cachedInput: '0.5', output: '22.5' });
    expect(byModel(openai, 'gpt-5.6-sol')).toMatchObject({ input: '5', cacheWrite5m: '6.25', cachedInput: '0.5', output: '30', tier: { thresholdTokens: 272000, input: '10', cacheWrite5m: '12.5', cachedInput: '1', output: '45' } });
    expect(byModel(openai, 'gpt-5.6-sol').cacheWrite1h).toBeUndefined();

    const anthropic = loadDefaultPrices(CONFIGS, 'anthropic');
    expect(byModel(anthropic, 'claude-sonnet-4-5')).toMatchObject({
      input: '3', cacheWrite5m: '3.75', cacheWrite1h: '6', cachedInput: '0.3', output: '15',
      tier: { thresholdTokens: 200000, input: '6', cacheWrite5m: '7.5', cacheWrite1h: '12', cachedInput: '0.6', output: '22.5' },
    });
    expect(byModel(anthropic, 'claude-3-haiku')).toMatchObject({ input: '0.25', cacheWrite5m: '0.3', cacheWrite1h: '0.5', cachedInput: '0.03', output: '1.25' });
    expect(byModel(anthropic, 'claude-opus-4-1')).toMatchObject({ input: '15', cacheWrite5m: '18.75', cacheWrite1h: '30', cachedInput: '1.5', output: '75' });
    expect(byModel(anthropic, 'claude-sonnet-4-6').tier).toBeUndefined(); // the tier ended on 2026-03-13

    const deepseek = loadDefaultPrices(CONFIGS, 'deepseek');
    expect(byModel(deepseek, 'deepseek-chat')).toMatchObject({ input: '0.135', cachedInput: '0.035', output: '0.55' });
    expect(byModel(deepseek, 'deepseek-v4-pro')).toMatchObject({ input: '0.435', cachedInput: '0.003625', output: '0.87' });
    expect(byModel(deepseek, 'deepseek-v3.2').cachedInput).toBeUndefined();
  });

  it('is parsed once per path and frozen, because callers share it', () => {
    const a = loadDefaultPrices(CONFIGS, 'anthropic');
    expect(loadDefaultPrices(path.join(CONFIGS, '.'), 'anthropic')).toBe(a);
    expect(Object.isFrozen(a)).toBe(true);
    expect(Object.isFrozen(byModel(a, 'claude-sonnet-4-5').tier)).toBe(true);
  });
});

describe('parsePricingCsv', () => {
  const row = (cells: Partial<Record<(typeof PRICING_CSV_COLUMNS)[number], string>>): string =>
    PRICING_CSV_COLUMNS.map((c) => cells[c] ?? '').join(',');
  const csv = (...rows: string[]): string => [HEADER, ...rows].join('\n') + '\n';
  const ok = { model: 'm-1', input: '2.5', output: '10' };
  const tiered = { ...ok, tier_threshold_tokens: '1000', tier_input: '5', tier_output: '20' };

  it('canonicalises decimals and omits empty optional cells', () => {
    const [p] = parsePricingCsv(csv(row({ ...ok, input: '2.50', cached_input: '0.000000001', output: '10.0' })), 'x.csv');
    expect(p).toEqual({ model: 'm-1', input: '2.5', cachedInput: '0.000000001', output: '10' });
  });

  it('accepts CRLF, a BOM and blank lines, and counts lines as an editor does', () => {
    const text = '\uFEFF' + [HEADER, row(ok), '', row({ ...ok, model: 'm-2', input: 'x' })].join('\r\n');
    expect(() => parsePricingCsv(text, 'x.csv')).toThrow(/^x\.csv:4:2: column "input"/);
    expect(parsePricingCsv('\uFEFF' + [HEADER, row(ok), ''].join('\r\n'), 'x.csv')).toHaveLength(1);
  });

  it.each([
    ['wrong header', `model,input,cached,cache_write_5m\n${row(ok)}`, /^bad\.csv:1:3: header column 3 must be "cached_input"/],
    ['extra header column', `${HEADER},note\n${row(ok)},x`, /^bad\.csv:1:15: header has 15 columns/],
    ['empty file', '', /^bad\.csv:1: empty file/],
    ['field count', csv(row(ok) + ',extra'), /^bad\.csv:2: expected 14 fields, found 15/],
    ['negative price', csv(row({ ...ok, input: '-2.5' })), /^bad\.csv:2:2: column "input": "-2\.5" is not a non-negative decimal/],
    ['exponent', csv(row({ ...ok, output: '1e1' })), /^bad\.csv:2:6: column "output": "1e1"/],
    ['upper-case exponent', csv(row({ ...ok, cached_input: '2.5E-1' })), /^bad\.csv:2:3: column "cached_input"/],
    ['currency symbol', csv(row({ ...ok, input: '$2.5' })), /^bad\.csv:2:2: column "input"/],
    ['padding', csv(row({ ...ok, input: ' 2.5' })), /^bad\.csv:2:2: column "input"/],
    ['13 decimal places', csv(row({ ...ok, cache_write_1h: '0.0000000000001' })), /^bad\.csv:2:5: column "cache_write_1h"/],
    ['leading zero', csv(row({ ...ok, input: '02.5' })), /^bad\.csv:2:2: column "input"/],
    ['missing input', csv(row({ ...ok, input: '' })), /^bad\.csv:2:2: column "input": required/],
    ['missing output', csv(row({ ...ok, output: '' })), /^bad\.csv:2:6: column "output": required/],
    ['bad model id', csv(row({ ...ok, model: 'gpt 4o' })), /^bad\.csv:2:1: column "model"/],
    ['duplicate model', csv(row(ok), row({ ...ok, model: 'M-1' })), /^bad\.csv:3:1: column "model": duplicate model "M-1" \(first on line 2\)/],
    ['tier half-filled', csv(row({ ...tiered, tier_output: '' })), /^bad\.csv:2:12: column "tier_output": missing; tier columns are all-or-nothing/],
    ['tier price for an empty base', csv(row({ ...tiered, tier_cached_input: '1' })), /^bad\.csv:2:9: column "tier_cached_input": set while cached_input is empty/],
    ['tier price without threshold', csv(row({ ...tiered, tier_threshold_tokens: '' })), /^bad\.csv:2:8: column "tier_input": a tier price needs tier_threshold_tokens/],
    ['zero threshold', csv(row({ ...tiered, tier_threshold_tokens: '0' })), /^bad\.csv:2:7: column "tier_threshold_tokens": "0" is not a positive integer/],
    ['fractional threshold', csv(row({ ...tiered, tier_threshold_tokens: '1000.5' })), /^bad\.csv:2:7:/],
    ['impossible date', csv(row({ ...ok, checked: '2025-02-30' })), /^bad\.csv:2:14: column "checked"/],
    ['unclosed quote', csv(row(ok), '"m-2,1,,,,1,,,,,,,,'), /^bad\.csv:\d+: .*[Qq]uote/],
  ])('rejects %s, naming the line and column', (_name, text, message) => {
    expect(() => parsePricingCsv(text, 'bad.csv')).toThrow(message);
    expect(() => parsePricingCsv(text, 'bad.csv')).toThrow(PriceFileError);
  });

  it('reads a full tier', () => {
    const [p] = parsePricingCsv(csv(row(tiered)), 'x.csv');
    expect(p?.tier).toEqual({ thresholdTokens: 1000, input: '5', output: '20' });
  });
});

describe('PriceTable.lookup', () => {
  const table = new PriceTable([...loadDefaultPrices(CONFIGS, 'openai'), ...loadDefaultPrices(CONFIGS, 'anthropic'), ...loadDefaultPrices(CONFIGS, 'deepseek')]);

  it.each([
    ['gpt-4o', 'gpt-4o'],
    ['gpt-4o-2024-08-06', 'gpt-4o'],
    ['gpt-4o-mini-2024-07-18', 'gpt-4o-mini'],
    ['GPT-4o-Mini', 'gpt-4o-mini'],
    ['claude-sonnet-4-5-20250929', 'claude-sonnet-4-5'],
    ['claude-3-haiku-20240307', 'claude-3-haiku'],
    ['gpt-5.4-mini-2026-03-18', 'gpt-5.4-mini'],
    ['gpt-5.4-2026-03-05', 'gpt-5.4'],
    ['o3-mini-2025-01-31', 'o3-mini'],
    ['o3-2025-04-16', 'o3'],
    ['deepseek-v4-flash', 'deepseek-v4-flash'],
  ])('%s → %s', (model, id) => {
    expect(table.lookup(model)?.model).toBe(id);
  });

  it.each(['gpt-4', 'gpt-4o2', 'gpt-5.45', 'claude-sonnet', 'o', '', '-', 'gpt-4omini', 'claude-sonnet-4-20250514'])('%j has no price', (model) => {
    expect(table.lookup(model)).toBeUndefined();
  });

  it('prefers an override of the same id, case-insensitively, and keeps longer default prefixes', () => {
    const t = new PriceTable(loadDefaultPrices(CONFIGS, 'openai'), [{ model: 'GPT-4O', input: '1', output: '2' }]);
    expect(t.lookup('gpt-4o')).toEqual({ model: 'GPT-4O', input: '1', output: '2' });
    expect(t.lookup('gpt-4o-2024-08-06')?.input).toBe('1');
    expect(t.lookup('gpt-4o-mini-2024-07-18')?.input).toBe('0.15'); // gpt-4o-mini is the longer prefix
    expect(t.estimate('gpt-4o', { uncachedInput: 1_000_000, output: 1_000_000 })?.cost).toBe('3');
  });

  it('refuses a list that names a model twice', () => {
    expect(() => new PriceTable([{ model: 'a', input: '1', output: '1' }, { model: 'A', input: '2', output: '2' }])).toThrow(/listed twice/);
  });
});

describe('PriceOverrides (API body)', () => {
  const body = (prices: unknown[]): unknown => ({ prices });

  it('accepts decimal strings and converts them', () => {
    const b = body([{ model: 'gpt-4o', input: '2.50', output: '10', cached_input: '1.25', cache_write_5m: '3', cache_write_1h: '0.000000001' }]);
    expect(Value.Check(PriceOverrides, b)).toBe(true);
    expect(overridesToModelPrices(b as PriceOverrides)).toEqual([
      { model: 'gpt-4o', input: '2.5', output: '10', cachedInput: '1.25', cacheWrite5m: '3', cacheWrite1h: '0.000000001', source: 'override' },
    ]);
  });

  it.each([
    ['a JSON number', { model: 'm', input: 2.5, output: '1' }],
    ['an exponent', { model: 'm', input: '1e-7', output: '1' }],
    ['a negative price', { model: 'm', input: '-1', output: '1' }],
    ['13 decimal places', { model: 'm', input: '0.0000000000001', output: '1' }],
    ['a missing output', { model: 'm', input: '1' }],
    ['an unknown field', { model: 'm', input: '1', output: '1', tier_input: '2' }],
    ['a bad model id', { model: '-m', input: '1', output: '1' }],
  ])('rejects %s', (_name, price) => {
    expect(Value.Check(PriceOverrides, body([price]))).toBe(false);
  });

  it('caps the list at 500 and refuses a duplicate model', () => {
    const p = (i: number) => ({ model: `m-${i}`, input: '1', output: '1' });
    expect(Value.Check(PriceOverrides, body(Array.from({ length: 500 }, (_, i) => p(i))))).toBe(true);
    expect(Value.Check(PriceOverrides, body(Array.from({ length: 501 }, (_, i) => p(i))))).toBe(false);
    const dup = { prices: [p(1), { ...p(1), model: 'M-1' }] };
    expect(() => overridesToModelPrices(dup)).toThrow(AppError);
    expect(() => overridesToModelPrices(dup)).toThrow(/prices\/1\/model: duplicate/);
  });
});

// Reference arithmetic in BigInt: a price with ≤ 12 decimals is an integer number of 1e-12 USD per 1M
// tokens, so tokens × that is an integer number of 1e-18 USD, rounded half-even to 1e-9.
const priceUnits = (p: string): bigint => {
  const [int = '0', frac = ''] = p.split('.');
  return BigInt(int) * 10n ** 12n + BigInt(frac.padEnd(12, '0'));
};
const unitsToPrice = (u: bigint): string => {
  const frac = (u % 10n ** 12n).toString().padStart(12, '0').replace(/0+$/, '');
  return `${u / 10n ** 12n}${frac === '' ? '' : `.${frac}`}`;
};
function referenceCost(price: ModelPrice, u: TokenUsage): string {
  const total = u.uncachedInput + (u.cachedInput ?? 0) + (u.cacheWrite5m ?? 0) + (u.cacheWrite1h ?? 0);
  const tier = price.tier !== undefined && total > price.tier.thresholdTokens ? price.tier : undefined;
  const input = tier?.input ?? price.input;
  const rate = (k: 'cachedInput' | 'cacheWrite5m' | 'cacheWrite1h'): bigint => priceUnits(tier?.[k] ?? price[k] ?? input);
  const e18 =
    BigInt(u.uncachedInput) * priceUnits(input) +
    BigInt(u.cachedInput ?? 0) * rate('cachedInput') +
    BigInt(u.cacheWrite5m ?? 0) * rate('cacheWrite5m') +
    BigInt(u.cacheWrite1h ?? 0) * rate('cacheWrite1h') +
    BigInt(u.output) * priceUnits(tier?.output ?? price.output);
  let q = e18 / 10n ** 9n;
  const r = e18 % 10n ** 9n;
  if (r > 5n * 10n ** 8n || (r === 5n * 10n ** 8n && q % 2n === 1n)) q += 1n;
  const frac = (q % 10n ** 9n).toString().padStart(9, '0').replace(/0+$/, '');
  return `${q / 10n ** 9n}${frac === '' ? '' : `.${frac}`}`;
}

describe('PriceTable.estimate', () => {
  const table = new PriceTable([...loadDefaultPrices(CONFIGS, 'openai'), ...loadDefaultPrices(CONFIGS, 'anthropic'), ...loadDefaultPrices(CONFIGS, 'deepseek')]);

  it('is exact', () => {
    expect(table.estimate('gpt-4o', { uncachedInput: 1_234_567, output: 0 })).toMatchObject({ cost: '3.0864175', tiered: false });
    expect(table.estimate('gpt-4o-2024-08-06', { uncachedInput: 1, output: 0 })?.cost).toBe('0.0000025');
    expect(table.estimate('gpt-4o', { uncachedInput: 0, output: 0 })?.cost).toBe('0');
    // 0.1 + 0.2 ≠ 0.3 in floats; here it does
    const t = new PriceTable([{ model: 'm', input: '0.1', output: '0.2' }]);
    expect(t.estimate('m', { uncachedInput: 1_000_000, output: 1_000_000 })?.cost).toBe('0.3');
  });

  it('prices every token kind at its own rate', () => {
    // claude-sonnet-4-5: 3 input, 0.3 read, 3.75 5m-write, 6 1h-write, 15 output (per 1M)
    const e = table.estimate('claude-sonnet-4-5-20250929', { uncachedInput: 1000, cachedInput: 2000, cacheWrite5m: 3000, cacheWrite1h: 4000, output: 5000 });
    expect(e?.cost).toBe('0.11385'); // 0.003 + 0.0006 + 0.01125 + 0.024 + 0.075
  });

  it('rounds half-even at the 9th decimal', () => {
    const t = new PriceTable([
      { model: 'half', input: '0.0005', output: '0' }, // 1 token = 0.0000000005
      { model: 'one-half', input: '0.0015', output: '0' },
      { model: 'two-half', input: '0.0025', output: '0' },
      { model: 'above', input: '0.000500000001', output: '0' },
    ]);
    expect(t.estimate('half', { uncachedInput: 1, output: 0 })?.cost).toBe('0');
    expect(t.estimate('one-half', { uncachedInput: 1, output: 0 })?.cost).toBe('0.000000002');
    expect(t.estimate('two-half', { uncachedInput: 1, output: 0 })?.cost).toBe('0.000000002');
    expect(t.estimate('above', { uncachedInput: 1, output: 0 })?.cost).toBe('0.000000001');
  });

  it('sums many small estimates to what big.js computes independently', () => {
    const prices = loadDefaultPrices(CONFIGS, 'deepseek');
    const p = byModel(prices, 'deepseek-v4-pro');
    let ours = new Big(0);
    let theirs = new Big(0);
    let floats = 0;
    for (let i = 1; i <= 2000; i++) {
      const u = { uncachedInput: i * 7, cachedInput: i * 13, output: i * 3 };
      const cost = table.estimate('deepseek-v4-pro', u)?.cost ?? 'missing';
      ours = ours.plus(cost);
      floats += Number(cost);
      const exact = new Big(u.uncachedInput).times(p.input).plus(new Big(u.cachedInput).times(p.cachedInput ?? 'x')).plus(new Big(u.output).times(p.output)).div(1_000_000);
      theirs = theirs.plus(exact.round(9, Big.roundHalfEven));
    }
    expect(ours.eq(theirs)).toBe(true);
    expect(ours.toFixed(9)).toBe(theirs.toFixed(9));
    expect(new Big(floats).eq(ours)).toBe(false); // what a float accumulator would have got wrong
  });

  it('falls back to the input price for an empty cache price', () => {
    // deepseek-v3.2 has no cache-read price; text-embedding-3-small has no cache prices at all
    expect(table.estimate('deepseek-v3.2', { uncachedInput: 0, cachedInput: 1_000_000, output: 0 })?.cost).toBe('0.2288');
    expect(table.estimate('text-embedding-3-small', { uncachedInput: 0, cacheWrite5m: 1_000_000, cacheWrite1h: 1_000_000, output: 0 })?.cost).toBe('0.04');
  });

  it('switches the whole request to the tier above the threshold (a cliff), counting all input', () => {
    const at = table.estimate('claude-sonnet-4-5', { uncachedInput: 200_000, output: 1_000_000 });
    expect(at).toMatchObject({ cost: '15.6', tiered: false }); // 0.6 + 15
    const over = table.estimate('claude-sonnet-4-5', { uncachedInput: 200_001, output: 1_000_000 });
    expect(over).toMatchObject({ cost: '23.700006', tiered: true }); // 200001 × 6/M + 22.5
    // cache reads and writes count toward the threshold
    expect(table.estimate('claude-sonnet-4-5', { uncachedInput: 100_000, cachedInput: 50_000, cacheWrite5m: 25_000, cacheWrite1h: 25_000, output: 0 })?.tiered).toBe(false);
    const mixed = table.estimate('claude-sonnet-4-5', { uncachedInput: 100_000, cachedInput: 50_000, cacheWrite5m: 25_000, cacheWrite1h: 25_001, output: 0 });
    expect(mixed).toMatchObject({ tiered: true, cost: '1.117512' }); // 0.6 + 0.03 + 0.1875 + 0.300012
  });

  it('falls back per field to the base price when a tier price is empty', () => {
    const t = new PriceTable([{ model: 'm', input: '1', cachedInput: '0.1', output: '2', tier: { thresholdTokens: 10, input: '3' } }]);
    // tiered: input 3, cached 0.1 (base), output 2 (base)
    expect(t.estimate('m', { uncachedInput: 1_000_000, cachedInput: 1_000_000, output: 1_000_000 })).toMatchObject({ cost: '5.1', tiered: true });
    const noCache = new PriceTable([{ model: 'm', input: '1', output: '2', tier: { thresholdTokens: 10, input: '3' } }]);
    // no cache price anywhere: the tier's input price
    expect(noCache.estimate('m', { uncachedInput: 0, cachedInput: 1_000_000, output: 0 })?.cost).toBe('3');
  });

  it('returns undefined for an unknown model and refuses non-integer or negative counts', () => {
    expect(table.estimate('llama-3', { uncachedInput: 1, output: 1 })).toBeUndefined();
    expect(() => table.estimate('gpt-4o', { uncachedInput: 1.5, output: 0 })).toThrow(RangeError);
    expect(() => table.estimate('gpt-4o', { uncachedInput: 0, cachedInput: -1, output: 0 })).toThrow(/cachedInput/);
    expect(() => table.estimate('gpt-4o', { uncachedInput: 0, output: Number.NaN })).toThrow(/output/);
    expect(() => table.estimate('gpt-4o', { uncachedInput: 2 ** 53, output: 0 })).toThrow(RangeError);
  });

  // Prices as 1e-12 units, so they reach 12 decimal places and tiny values that big.js would print with an exponent.
  const units = fc.bigInt({ min: 0n, max: 10n ** 15n });
  const anyPrice: fc.Arbitrary<ModelPrice> = fc
    .record({
      input: units,
      cachedInput: fc.option(units, { nil: undefined }),
      cacheWrite5m: fc.option(units, { nil: undefined }),
      cacheWrite1h: fc.option(units, { nil: undefined }),
      output: units,
      tier: fc.option(fc.record({ thresholdTokens: fc.integer({ min: 1, max: 2_000_000 }), extra: fc.array(units, { minLength: 5, maxLength: 5 }) }), { nil: undefined }),
    })
    .map((r) => {
      const p: ModelPrice = { model: 'm', input: unitsToPrice(r.input), output: unitsToPrice(r.output) };
      const keys = ['input', 'cachedInput', 'cacheWrite5m', 'cacheWrite1h', 'output'] as const;
      for (const k of ['cachedInput', 'cacheWrite5m', 'cacheWrite1h'] as const) if (r[k] !== undefined) p[k] = unitsToPrice(r[k]);
      if (r.tier !== undefined) {
        // tier prices ≥ base prices, as every real tier is; only then is cost monotonic across the cliff
        const tier: NonNullable<ModelPrice['tier']> = { thresholdTokens: r.tier.thresholdTokens };
        keys.forEach((k, i) => {
          const base = p[k];
          if (base !== undefined) tier[k] = unitsToPrice(priceUnits(base) + (r.tier?.extra[i] ?? 0n));
        });
        p.tier = tier;
      }
      return p;
    });
  const count = fc.integer({ min: 0, max: 1_000_000_000 });
  const anyUsage: fc.Arbitrary<TokenUsage> = fc.record({
    uncachedInput: count,
    cachedInput: fc.option(count, { nil: undefined }),
    cacheWrite5m: fc.option(count, { nil: undefined }),
    cacheWrite1h: fc.option(count, { nil: undefined }),
    output: count,
  });
  const FIELDS = ['uncachedInput', 'cachedInput', 'cacheWrite5m', 'cacheWrite1h', 'output'] as const;

  it('agrees with integer arithmetic in 1e-18 USD (property)', () => {
    fc.assert(
      fc.property(anyPrice, anyUsage, (price, usage) => {
        const e = new PriceTable([price]).estimate('m', usage);
        expect(e?.cost).toBe(referenceCost(price, usage));
        expect(e?.cost).toMatch(/^(0|[1-9]\d*)(\.\d{0,8}[1-9])?$/); // canonical, no exponent, ≤ 9 decimals
      }),
      { numRuns: 500 },
    );
  });

  it('never falls when a token count rises (property)', () => {
    fc.assert(
      fc.property(anyPrice, anyUsage, fc.constantFrom(...FIELDS), fc.integer({ min: 1, max: 1_000_000 }), (price, usage, field, more) => {
        const t = new PriceTable([price]);
        const before = t.estimate('m', usage)?.cost ?? 'missing';
        const after = t.estimate('m', { ...usage, [field]: (usage[field] ?? 0) + more })?.cost ?? 'missing';
        expect(new Big(after).gte(before)).toBe(true);
      }),
      { numRuns: 500 },
    );
  });

  it('agrees with integer arithmetic for the shipped prices (property)', () => {
    const all = [...loadDefaultPrices(CONFIGS, 'openai'), ...loadDefaultPrices(CONFIGS, 'anthropic'), ...loadDefaultPrices(CONFIGS, 'deepseek')];
    fc.assert(
      fc.property(fc.constantFrom(...all), anyUsage, (price, usage) => {
        expect(table.estimate(price.model, usage)?.cost).toBe(referenceCost(price, usage));
      }),
      { numRuns: 300 },
    );
  });
});
