import fs from 'node:fs';
import path from 'node:path';
import Big from 'big.js';
import { Type, type Static } from '@sinclair/typebox';
import { parse } from 'csv-parse/sync';
import { AppError } from '../core/errors.js';

/**
 * Model list prices, and the table that turns token usage into an estimated cost.
 *
 * Glossary:
 * - price: USD per 1,000,000 tokens, held as a canonical decimal string ("2.5", never "2.50" or 2.5).
 *   Money never passes through a binary float: strings in, big.js arithmetic, strings out.
 * - cached input: tokens read from the provider's prompt cache (OpenAI "cached", Anthropic "cache read",
 *   DeepSeek "cache hit").
 * - cache write: tokens written to the prompt cache. Anthropic prices 5-minute and 1-hour writes apart;
 *   a provider with a single write price keeps it in `cacheWrite5m`.
 * - tier: a long-context "cliff". When a request's total input tokens exceed `thresholdTokens`, the tier
 *   prices apply to the whole request, output included (genai-prices `TieredPrices`).
 */
export interface ModelPrice {
  model: string;
  input: string;
  cachedInput?: string;
  cacheWrite5m?: string;
  cacheWrite1h?: string;
  output: string;
  tier?: { thresholdTokens: number; input?: string; cachedInput?: string; cacheWrite5m?: string; cacheWrite1h?: string; output?: string };
  source?: string;
  checked?: string;
}

/** Token counts of one request, or of a bucket of requests of one model (integers ≥ 0). */
export interface TokenUsage {
  uncachedInput: number;
  cachedInput?: number;
  cacheWrite5m?: number;
  cacheWrite1h?: number;
  output: number;
}

export interface CostEstimate {
  /** USD, exact decimal, at most 9 decimal places (rounded half-even once, at the end). */
  cost: string;
  price: ModelPrice;
  /** Whether the long-context tier prices applied. */
  tiered: boolean;
}

// ---------------------------------------------------------------------------------------------------
// Shared validation

/** Non-negative decimal, no sign, no exponent, at most 9 integer digits and 9 decimal places (the NUMERIC columns that store overrides keep 9). */
export const DECIMAL_PATTERN = '^(0|[1-9][0-9]{0,8})(\\.[0-9]{1,9})?$';
export const MODEL_ID_PATTERN = '^[A-Za-z0-9][A-Za-z0-9._:/-]{0,127}$';
const DECIMAL_RE = new RegExp(DECIMAL_PATTERN);
const MODEL_ID_RE = new RegExp(MODEL_ID_PATTERN);
const THRESHOLD_RE = /^[1-9][0-9]{0,14}$/;
const DATE_RE = /^\d{4}-\d{2}-\d{2}$/;

/** "2.50" → "2.5", "1.0" → "1". The input must already match DECIMAL_PATTERN. */
function canonicalDecimal(text: string): string {
  return text.includes('.') ? text.replace(/0+$/, '').replace(/\.$/, '') : text;
}

function isCalendarDate(text: string): boolean {
  if (!DATE_RE.test(text)) return false;
  const d = new Date(`${text}T00:00:00Z`);
  return !Number.isNaN(d.getTime()) && d.toISOString().startsWith(text);
}

// ---------------------------------------------------------------------------------------------------
// CSV seed files

export const PRICING_CSV_COLUMNS = [
  'model',
  'input',
  'cached_input',
  'cache_write_5m',
  'cache_write_1h',
  'output',
  'tier_threshold_tokens',
  'tier_input',
  'tier_cached_input',
  'tier_cache_write_5m',
  'tier_cache_write_1h',
  'tier_output',
  'source',
  'checked',
] as const;
type PricingColumn = (typeof PRICING_CSV_COLUMNS)[number];

/** Price fields of ModelPrice (and of its tier), with the CSV column of each. */
const PRICE_FIELDS = [
  { key: 'input', column: 'input', tierColumn: 'tier_input' },
  { key: 'cachedInput', column: 'cached_input', tierColumn: 'tier_cached_input' },
  { key: 'cacheWrite5m', column: 'cache_write_5m', tierColumn: 'tier_cache_write_5m' },
  { key: 'cacheWrite1h', column: 'cache_write_1h', tierColumn: 'tier_cache_write_1h' },
  { key: 'output', column: 'output', tierColumn: 'tier_output' },
] as const satisfies readonly { key: string; column: PricingColumn; tierColumn: PricingColumn }[];
type PriceKey = (typeof PRICE_FIELDS)[number]['key'];

/** A defect in a price file; `line` and `column` are 1-based, as editors count them. */
export class PriceFileError extends Error {
  constructor(
    readonly file: string,
    readonly line: number,
    readonly column: number | undefined,
    detail: string,
  ) {
    super(`${file}:${line}${column === undefined ? '' : `:${column}`}: ${detail}`);
    this.name = 'PriceFileError';
  }
}

interface CsvRow {
  record: string[];
  info: { lines: number };
}

/**
 * Parses a pricing CSV strictly: exact header, one row per model id (unique, case-insensitively, as
 * lookups are), decimals as DECIMAL_PATTERN, `input` and `output` required, tier columns all-or-nothing.
 */
export function parsePricingCsv(text: string, file: string): ModelPrice[] {
  let rows: CsvRow[];
  try {
    rows = parse(text, { info: true, bom: true, skip_empty_lines: true, relax_column_count: true }) as unknown as CsvRow[];
  } catch (e) {
    const line = typeof (e as { lines?: unknown }).lines === 'number' ? (e as { lines: number }).lines : 1;
    throw new PriceFileError(file, line, undefined, (e as Error).message);
  }
  const [header, ...body] = rows;
  if (header === undefined) throw new PriceFileError(file, 1, undefined, 'empty file; expected the header line');
  PRICING_CSV_COLUMNS.forEach((name, i) => {
    if (header.record[i] !== name) {
      throw new PriceFileError(file, header.info.lines, i + 1, `header column ${i + 1} must be "${name}", found ${JSON.stringify(header.record[i] ?? null)}; expected header: ${PRICING_CSV_COLUMNS.join(',')}`);
    }
  });
  if (header.record.length !== PRICING_CSV_COLUMNS.length) {
    throw new PriceFileError(file, header.info.lines, PRICING_CSV_COLUMNS.length + 1, `header has ${header.record.length} columns, expected ${PRICING_CSV_COLUMNS.length}`);
  }
  const seen = new Map<string, number>();
  return body.map(({ record, info }) => {
    const line = info.lines;
    if (record.length !== PRICING_CSV_COLUMNS.length) {
      throw new PriceFileError(file, line, undefined, `expected ${PRICING_CSV_COLUMNS.length} fields, found ${record.length}`);
    }
    const price = parseRow(record, (column, detail) => {
      const index = PRICING_CSV_COLUMNS.indexOf(column);
      return new PriceFileError(file, line, index + 1, `column "${column}": ${detail}`);
    });
    const key = price.model.toLowerCase();
    const first = seen.get(key);
    if (first !== undefined) throw new PriceFileError(file, line, 1, `column "model": duplicate model "${price.model}" (first on line ${first})`);
    seen.set(key, line);
    return price;
  });
}

function parseRow(record: string[], fail: (column: PricingColumn, detail: string) => PriceFileError): ModelPrice {
  const cell = (column: PricingColumn): string => record[PRICING_CSV_COLUMNS.indexOf(column)] ?? '';
  const decimal = (column: PricingColumn): string | undefined => {
    const v = cell(column);
    if (v === '') return undefined;
    if (!DECIMAL_RE.test(v)) throw fail(column, `${JSON.stringify(v)} is not a non-negative decimal (digits, optional point, at most 9 decimal places, no sign, exponent or currency)`);
    return canonicalDecimal(v);
  };

  const model = cell('model');
  if (!MODEL_ID_RE.test(model)) throw fail('model', `${JSON.stringify(model)} is not a model id (${MODEL_ID_PATTERN})`);
  const price: Partial<ModelPrice> & { model: string } = { model };
  for (const f of PRICE_FIELDS) {
    const v = decimal(f.column);
    if (v !== undefined) price[f.key] = v;
  }
  if (price.input === undefined) throw fail('input', 'required');
  if (price.output === undefined) throw fail('output', 'required (write 0 for a model that bills no output)');

  const threshold = cell('tier_threshold_tokens');
  if (threshold === '') {
    for (const f of PRICE_FIELDS) {
      if (cell(f.tierColumn) !== '') throw fail(f.tierColumn, 'a tier price needs tier_threshold_tokens');
    }
  } else {
    if (!THRESHOLD_RE.test(threshold)) throw fail('tier_threshold_tokens', `${JSON.stringify(threshold)} is not a positive integer`);
    const tier: NonNullable<ModelPrice['tier']> = { thresholdTokens: Number(threshold) };
    // All-or-nothing: a tiered model gives a tier price for exactly the prices it has below the threshold.
    for (const f of PRICE_FIELDS) {
      const v = decimal(f.tierColumn);
      if (v === undefined && price[f.key] !== undefined) throw fail(f.tierColumn, `missing; tier columns are all-or-nothing (${f.column} is set)`);
      if (v !== undefined && price[f.key] === undefined) throw fail(f.tierColumn, `set while ${f.column} is empty`);
      if (v !== undefined) tier[f.key] = v;
    }
    price.tier = tier;
  }

  const source = cell('source');
  if (source !== '') {
    if (source.length > 200 || /\p{Cc}/u.test(source)) throw fail('source', 'at most 200 characters, no control characters');
    price.source = source;
  }
  const checked = cell('checked');
  if (checked !== '') {
    if (!isCalendarDate(checked)) throw fail('checked', `${JSON.stringify(checked)} is not a date (YYYY-MM-DD)`);
    price.checked = checked;
  }
  return price as ModelPrice;
}

export const PRICE_PROVIDERS = ['openai', 'anthropic', 'deepseek'] as const;
export type PriceProvider = (typeof PRICE_PROVIDERS)[number];

const defaultsCache = new Map<string, readonly ModelPrice[]>();

/**
 * The shipped list prices of one provider, `{configsDir}/{provider}/seed/pricing.csv`.
 * Parsed once per path; the result is frozen because it is shared.
 */
export function loadDefaultPrices(configsDir: string, provider: PriceProvider): ModelPrice[] {
  const file = path.resolve(configsDir, provider, 'seed', 'pricing.csv');
  let prices = defaultsCache.get(file);
  if (prices === undefined) {
    prices = Object.freeze(parsePricingCsv(fs.readFileSync(file, 'utf8'), file).map(deepFreeze));
    defaultsCache.set(file, prices);
  }
  // The array is frozen at runtime; the mutable type only spares callers a readonly cast.
  return prices as ModelPrice[];
}

function deepFreeze(p: ModelPrice): ModelPrice {
  if (p.tier !== undefined) Object.freeze(p.tier);
  return Object.freeze(p);
}

// ---------------------------------------------------------------------------------------------------
// API body of PUT /api/v1/integrations/{org}/{provider}/pricing

/**
 * Prices are JSON strings, not numbers: a JSON number reaches us as a binary double (0.1 is already
 * 0.1000000000000000055…), and we would then have to guess which decimal the client meant. A string
 * validated against DECIMAL_PATTERN is exactly what the client wrote.
 */
const PriceString = Type.String({ pattern: DECIMAL_PATTERN, maxLength: 22, description: 'USD per 1,000,000 tokens, decimal string, e.g. "2.5"; at most 9 decimal places' });

export const ModelPriceOverride = Type.Object(
  {
    model: Type.String({ pattern: MODEL_ID_PATTERN, maxLength: 128, description: 'Model id; also prices dated variants (gpt-4o → gpt-4o-2024-08-06)' }),
    input: PriceString,
    output: PriceString,
    cached_input: Type.Optional(PriceString),
    cache_write_5m: Type.Optional(PriceString),
    cache_write_1h: Type.Optional(PriceString),
  },
  { additionalProperties: false },
);
export type ModelPriceOverride = Static<typeof ModelPriceOverride>;

export const PriceOverrides = Type.Object(
  { prices: Type.Array(ModelPriceOverride, { maxItems: 500, description: 'Replaces the list prices of these models for this org (default: none)' }) },
  { additionalProperties: false },
);
export type PriceOverrides = Static<typeof PriceOverrides>;

/** Converts a schema-valid override body; a model given twice (case-insensitively) is a VALIDATION_FAILED error. */
export function overridesToModelPrices(body: PriceOverrides): ModelPrice[] {
  const seen = new Set<string>();
  return body.prices.map((o, i) => {
    const key = o.model.toLowerCase();
    if (seen.has(key)) throw new AppError('VALIDATION_FAILED', `prices/${i}/model: duplicate model "${o.model}"`);
    seen.add(key);
    const price: ModelPrice = { model: o.model, input: canonicalDecimal(o.input), output: canonicalDecimal(o.output), source: 'override' };
    if (o.cached_input !== undefined) price.cachedInput = canonicalDecimal(o.cached_input);
    if (o.cache_write_5m !== undefined) price.cacheWrite5m = canonicalDecimal(o.cache_write_5m);
    if (o.cache_write_1h !== undefined) price.cacheWrite1h = canonicalDecimal(o.cache_write_1h);
    return price;
  });
}

// ---------------------------------------------------------------------------------------------------
// The table

const PER_TOKEN = new Big('0.000001'); // prices are per 1M tokens; multiplying keeps big.js exact (division would round at Big.DP)
const COST_DP = 9;

export class PriceTable {
  private readonly byId = new Map<string, ModelPrice>();

  /** Overrides (an org's own prices) replace defaults of the same id, case-insensitively. */
  constructor(defaults: readonly ModelPrice[], overrides: readonly ModelPrice[] = []) {
    for (const list of [defaults, overrides]) {
      const inList = new Set<string>();
      for (const p of list) {
        const key = p.model.toLowerCase();
        if (inList.has(key)) throw new Error(`PriceTable: model "${p.model}" is listed twice`);
        inList.add(key);
        this.byId.set(key, p);
      }
    }
  }

  /**
   * Exact id first, then the longest id that is a prefix ending at a `-` of the requested one, so
   * `gpt-4o-mini-2024-07-18` finds `gpt-4o-mini` (not `gpt-4o`), and `gpt-4o-mini` never finds `gpt-4`.
   */
  lookup(model: string): ModelPrice | undefined {
    const id = model.toLowerCase();
    const exact = this.byId.get(id);
    if (exact !== undefined) return exact;
    for (let i = id.lastIndexOf('-'); i > 0; i = id.lastIndexOf('-', i - 1)) {
      const hit = this.byId.get(id.slice(0, i));
      if (hit !== undefined) return hit;
    }
    return undefined;
  }

  /**
   * Cost of `usage` at the model's prices; undefined when no price is known for the model.
   *
   * An empty cache price falls back to the input price (of the tier in effect). No provider multiplier
   * (Anthropic's 0.1× read, 1.25×/2× writes) is implied in code: prices are data, and a missing one is
   * charged like plain input. For cache reads that over-estimates, never under-estimates; for cache
   * writes it is what providers without a write price (OpenAI, DeepSeek) bill.
   */
  estimate(model: string, usage: TokenUsage): CostEstimate | undefined {
    const price = this.lookup(model);
    if (price === undefined) return undefined;
    const uncached = tokens(usage.uncachedInput, 'uncachedInput');
    const cached = tokens(usage.cachedInput ?? 0, 'cachedInput');
    const write5m = tokens(usage.cacheWrite5m ?? 0, 'cacheWrite5m');
    const write1h = tokens(usage.cacheWrite1h ?? 0, 'cacheWrite1h');
    const output = tokens(usage.output, 'output');

    const totalInput = uncached + cached + write5m + write1h;
    const tier = price.tier !== undefined && totalInput > BigInt(price.tier.thresholdTokens) ? price.tier : undefined;
    const rate = (key: PriceKey): string | undefined => tier?.[key] ?? price[key];
    const input = rate('input') ?? price.input;

    const sum = new Big(uncached.toString())
      .times(input)
      .plus(new Big(cached.toString()).times(rate('cachedInput') ?? input))
      .plus(new Big(write5m.toString()).times(rate('cacheWrite5m') ?? input))
      .plus(new Big(write1h.toString()).times(rate('cacheWrite1h') ?? input))
      .plus(new Big(output.toString()).times(rate('output') ?? price.output));
    const cost = sum.times(PER_TOKEN).round(COST_DP, Big.roundHalfEven);
    return { cost: canonicalDecimal(cost.toFixed(COST_DP)), price, tiered: tier !== undefined };
  }
}

function tokens(n: number, field: string): bigint {
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`TokenUsage.${field} must be an integer ≥ 0, got ${n}`);
  return BigInt(n);
}
