import { ProviderError } from './provider-http.js';

/**
 * Defensive reading of provider JSON: fields get added over time (ignored), optional fields may be
 * missing (defaults), and a required field of the wrong type is a clear `bad_response` error
 * naming the field — never an undefined deep inside a pipeline.
 */
export class ResponseReader {
  constructor(
    private readonly provider: string,
    private readonly where: string,
  ) {}

  fail(path: string, what: string): never {
    throw new ProviderError(this.provider, 'bad_response', `${this.where}: ${path} ${what}`);
  }

  object(value: unknown, path: string): Record<string, unknown> {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) this.fail(path, 'is not an object');
    return value as Record<string, unknown>;
  }

  array(value: unknown, path: string): unknown[] {
    if (!Array.isArray(value)) this.fail(path, 'is not an array');
    return value;
  }

  /** A non-negative integer count; missing or null counts as 0 (older API versions omit fields). */
  count(obj: Record<string, unknown>, key: string, path: string): number {
    const v = obj[key];
    if (v === undefined || v === null) return 0;
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) this.fail(`${path}.${key}`, `is not a count (a ${v === null ? 'null' : typeof v})`); // the value itself is not echoed: it could be anything, a key included
    return v;
  }

  optionalString(obj: Record<string, unknown>, key: string, path: string): string | null {
    const v = obj[key];
    if (v === undefined || v === null) return null;
    if (typeof v !== 'string') this.fail(`${path}.${key}`, 'is not a string');
    return v;
  }

  string(obj: Record<string, unknown>, key: string, path: string): string {
    const v = obj[key];
    if (typeof v !== 'string') this.fail(`${path}.${key}`, 'is missing or not a string');
    return v;
  }

  optionalBoolean(obj: Record<string, unknown>, key: string, path: string): boolean | null {
    const v = obj[key];
    if (v === undefined || v === null) return null;
    if (typeof v !== 'boolean') this.fail(`${path}.${key}`, 'is not a boolean');
    return v;
  }

  /** Unix seconds → Date. */
  unixTime(obj: Record<string, unknown>, key: string, path: string): Date {
    const v = obj[key];
    if (typeof v !== 'number' || !Number.isSafeInteger(v)) this.fail(`${path}.${key}`, 'is not a unix time');
    return new Date(v * 1000);
  }

  isoTime(obj: Record<string, unknown>, key: string, path: string): Date {
    const v = obj[key];
    const t = typeof v === 'string' ? Date.parse(v) : NaN;
    if (Number.isNaN(t)) this.fail(`${path}.${key}`, 'is not an RFC 3339 time');
    return new Date(t);
  }
}

export interface BucketTimes {
  readonly bucket_start: Date;
  readonly bucket_end: Date;
}

/**
 * The page envelope both OpenAI and Anthropic reports use: `{data: [{<start>, <end>, results: […]}],
 * has_more, next_page}`; `times` reads a bucket's bounds (unix seconds or RFC 3339 by provider).
 */
export function readBucketPage<T>(
  provider: string,
  what: string,
  body: unknown,
  times: (r: ResponseReader, bucket: Record<string, unknown>, path: string) => BucketTimes,
  readResult: (r: ResponseReader, result: Record<string, unknown>, path: string, bucket: BucketTimes) => T,
): Page<T> {
  const r = new ResponseReader(provider, what);
  const page = r.object(body, 'body');
  const items: T[] = [];
  r.array(page.data, 'data').forEach((b, i) => {
    const bucket = r.object(b, `data[${i}]`);
    const bounds = times(r, bucket, `data[${i}]`);
    r.array(bucket.results ?? [], `data[${i}].results`).forEach((res, j) => {
      const path = `data[${i}].results[${j}]`;
      items.push(readResult(r, r.object(res, path), path, bounds));
    });
  });
  return { items, hasMore: page.has_more === true, nextPage: r.optionalString(page, 'next_page', 'body') };
}

/** A page of a cursor-paginated report. */
export interface Page<T> {
  readonly items: readonly T[];
  readonly hasMore: boolean;
  readonly nextPage: string | null;
}

/** Longest walk through one report: a day of daily buckets is one or two pages. */
export const MAX_PAGES = 200;

/**
 * Follows `next_page` while `has_more`; bounded, and refuses a cursor that repeats, so a provider
 * paginating forever fails the step instead of looping.
 */
export async function collectPages<T>(provider: string, what: string, fetchPage: (cursor: string | undefined) => Promise<Page<T>>, maxPages = MAX_PAGES): Promise<T[]> {
  const items: T[] = [];
  const seen = new Set<string>();
  let cursor: string | undefined;
  for (let page = 1; ; page++) {
    const p = await fetchPage(cursor);
    items.push(...p.items);
    if (!p.hasMore) return items;
    if (p.nextPage === null || p.nextPage === '') throw new ProviderError(provider, 'bad_response', `${what}: has_more is true but next_page is empty`);
    if (seen.has(p.nextPage)) throw new ProviderError(provider, 'bad_response', `${what}: next_page repeats a cursor already followed`);
    if (page >= maxPages) throw new ProviderError(provider, 'bad_response', `${what}: still has_more after ${maxPages} pages; stopped`);
    seen.add(p.nextPage);
    cursor = p.nextPage;
  }
}

/** Rows of buckets that start inside the window: a provider answering with other days does not leak them into this day. */
export function inWindow<T extends BucketTimes>(rows: readonly T[], window: { start: Date; end: Date }): T[] {
  return rows.filter((r) => r.bucket_start.getTime() >= window.start.getTime() && r.bucket_start.getTime() < window.end.getTime());
}

/** [day 00:00Z, next day 00:00Z) of a YYYY-MM-DD date. */
export function dayWindow(day: string): { start: Date; end: Date } {
  const start = new Date(`${day}T00:00:00.000Z`);
  if (Number.isNaN(start.getTime()) || start.toISOString().slice(0, 10) !== day) throw new Error(`not a date: ${day}`);
  return { start, end: new Date(start.getTime() + 86_400_000) };
}
