import http from 'node:http';
import type { AddressInfo } from 'node:net';
import Big from 'big.js';

/**
 * Shared plumbing for the fake provider APIs: a real `node:http` server on 127.0.0.1 (port 0), a
 * log of every request, a queue of injected faults, each provider's error-body shape, and the
 * day-bucket/pagination/aggregation helpers the provider modules share.
 */
export type Flavor = 'openai' | 'anthropic' | 'deepseek';

export interface RecordedRequest {
  readonly method: string;
  /** Path without the query string. */
  readonly path: string;
  readonly query: URLSearchParams;
  /** Header names in lower case; repeated headers joined with ", ". */
  readonly headers: Readonly<Record<string, string>>;
}

/** One injected failure; `path` (a prefix of the request path) limits which requests it hits. */
export type Fault = (
  | { status: 429; retryAfter?: number /* seconds */ }
  | { status: 500 | 502 | 503 }
  | { status: 401 }
  | { kind: 'malformed-json' | 'truncated' | 'html' | 'hang' }
) & { path?: string };

export interface Answer {
  readonly status: number;
  readonly body: unknown;
  readonly headers?: Record<string, string>;
}

export type Handler = (req: RecordedRequest) => Answer;

export interface FakeServer {
  /** Base URL, e.g. `http://127.0.0.1:41234` (no trailing slash). */
  readonly url: string;
  /** Every request received, faulted ones included, in arrival order. */
  readonly requests: RecordedRequest[];
  /** Queues faults; each one answers the next request it matches, in order. */
  failNext(...faults: Fault[]): void;
  /** Faults still queued. */
  pendingFaults(): number;
  clearFaults(): void;
  /** Stops listening and destroys open connections (hanging requests included). Idempotent. */
  close(): Promise<void>;
}

/** Thrown by a handler to answer with the provider's error shape. */
export class FakeHttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly extra: { type?: string; code?: string | null; param?: string | null; headers?: Record<string, string> } = {},
  ) {
    super(message);
  }
}

function openAiType(flavor: Flavor, status: number): string {
  if (status === 429) return 'requests';
  if (status >= 500) return 'server_error';
  if (status === 401 && flavor === 'deepseek') return 'authentication_error';
  return 'invalid_request_error';
}

function anthropicType(status: number): string {
  const types: Record<number, string> = { 400: 'invalid_request_error', 401: 'authentication_error', 403: 'permission_error', 404: 'not_found_error', 429: 'rate_limit_error' };
  return types[status] ?? 'api_error';
}

/** The error body each provider sends: OpenAI/DeepSeek `{error:{message,type,param,code}}`, Anthropic `{type:"error",error:{type,message}}`. */
export function providerError(flavor: Flavor, status: number, message: string, o: { type?: string; code?: string | null; param?: string | null } = {}): unknown {
  if (flavor === 'anthropic') return { type: 'error', error: { type: o.type ?? anthropicType(status), message } };
  const code = o.code !== undefined ? o.code : status === 429 ? 'rate_limit_exceeded' : status === 401 && flavor === 'openai' ? 'invalid_api_key' : status === 401 ? 'invalid_request_error' : null;
  return { error: { message, type: o.type ?? openAiType(flavor, status), param: o.param ?? null, code } };
}

const FAULT_MESSAGES: Record<Flavor, Record<number, string>> = {
  openai: { 401: 'Incorrect API key provided.', 429: 'Rate limit reached for requests. Please try again later.', 500: 'The server had an error while processing your request. Sorry about that!' },
  anthropic: { 401: 'invalid x-api-key', 429: 'Number of requests has exceeded your rate limit.', 500: 'Internal server error' },
  deepseek: { 401: 'Authentication Fails, Your api key is invalid', 429: 'Rate limit reached.', 500: 'The server had an error while processing your request.' },
};

export const TRUNCATED_BODY = '{"object":"page","data":[{"object":"bucket","start_time":';
export const MALFORMED_BODY = '{"data": [';
export const HTML_BODY = '<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head><body><h1>Bad Gateway</h1></body></html>';

export async function startFakeServer(flavor: Flavor, handler: Handler): Promise<FakeServer> {
  const requests: RecordedRequest[] = [];
  let faults: Fault[] = [];
  let seq = 0;
  const requestIdHeader = flavor === 'anthropic' ? 'request-id' : 'x-request-id';

  const server = http.createServer((req, res) => {
    const u = new URL(req.url ?? '/', 'http://127.0.0.1');
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(req.headers)) if (v !== undefined) headers[k.toLowerCase()] = Array.isArray(v) ? v.join(', ') : v;
    const rec: RecordedRequest = { method: req.method ?? 'GET', path: u.pathname, query: u.searchParams, headers };
    requests.push(rec);
    req.resume();
    const base = { [requestIdHeader]: `req_${String(++seq).padStart(6, '0')}` };
    const send = (status: number, body: string, h: Record<string, string>): void => {
      res.writeHead(status, { ...base, 'content-type': 'application/json', ...h });
      res.end(body);
    };

    const idx = faults.findIndex((f) => f.path === undefined || u.pathname.startsWith(f.path));
    const fault = idx >= 0 ? faults.splice(idx, 1)[0] : undefined;
    if (fault !== undefined) {
      if ('status' in fault) {
        const h: Record<string, string> = 'retryAfter' in fault && fault.retryAfter !== undefined ? { 'retry-after': String(fault.retryAfter) } : {};
        const msg = FAULT_MESSAGES[flavor][fault.status] ?? FAULT_MESSAGES[flavor][500] ?? 'error';
        send(fault.status, JSON.stringify(providerError(flavor, fault.status, msg)), h);
      } else if (fault.kind === 'malformed-json') {
        send(200, MALFORMED_BODY, {});
      } else if (fault.kind === 'html') {
        send(200, HTML_BODY, { 'content-type': 'text/html; charset=utf-8' });
      } else if (fault.kind === 'truncated') {
        res.writeHead(200, { ...base, 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(TRUNCATED_BODY) + 4096) });
        res.write(TRUNCATED_BODY, () => res.socket?.destroy());
      }
      // 'hang': never answer; close() destroys the connection.
      return;
    }

    let answer: Answer;
    try {
      answer = handler(rec);
    } catch (e) {
      if (e instanceof FakeHttpError) {
        answer = { status: e.status, body: providerError(flavor, e.status, e.message, e.extra), headers: e.extra.headers ?? {} };
      } else {
        answer = { status: 500, body: providerError(flavor, 500, `fake server bug: ${String(e)}`) };
      }
    }
    send(answer.status, JSON.stringify(answer.body), answer.headers ?? {});
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  let closing: Promise<void> | undefined;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    failNext: (...f) => void faults.push(...f),
    pendingFaults: () => faults.length,
    clearFaults: () => void (faults = []),
    close() {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closing;
    },
  };
}

// ---- shared helpers for the bucketed report APIs -------------------------------------------

export const DAY_SECONDS = 86_400;

/** `'YYYY-MM-DD'` → Unix seconds of its UTC midnight. */
export function dayStartSeconds(day: string): number {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(day)) throw new Error(`bad day ${day}`);
  return Date.parse(`${day}T00:00:00Z`) / 1000;
}

/** Unix seconds → `'YYYY-MM-DD'` (UTC). */
export function dayOfSeconds(sec: number): string {
  return new Date(sec * 1000).toISOString().slice(0, 10);
}

/** All values of an array parameter, given as repeated `name=` or `name[]=` keys. */
export function allValues(q: URLSearchParams, name: string): string[] {
  return [...q.getAll(name), ...q.getAll(`${name}[]`)];
}

/** True when `row` passes every filter parameter present in `q` (`param` → row field). */
export function passesFilters<R extends object>(row: R, q: URLSearchParams, filters: Record<string, keyof R>): boolean {
  for (const [param, field] of Object.entries(filters)) {
    const want = allValues(q, param);
    const v = row[field as keyof R];
    if (want.length > 0 && (v === undefined || v === null || !want.includes(String(v)))) return false;
  }
  return true;
}

export function encodeCursor(offset: number): string {
  return `page_${Buffer.from(`fake-cursor:${offset}`).toString('base64url')}`;
}

export function decodeCursor(cursor: string): number | undefined {
  if (!cursor.startsWith('page_')) return undefined;
  const m = /^fake-cursor:(\d+)$/.exec(Buffer.from(cursor.slice(5), 'base64url').toString());
  return m?.[1] === undefined ? undefined : Number(m[1]);
}

export interface DayPage {
  /** Start (Unix seconds) of each bucket on this page. */
  readonly starts: number[];
  readonly has_more: boolean;
  readonly next_page: string | null;
}

/** One page of `count` daily buckets starting at `from`; `endless` keeps `has_more` true forever. */
export function pageOfDays(o: { from: number; count: number; size: number; page: string | null; endless?: boolean }): DayPage {
  let offset = 0;
  if (o.page !== null) {
    const d = o.page === '' ? undefined : decodeCursor(o.page);
    if (d === undefined) throw new FakeHttpError(400, `Invalid page token: '${o.page}'`, { param: 'page' });
    offset = d;
  }
  const starts: number[] = [];
  for (let i = offset; i < Math.min(o.count, offset + o.size); i++) starts.push(o.from + i * DAY_SECONDS);
  const more = o.endless === true || offset + o.size < o.count;
  return { starts, has_more: more, next_page: more ? encodeCursor(offset + o.size) : null };
}

/** Parses an integer parameter in [min, max]; `undefined` when absent. */
export function intParam(q: URLSearchParams, name: string, min: number, max: number): number | undefined {
  const raw = q.get(name);
  if (raw === null) return undefined;
  if (!/^-?\d+$/.test(raw)) throw new FakeHttpError(400, `Invalid type for '${name}': expected an integer, but got '${raw}' instead.`, { param: name });
  const n = Number(raw);
  if (n < min || n > max) throw new FakeHttpError(400, `Invalid value for '${name}': expected a value between ${min} and ${max}, got ${n}.`, { param: name });
  return n;
}

/** Checks `group_by` values against the endpoint's allowed set and returns them (deduplicated). */
export function groupByParam(q: URLSearchParams, allowed: readonly string[]): string[] {
  const values = [...new Set(allValues(q, 'group_by'))];
  for (const v of values) {
    if (!allowed.includes(v)) throw new FakeHttpError(400, `Invalid value for 'group_by': '${v}'. Supported values are: ${allowed.map((a) => `'${a}'`).join(', ')}.`, { param: 'group_by' });
  }
  return values;
}

/** Groups rows (first-seen order) by the values of `fields`; `extra` adds key parts. */
export function groupRows<R extends object>(rows: readonly R[], fields: readonly string[], extra: (r: R) => unknown[] = () => []): R[][] {
  const groups = new Map<string, R[]>();
  for (const r of rows) {
    const key = JSON.stringify([...fields.map((f) => (r as Record<string, unknown>)[f] ?? null), ...extra(r)]);
    const g = groups.get(key);
    if (g === undefined) groups.set(key, [r]);
    else g.push(r);
  }
  return [...groups.values()];
}

/** Exact decimal sum. */
export function sumDecimal(values: Iterable<string | number>): Big {
  let s = new Big(0);
  for (const v of values) s = s.plus(v);
  return s;
}

export function sumInt<R>(rows: readonly R[], f: (r: R) => number | undefined): number {
  return rows.reduce((s, r) => s + (f(r) ?? 0), 0);
}
