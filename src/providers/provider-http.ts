/**
 * Calls to the providers' admin APIs (OpenAI, Anthropic, DeepSeek). Base URLs come from the
 * operator's configuration and are trusted as configured (DESIGN §8), so this client does not
 * apply the private-address wall of user-supplied URLs. What it does instead: a timeout per
 * request, retries with backoff on 429/5xx and network failures (honouring Retry-After), a cap on
 * response size, strict JSON parsing, and error messages that never carry the credential.
 */
export type ProviderErrorKind = 'auth' | 'forbidden' | 'rate_limited' | 'unavailable' | 'bad_request' | 'bad_response' | 'not_found';

export class ProviderError extends Error {
  override name = 'ProviderError';

  constructor(
    readonly provider: string,
    readonly kind: ProviderErrorKind,
    message: string,
    readonly status?: number,
  ) {
    super(message);
  }

  /** Worth another try later: the provider was busy or down, not the request wrong. */
  get retryable(): boolean {
    return this.kind === 'rate_limited' || this.kind === 'unavailable';
  }
}

export interface RetryPolicy {
  /** Tries in all, the first included. */
  readonly maxAttempts: number;
  readonly baseDelayMs: number;
  /** Longest wait between tries, Retry-After included. */
  readonly maxDelayMs: number;
}

export interface ProviderHttpOptions {
  readonly timeoutMs: number;
  readonly retry: RetryPolicy;
  readonly maxResponseBytes: number;
}

export const DEFAULT_PROVIDER_HTTP: ProviderHttpOptions = {
  timeoutMs: 30_000,
  retry: { maxAttempts: 5, baseDelayMs: 1000, maxDelayMs: 60_000 },
  maxResponseBytes: 32 * 1024 * 1024,
};

export interface ProviderRequest {
  readonly url: URL;
  readonly headers: Readonly<Record<string, string>>;
  /** The credential in the request, scrubbed from any text that leaves this module. */
  readonly secret: string;
  readonly signal?: AbortSignal;
}

export class ProviderHttp {
  constructor(
    readonly provider: string,
    private readonly opts: ProviderHttpOptions = DEFAULT_PROVIDER_HTTP,
  ) {}

  /** GET `req.url` and parse its JSON body; retries transient failures, throws ProviderError otherwise. */
  async getJson(req: ProviderRequest): Promise<unknown> {
    const { maxAttempts } = this.opts.retry;
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.once(req);
      } catch (e) {
        if (!(e instanceof ProviderError) || !e.retryable || attempt >= maxAttempts || req.signal?.aborted === true) throw e;
        await sleep(this.delay(attempt, e), req.signal);
      }
    }
  }

  private async once(req: ProviderRequest): Promise<unknown> {
    const timeout = AbortSignal.timeout(this.opts.timeoutMs);
    const signal = req.signal === undefined ? timeout : AbortSignal.any([req.signal, timeout]);
    let res: Response;
    try {
      res = await fetch(req.url, { method: 'GET', headers: { accept: 'application/json', ...req.headers }, signal, redirect: 'error' });
    } catch (e) {
      req.signal?.throwIfAborted();
      const why = timeout.aborted ? `no answer within ${this.opts.timeoutMs} ms` : `cannot reach ${req.url.host}: ${causeOf(e)}`;
      throw new ProviderError(this.provider, 'unavailable', why);
    }
    let text: string;
    try {
      text = await readLimited(res, this.opts.maxResponseBytes);
    } catch (e) {
      req.signal?.throwIfAborted();
      throw new ProviderError(this.provider, 'unavailable', `the answer from ${req.url.host} broke off: ${scrub(causeOf(e), req.secret)}`, res.status);
    }
    if (!res.ok) throw this.statusError(res, text, req);
    try {
      return JSON.parse(text) as unknown;
    } catch {
      const type = res.headers.get('content-type') ?? 'no content type';
      throw new ProviderError(this.provider, 'bad_response', `${req.url.pathname} answered ${res.status} with a body that is not JSON (${type}, ${text.length} bytes)`, res.status);
    }
  }

  private statusError(res: Response, text: string, req: ProviderRequest): ProviderError {
    const detail = scrub(providerMessage(text), req.secret);
    const what = `${req.url.pathname} answered ${res.status}${detail === '' ? '' : `: ${detail}`}`;
    const kind: ProviderErrorKind =
      res.status === 401 ? 'auth'
      : res.status === 403 ? 'forbidden'
      : res.status === 404 ? 'not_found'
      : res.status === 429 ? 'rate_limited'
      : res.status >= 500 || res.status === 408 ? 'unavailable'
      : 'bad_request';
    const err = new ProviderError(this.provider, kind, what, res.status);
    retryAfter.set(err, parseRetryAfter(res.headers.get('retry-after')));
    return err;
  }

  private delay(attempt: number, e: ProviderError): number {
    const { baseDelayMs, maxDelayMs } = this.opts.retry;
    const after = retryAfter.get(e);
    if (after !== undefined) return Math.min(after, maxDelayMs);
    // Exponential with equal jitter: half fixed, half random.
    const ceiling = Math.min(maxDelayMs, baseDelayMs * 2 ** (attempt - 1));
    return ceiling / 2 + Math.random() * (ceiling / 2);
  }
}

const retryAfter = new WeakMap<ProviderError, number | undefined>();

/** Retry-After in seconds or as an HTTP date, in milliseconds. */
export function parseRetryAfter(value: string | null, now = Date.now()): number | undefined {
  if (value === null || value.trim() === '') return undefined;
  if (/^\d+(\.\d+)?$/.test(value.trim())) return Math.round(Number(value) * 1000);
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/** The message of an OpenAI/Anthropic/DeepSeek error body, short; empty when the body has none. */
function providerMessage(text: string): string {
  try {
    const body = JSON.parse(text) as { error?: { message?: unknown; type?: unknown } | string; message?: unknown };
    const err = body.error;
    const msg = typeof err === 'string' ? err : typeof err?.message === 'string' ? err.message : typeof body.message === 'string' ? body.message : '';
    return msg.slice(0, 300);
  } catch {
    return '';
  }
}

/**
 * Removes the credential, and anything that looks like a key, from provider text: providers echo
 * the key, whole or masked ("Incorrect API key provided: sk-abc***xyz"), and no such fragment may
 * reach a log, a run row or a response. Any run of 6 or more characters that also occurs in the
 * secret is masked, as are key-shaped tokens.
 */
export function scrub(text: string, secret: string): string {
  const masked = new Array<boolean>(text.length).fill(false);
  if (secret.length >= 6) {
    for (let i = 0; i < text.length; i++) {
      for (let k = 0; k < secret.length; k++) {
        let n = 0;
        while (i + n < text.length && k + n < secret.length && text[i + n] === secret[k + n]) n++;
        if (n >= 6) masked.fill(true, i, i + n);
      }
    }
  }
  let out = '';
  for (let i = 0; i < text.length; i++) {
    if (!masked[i]) out += text[i];
    else if (i === 0 || !masked[i - 1]) out += '[credential]';
  }
  return out.replace(/\b(sk|key|pk|rk)[-_][A-Za-z0-9_*.-]{4,}/gi, '[key]');
}

async function readLimited(res: Response, max: number): Promise<string> {
  const declared = Number(res.headers.get('content-length') ?? NaN);
  if (Number.isFinite(declared) && declared > max) throw new Error(`response of ${declared} bytes exceeds the ${max}-byte limit`);
  if (res.body === null) return '';
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > max) {
      await reader.cancel();
      throw new Error(`response exceeds the ${max}-byte limit`);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function causeOf(e: unknown): string {
  const cause = (e as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ?? cause?.message ?? (e as Error).message ?? String(e);
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    signal?.throwIfAborted();
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = (): void => {
      clearTimeout(t);
      reject(signal?.reason as Error);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** `endpoint` with query parameters; arrays become repeated keys (`group_by=a&group_by=b`). */
export function endpointWithQuery(baseUrl: string, pathname: string, query: Readonly<Record<string, string | readonly string[] | undefined>>): URL {
  const url = endpoint(baseUrl, pathname);
  for (const [k, v] of Object.entries(query)) {
    if (Array.isArray(v)) for (const item of v) url.searchParams.append(k, item);
    else if (typeof v === 'string') url.searchParams.set(k, v);
  }
  return url;
}

/**
 * The URL of `pathname` (e.g. `/v1/organization/costs`) under a configured base URL. A base with
 * a path (a proxy prefix) keeps it, and a base that already ends in the API version (`…/v1`, as
 * OpenAI documents its base URL) does not get it twice.
 */
export function endpoint(baseUrl: string, pathname: string): URL {
  const base = new URL(baseUrl);
  const prefix = base.pathname.replace(/\/+$/, '');
  const version = /^\/v\d+\//.exec(pathname)?.[0].slice(0, -1);
  const rest = version !== undefined && prefix.endsWith(version) ? pathname.slice(version.length) : pathname;
  base.pathname = `${prefix}${rest}`;
  return base;
}
