/**
 * Durations in pipeline files: a sequence of `<integer><unit>` parts, units `ms`, `s`, `m`, `h`,
 * `d` (e.g. `500ms`, `30s`, `10m`, `1h30m`). Bare numbers are refused: `timeout: 30` could mean
 * seconds or minutes, and guessing wrong is worse than asking.
 */
const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;
const WHOLE = /^(?:\d{1,9}(?:ms|s|m|h|d))+$/;
const PART = /(\d{1,9})(ms|s|m|h|d)/g;

/** Milliseconds, or undefined when `text` is not a duration. */
export function parseDuration(text: string): number | undefined {
  if (!WHOLE.test(text)) return undefined;
  let total = 0;
  for (const [, n, unit] of text.matchAll(PART)) total += Number(n) * UNIT_MS[unit as keyof typeof UNIT_MS];
  return total;
}

/** `90000` → `1m30s`: how durations are written back in messages. */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${ms}ms`;
  const parts: string[] = [];
  let rest = ms;
  for (const unit of ['d', 'h', 'm', 's'] as const) {
    const n = Math.floor(rest / UNIT_MS[unit]);
    if (n > 0) parts.push(`${n}${unit}`);
    rest -= n * UNIT_MS[unit];
  }
  if (rest > 0) parts.push(`${rest}ms`);
  return parts.join('');
}
