/**
 * The seeded row generator of the synthetic GCP billing export (`gcpBillingRows`, one usage day
 * at a time) and its money/micros and UTC day/timestamp helpers.
 */
import {
  ADJUSTMENT_MODES,
  ADJUSTMENT_TYPES,
  COMPUTE_SYSTEM_LABELS,
  GCP_BILLING_ACCOUNTS,
  GLOBAL,
  INVOICE_SERVICE,
  RESELLER,
  ROUNDING_SKU,
  SERVICES,
  TAX_SKU,
  type GcpBillingProjectSpec,
} from './catalogue.js';
import { Rng, cumulative } from './random.js';
import { deepFreeze } from './serialize.js';
import type { GcpAdjustmentInfo, GcpBillingRow, GcpCostType, GcpCredit, GeneratedGcpBillingRow } from './types.js';
import { SERVICE_REFS, SKU_INDEX, WORLD, type AccountWorld, type CreditTemplate } from './world.js';

const ACCOUNT_CUM = cumulative(GCP_BILLING_ACCOUNTS.map((a) => a.weight));
const SERVICE_CUM = cumulative(SERVICES.map((s) => s.weight));

// ---------------------------------------------------------------------------------------------
// Money and time

/** Exact decimal text of `micros` / 10^6: no exponent, no trailing zeros ("-1.5", "0.000001", "0"). */
export function formatMicros(micros: bigint): string {
  const negative = micros < 0n;
  const abs = negative ? -micros : micros;
  const whole = abs / 1_000_000n;
  const fraction = (abs % 1_000_000n).toString().padStart(6, '0').replace(/0+$/, '');
  return `${negative ? '-' : ''}${whole}${fraction === '' ? '' : `.${fraction}`}`;
}

/**
 * The JSON number for an integer number of micros. Below 10^15 micros the decimal has at most 15
 * significant digits, so the double nearest to it prints back as exactly that decimal.
 */
function microsToNumber(micros: number): number {
  if (!Number.isSafeInteger(micros) || Math.abs(micros) >= 1e15) throw new RangeError(`amount out of range: ${micros} micros`);
  return micros / 1e6;
}

export const DAY_MS = 86_400_000;
const HOUR_US = 3_600_000_000;
const DAY_RE = /^(\d{4})-(\d{2})-(\d{2})$/;

/** Epoch milliseconds of 00:00 UTC of a `YYYY-MM-DD` calendar date, or undefined if it is not one. */
export function parseUtcDay(day: string): number | undefined {
  const m = DAY_RE.exec(day);
  if (m === null) return undefined;
  const ms = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]));
  return new Date(ms).toISOString().slice(0, 10) === day ? ms : undefined;
}

export const isoDay = (ms: number): string => new Date(ms).toISOString().slice(0, 10);

/**
 * BigQuery extract renderings of a TIMESTAMP, all of which a reader must accept:
 * `2026-11-20 03:00:00 UTC`, `2026-11-20 03:00:00.123456 UTC` and `2026-11-20T03:00:00Z`.
 */
const TS_FORMATS = ['utc', 'utc-micros', 'iso'] as const;
type TsFormat = 0 | 1 | 2;

function formatTimestamp(epochMicros: number, format: TsFormat): string {
  const iso = new Date(Math.floor(epochMicros / 1000)).toISOString();
  const date = iso.slice(0, 10);
  const time = iso.slice(11, 19);
  switch (TS_FORMATS[format]) {
    case 'utc':
      return `${date} ${time} UTC`;
    case 'utc-micros':
      return `${date} ${time}.${String(epochMicros % 1e6).padStart(6, '0')} UTC`;
    case 'iso':
      return `${date}T${time}Z`;
  }
}

const LA_MONTH = new Intl.DateTimeFormat('en-US', { timeZone: 'America/Los_Angeles', year: 'numeric', month: '2-digit' });

/** Invoice months follow US Pacific time, so the first UTC hours of a month bill to the previous one. */
function invoiceMonth(ms: number): string {
  const parts = LA_MONTH.formatToParts(ms);
  const get = (type: string): string => parts.find((p) => p.type === type)?.value ?? '';
  return `${get('year')}${get('month')}`;
}

// ---------------------------------------------------------------------------------------------
// Rows

export interface GcpBillingRowsOptions {
  /** Usage day, `YYYY-MM-DD` (UTC). */
  day: string;
  /** Rows in the day, tax rows included; at least one per billing account. */
  rowsPerDay: number;
  seed: number;
}

/** Share of rows exported 1–5 days after their usage day. */
const LATE_SHARE = 0.07;
const ADJUSTMENT_SHARE = 0.004;
const ROUNDING_SHARE = 0.003;
const RESELLER_SHARE = 0.015;
const EMPTY: never[] = deepFreeze([]);

/**
 * The rows of one usage day, lazily: regular usage (with occasional adjustment and rounding_error
 * rows) spread over the 24 hourly windows, then one tax row per billing account.
 */
export function* gcpBillingRows(opts: GcpBillingRowsOptions): Generator<GeneratedGcpBillingRow, void, undefined> {
  const problems = rowsOptionProblems(opts);
  if (problems.length > 0) throw new RangeError(problems.join('; '));
  const dayMs = parseUtcDay(opts.day) as number;
  const epochDay = dayMs / DAY_MS;
  const rng = new Rng(opts.seed, epochDay);
  const dayUs = dayMs * 1000;

  // Per-day constants: the EUR rate of the day and the renderings of each hourly window.
  // One division of integers, so the rate prints as its 4 decimals.
  const eurRate = rng.int(9_150, 9_250) / 10_000;
  const windows = Array.from({ length: 24 }, (_, h) => {
    const start = dayUs + h * HOUR_US;
    const end = start + HOUR_US;
    return {
      start: ([0, 1, 2] as const).map((f) => formatTimestamp(start, f)),
      end: ([0, 1, 2] as const).map((f) => formatTimestamp(end, f)),
      endUs: end,
      invoice: deepFreeze({ month: invoiceMonth(start / 1000), publisher_type: 'GOOGLE' }),
    };
  });
  const netByAccount = WORLD.map(() => 0n);

  const drawFormat = (): TsFormat => {
    const r = rng.float();
    return r < 0.5 ? 0 : r < 0.85 ? 1 : 2;
  };
  /** Normal rows land a few hours after their window; late ones on day D+1…D+5. */
  const drawExport = (endUs: number, late: boolean): number =>
    late ? dayUs + rng.int(1, 5) * DAY_MS * 1000 + Math.floor(rng.float() * DAY_MS * 1000) : endUs + 15 * 60e6 + Math.floor(rng.float() * 5 * HOUR_US);

  const usageRows = opts.rowsPerDay - WORLD.length;
  for (let i = 0; i < usageRows; i++) {
    const hour = Math.floor((i * 24) / usageRows);
    const w = windows[hour] as (typeof windows)[number];
    const a = rng.weighted(WORLD, ACCOUNT_CUM);
    const accountIndex = WORLD.indexOf(a);
    const rate = a.spec.currency === 'USD' ? 1 : eurRate;
    const fmt = drawFormat();
    const kindDraw = rng.float();
    const kind: GcpCostType = kindDraw < ADJUSTMENT_SHARE ? 'adjustment' : kindDraw < ADJUSTMENT_SHARE + ROUNDING_SHARE ? 'rounding_error' : 'regular';
    const late = rng.chance(kind === 'adjustment' ? 0.8 : kind === 'rounding_error' ? 0.5 : LATE_SHARE);
    const exportTime = formatTimestamp(drawExport(w.endUs, late), fmt);
    const reseller = a.spec.currency === 'USD' && rng.chance(RESELLER_SHARE);
    const transactionType = reseller ? 'THIRD_PARTY_RESELLER' : 'GOOGLE';
    const sellerName = reseller ? RESELLER : a.spec.seller;

    let row: GcpBillingRow;
    let costMicros: number;
    let creditsMicros = 0;
    if (kind === 'rounding_error') {
      costMicros = (rng.chance(0.5) ? -1 : 1) * rng.int(1, 9_999);
      const cost = microsToNumber(costMicros);
      row = {
        billing_account_id: a.spec.id,
        service: INVOICE_SERVICE,
        sku: ROUNDING_SKU,
        usage_start_time: w.start[fmt] as string,
        usage_end_time: w.end[fmt] as string,
        project: null,
        labels: EMPTY,
        system_labels: EMPTY,
        location: GLOBAL,
        tags: EMPTY,
        export_time: exportTime,
        cost,
        cost_at_list: cost,
        currency: a.spec.currency,
        currency_conversion_rate: rate,
        usage: { amount: 0, unit: 'count', amount_in_pricing_units: 0, pricing_unit: 'count' },
        credits: EMPTY,
        invoice: w.invoice,
        cost_type: kind,
        adjustment_info: null,
        transaction_type: transactionType,
        seller_name: sellerName,
      };
    } else {
      const projectIndex = rng.int(0, a.spec.projects.length - 1);
      const p = a.spec.projects[projectIndex] as GcpBillingProjectSpec;
      const service = rng.weighted(SERVICES, SERVICE_CUM);
      const s = rng.pick(service.skus);
      const skuIndex = SKU_INDEX.get(s) as number;
      const u = rng.float();
      const qty = s.qty[0] + (s.qty[1] - s.qty[0]) * u * u * u;
      let amount = Math.max(1, Math.round(qty * s.perPricingUnit));
      const listUsdMicros = (amount / s.perPricingUnit) * s.usdPerPricingUnit * 1e6;
      const discount = a.spec.negotiated[service.id] ?? 0;
      let listMicros = Math.round(listUsdMicros * rate);
      costMicros = Math.round(listUsdMicros * (1 - discount) * rate);
      let credits: GcpCredit[] = EMPTY;
      let adjustment: GcpAdjustmentInfo | null = null;

      if (kind === 'adjustment') {
        const mode = rng.pick(ADJUSTMENT_MODES);
        const type = mode === 'COMPLETE_NEGATION' ? 'USAGE_CORRECTION' : rng.pick(ADJUSTMENT_TYPES);
        if (mode === 'COMPLETE_NEGATION') {
          amount = -amount;
          costMicros = -costMicros;
          listMicros = -listMicros;
        } else if (mode === 'PARTIAL_CORRECTION') {
          const share = 0.05 + 0.45 * rng.float();
          const sign = rng.chance(0.5) ? -1 : 1;
          costMicros = sign * Math.max(1, Math.round(costMicros * share));
          listMicros = sign * Math.max(1, Math.round(listMicros * share));
          amount = 0;
        } else {
          // A manual credit memo for a fixed sum.
          costMicros = -rng.int(1, 50) * 1_000_000;
          listMicros = costMicros;
          amount = 0;
        }
        adjustment = {
          id: `${rng.hex(8)}-${rng.hex(4)}-${rng.hex(4)}-${rng.hex(4)}-${rng.hex(12)}`,
          description: `${type === 'GOODWILL' ? 'Goodwill credit' : 'Billing correction'} for ${a.skus[skuIndex]?.description ?? s.description}`,
          mode,
          type,
        };
      } else if (costMicros > 0) {
        const candidates = a.credits[skuIndex] ?? [];
        const r = rng.float();
        const count = candidates.length === 0 ? 0 : r < 0.06 && candidates.length > 1 ? 2 : r < 0.3 ? 1 : 0;
        if (count > 0) {
          credits = [];
          const first = rng.int(0, candidates.length - 1);
          let remaining = costMicros;
          for (let c = 0; c < count; c++) {
            const t = candidates[(first + c) % candidates.length] as CreditTemplate;
            const share = t.share[0] + (t.share[1] - t.share[0]) * rng.float();
            const micros = Math.floor(remaining * share);
            if (micros <= 0) continue;
            remaining -= micros;
            creditsMicros -= micros;
            credits.push({ name: t.name, amount: microsToNumber(-micros), full_name: t.full_name, id: t.id, type: t.type });
          }
        }
      }

      row = {
        billing_account_id: a.spec.id,
        service: SERVICE_REFS.get(service) as { id: string; description: string },
        sku: a.skus[skuIndex] as { id: string; description: string },
        usage_start_time: w.start[fmt] as string,
        usage_end_time: w.end[fmt] as string,
        project: p.project,
        labels: rng.pick(a.labelSets[projectIndex] ?? EMPTY),
        system_labels: s.compute ? rng.pick(COMPUTE_SYSTEM_LABELS) : EMPTY,
        location: s.scope === 'zone' ? rng.pick(a.zones) : s.scope === 'region' ? rng.pick(a.regions) : s.scope === 'multi' ? a.multi : GLOBAL,
        tags: rng.pick(a.tagSets[projectIndex] ?? EMPTY),
        export_time: exportTime,
        cost: microsToNumber(costMicros),
        cost_at_list: microsToNumber(listMicros),
        currency: a.spec.currency,
        currency_conversion_rate: rate,
        usage: { amount, unit: s.unit, amount_in_pricing_units: amount / s.perPricingUnit, pricing_unit: s.pricingUnit },
        credits,
        invoice: w.invoice,
        cost_type: kind,
        adjustment_info: adjustment,
        transaction_type: transactionType,
        seller_name: sellerName,
      };
    }
    const cost = BigInt(costMicros);
    const creditSum = BigInt(creditsMicros);
    netByAccount[accountIndex] = (netByAccount[accountIndex] as bigint) + cost + creditSum;
    yield { row, costMicros: cost, creditsMicros: creditSum, currency: a.spec.currency };
  }

  // One tax row per account, on the day's net charges (never negative).
  const last = windows[23] as (typeof windows)[number];
  for (let i = 0; i < WORLD.length; i++) {
    const a = WORLD[i] as AccountWorld;
    const net = netByAccount[i] as bigint;
    const tax = net > 0n ? (net * BigInt(a.spec.taxBasisPoints) + 5_000n) / 10_000n : 0n;
    const fmt = drawFormat();
    const cost = microsToNumber(Number(tax));
    const row: GcpBillingRow = {
      billing_account_id: a.spec.id,
      service: INVOICE_SERVICE,
      sku: TAX_SKU,
      usage_start_time: last.start[fmt] as string,
      usage_end_time: last.end[fmt] as string,
      project: null,
      labels: EMPTY,
      system_labels: EMPTY,
      location: a.multi,
      tags: EMPTY,
      export_time: formatTimestamp(last.endUs + 2 * HOUR_US + Math.floor(rng.float() * 8 * HOUR_US), fmt),
      cost,
      cost_at_list: cost,
      currency: a.spec.currency,
      currency_conversion_rate: a.spec.currency === 'USD' ? 1 : eurRate,
      usage: { amount: 0, unit: 'count', amount_in_pricing_units: 0, pricing_unit: 'count' },
      credits: EMPTY,
      invoice: last.invoice,
      cost_type: 'tax',
      adjustment_info: null,
      transaction_type: 'GOOGLE',
      seller_name: a.spec.seller,
    };
    yield { row, costMicros: tax, creditsMicros: 0n, currency: a.spec.currency };
  }
}

export function rowsOptionProblems(opts: GcpBillingRowsOptions): string[] {
  const problems: string[] = [];
  if (parseUtcDay(opts.day) === undefined) problems.push(`day must be a calendar date YYYY-MM-DD, got ${JSON.stringify(opts.day)}`);
  if (!Number.isSafeInteger(opts.rowsPerDay) || opts.rowsPerDay < WORLD.length) {
    problems.push(`rowsPerDay must be an integer ≥ ${WORLD.length} (one tax row per billing account), got ${opts.rowsPerDay}`);
  }
  if (!Number.isSafeInteger(opts.seed) || opts.seed < 0) problems.push(`seed must be a non-negative integer, got ${opts.seed}`);
  return problems;
}
