import Big from 'big.js';

/**
 * Money stays decimal from the moment it is read (DESIGN: no binary floats after ingestion).
 * Amounts are carried as canonical decimal text and land in DECIMAL(38,9) / NUMERIC columns.
 */
export const MONEY_SCALE = 9;

/** The decimal text of a JSON number or decimal string; undefined when it is not a finite decimal. */
export function decimalText(value: unknown): string | undefined {
  if (typeof value === 'number') {
    // The shortest text that reads back as this double is the text the provider wrote (≤ 17 digits).
    if (!Number.isFinite(value)) return undefined;
    return canonical(new Big(String(value)));
  }
  if (typeof value !== 'string' || !/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(value.trim())) return undefined;
  return canonical(new Big(value.trim()));
}

/** `value` ÷ 10^`places`, exactly (e.g. cents to dollars with places = 2). */
export function shiftDecimal(value: string, places: number): string {
  const b = new Big(value);
  return canonical(places >= 0 ? b.div(new Big(10).pow(places)) : b.times(new Big(10).pow(-places)));
}

/** Rounded half-even to the money scale, as the warehouse column would store it. */
export function toMoneyScale(value: string): string {
  return canonical(new Big(value).round(MONEY_SCALE, Big.roundHalfEven));
}

export function addDecimals(values: Iterable<string>): string {
  let sum = new Big(0);
  for (const v of values) sum = sum.plus(v);
  return canonical(sum);
}

export function decimalEquals(a: string, b: string): boolean {
  return new Big(a).eq(b);
}

/** Plain notation without trailing zeros ("1.50" → "1.5", "1e-7" → "0.0000001"). */
function canonical(b: Big): string {
  const text = b.toFixed();
  return text.includes('.') ? text.replace(/0+$/, '').replace(/\.$/, '') : text;
}

/** ISO 4217 code, upper case (OpenAI reports "usd"). */
export function currencyCode(value: unknown): string | undefined {
  if (typeof value !== 'string') return undefined;
  const code = value.trim().toUpperCase();
  return /^[A-Z]{3}$/.test(code) ? code : undefined;
}
