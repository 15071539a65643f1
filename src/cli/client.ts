import fs from 'node:fs';
import path from 'node:path';
import { orgOfApiKey } from '../crypto/api-keys.js';
import { CliError, EXIT, usageError, type Problem } from './errors.js';

/**
 * The HTTP API as the CLI uses it: base URL and keys from flags or the environment, every error
 * turned into a CliError with a meaningful exit code (3 unreachable, 4 authentication refused,
 * 1 anything else the server reports). Keys travel in headers only and are never part of a message.
 */
export type Env = Readonly<Record<string, string | undefined>>;
export type Auth = 'none' | 'root' | 'org' | 'root_or_org';

export const DEFAULT_URL = 'http://127.0.0.1:8080';
export const ENV = {
  url: 'CONVERGENCE_URL',
  apiKey: 'CONVERGENCE_API_KEY',
  rootKey: 'CA_ROOT_API_KEY',
  org: 'CONVERGENCE_ORG',
} as const;

export interface ConnectionOptions {
  readonly url?: string;
  readonly apiKey?: string;
  readonly rootKey?: string;
  readonly org?: string;
}

const AUTH_CODES = new Set(['ROOT_KEY_REQUIRED', 'INVALID_ROOT_KEY', 'API_KEY_REQUIRED', 'INVALID_API_KEY']);
const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'ETIMEDOUT', 'EPIPE', 'UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_SOCKET', 'UND_ERR_HEADERS_TIMEOUT']);
const DEFAULT_TIMEOUT_MS = 120_000;

export interface CallOptions {
  readonly auth: Auth;
  readonly body?: unknown;
  readonly query?: Readonly<Record<string, string | number | boolean | undefined>>;
  readonly timeoutMs?: number;
  /** Aborts the request (Ctrl-C). */
  readonly signal?: AbortSignal;
}

export class ApiClient {
  readonly url: string;

  constructor(
    url: string,
    private readonly apiKey: string | undefined,
    private readonly rootKeySource: () => string | undefined,
  ) {
    this.url = url;
  }

  /** Throws the missing-key error now, before any other work, when the key for `auth` is not there. */
  checkAuth(auth: Auth): void {
    this.authHeaders(auth);
  }

  /** Calls the API; answers the parsed JSON body of a 2xx response, throws CliError otherwise. */
  async call<T = Record<string, unknown>>(method: string, route: string, opts: CallOptions): Promise<T> {
    const headers: Record<string, string> = { accept: 'application/json', ...this.authHeaders(opts.auth) };
    if (opts.body !== undefined) headers['content-type'] = 'application/json';
    const query = Object.entries(opts.query ?? {}).filter((e): e is [string, string | number | boolean] => e[1] !== undefined);
    const target = `${this.url}${route}${query.length === 0 ? '' : `?${new URLSearchParams(query.map(([k, v]): [string, string] => [k, String(v)])).toString()}`}`;
    const timeout = AbortSignal.timeout(opts.timeoutMs ?? DEFAULT_TIMEOUT_MS);
    let res: Response;
    try {
      res = await fetch(target, {
        method,
        headers,
        ...(opts.body === undefined ? {} : { body: JSON.stringify(opts.body) }),
        signal: opts.signal === undefined ? timeout : AbortSignal.any([timeout, opts.signal]),
      });
    } catch (e) {
      throw this.networkError(e, opts.signal);
    }
    const text = await res.text().catch(() => '');
    let body: unknown;
    try {
      body = text === '' ? {} : JSON.parse(text);
    } catch {
      throw new CliError(EXIT.FAILURE, `${method} ${route}: HTTP ${res.status} with a body that is not JSON; is ${this.url} a Convergence API?`);
    }
    if (res.ok) return body as T;
    throw problemError(res.status, body, res.headers.get('retry-after'));
  }

  /** True when something answers GET /health within `timeoutMs`. */
  async reachable(timeoutMs = 1500): Promise<boolean> {
    try {
      const res = await fetch(`${this.url}/health`, { signal: AbortSignal.timeout(timeoutMs) });
      await res.text();
      return res.ok;
    } catch {
      return false;
    }
  }

  private authHeaders(auth: Auth): Record<string, string> {
    switch (auth) {
      case 'none':
        return {};
      case 'org':
        return { 'x-api-key': this.requireApiKey() };
      case 'root':
        return { 'x-ca-root-key': this.requireRootKey() };
      case 'root_or_org':
        if (this.apiKey !== undefined) return { 'x-api-key': this.apiKey };
        if (this.rootKeySource() !== undefined) return { 'x-ca-root-key': this.requireRootKey() };
        throw new CliError(EXIT.AUTH, 'no key: this command takes an organization API key or the root key', [
          `set ${ENV.apiKey} (or --api-key), or ${ENV.rootKey} (or --root-key)`,
        ]);
    }
  }

  private requireApiKey(): string {
    if (this.apiKey !== undefined) return this.apiKey;
    throw new CliError(EXIT.AUTH, 'no organization API key', [`set ${ENV.apiKey} or pass --api-key (\`convergence org onboard\` prints one, once)`]);
  }

  private requireRootKey(): string {
    const key = this.rootKeySource();
    if (key !== undefined) return key;
    throw new CliError(EXIT.AUTH, 'no root key', [
      `set ${ENV.rootKey} or pass --root-key (a service started without it saved a generated one in its data directory: data/root-api-key)`,
    ]);
  }

  private networkError(e: unknown, signal: AbortSignal | undefined): CliError {
    if (signal?.aborted === true) return new CliError(EXIT.INTERRUPTED, 'interrupted');
    const err = e as { name?: string; cause?: { code?: string; message?: string } };
    if (err.name === 'TimeoutError' || err.name === 'AbortError') {
      return new CliError(EXIT.UNREACHABLE, `no answer from the Convergence API at ${this.url} (timed out)`);
    }
    const code = err.cause?.code;
    const why = code !== undefined && NETWORK_CODES.has(code) ? code : (err.cause?.message ?? (e instanceof Error ? e.message : String(e)));
    return new CliError(EXIT.UNREACHABLE, `cannot reach the Convergence API at ${this.url} (${why})`, [
      `is the service running? Start it with \`convergence serve\` (or npm start), or point ${ENV.url} / --url at it`,
    ]);
  }
}

function problemError(status: number, body: unknown, retryAfter: string | null): CliError {
  const b = (typeof body === 'object' && body !== null ? body : {}) as Record<string, unknown>;
  const code = typeof b.code === 'string' ? b.code : `HTTP_${status}`;
  const detail = typeof b.detail === 'string' ? b.detail : typeof b.message === 'string' ? b.message : `HTTP ${status}`;
  const problem: Problem = { ...b, code, detail, status };
  const hints: string[] = [];
  if (Array.isArray(b.checks)) {
    for (const c of b.checks as { name?: unknown; passed?: unknown; detail?: unknown }[]) {
      if (c.passed === false) hints.push(`failed check ${String(c.name)}: ${String(c.detail)}`);
    }
  }
  if (Array.isArray(b.errors) && hints.length === 0) for (const x of b.errors) hints.push(String(x));
  if (retryAfter !== null) hints.push(`retry after ${retryAfter} s`);
  if (AUTH_CODES.has(code) || status === 401) {
    hints.push(code.startsWith('INVALID_ROOT') || code.startsWith('ROOT') ? `check ${ENV.rootKey} / --root-key` : `check ${ENV.apiKey} / --api-key`);
    return new CliError(EXIT.AUTH, `${detail} (${code})`, hints, problem);
  }
  return new CliError(EXIT.FAILURE, `${detail} (${code})`, hints, problem);
}

export interface Connection {
  readonly client: ApiClient;
  /** The organization the command is about: --org, CONVERGENCE_ORG, or the slug the API key starts with. */
  org(): string;
  orgIfKnown(): string | undefined;
}

/** Builds the client from flags, then the environment. Reads a local root key file only for a loopback URL. */
export function connect(opts: ConnectionOptions, env: Env, cwd: string): Connection {
  const url = normalizeUrl(opts.url ?? env[ENV.url] ?? DEFAULT_URL);
  const apiKey = nonEmpty(opts.apiKey) ?? nonEmpty(env[ENV.apiKey]);
  let rootKey: string | undefined | null = null;
  const rootKeySource = (): string | undefined => {
    if (rootKey === null) rootKey = nonEmpty(opts.rootKey) ?? nonEmpty(env[ENV.rootKey]) ?? localRootKey(url, env, cwd);
    return rootKey;
  };
  const orgIfKnown = (): string | undefined => nonEmpty(opts.org) ?? nonEmpty(env[ENV.org]) ?? (apiKey === undefined ? undefined : orgOfApiKey(apiKey));
  return {
    client: new ApiClient(url, apiKey, rootKeySource),
    orgIfKnown,
    org() {
      const org = orgIfKnown();
      if (org === undefined) throw usageError('which organization? Pass --org or set CONVERGENCE_ORG (an org API key names its org itself)');
      return org;
    },
  };
}

export function normalizeUrl(raw: string): string {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw usageError(`${JSON.stringify(raw)} is not a URL (--url / ${ENV.url}, e.g. ${DEFAULT_URL})`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw usageError(`${raw} is not an http(s) URL`);
  if (u.username !== '' || u.password !== '') throw usageError('put keys in --api-key/--root-key or the environment, not in the URL');
  return `${u.origin}${u.pathname}`.replace(/\/+$/, '');
}

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]']);

/**
 * A service started without CA_ROOT_API_KEY keeps its generated root key in {data dir}/root-api-key.
 * Read only when the URL is this machine's, so a local key is never sent elsewhere.
 */
function localRootKey(url: string, env: Env, cwd: string): string | undefined {
  if (!LOOPBACK.has(new URL(url).hostname)) return undefined;
  const file = path.resolve(cwd, env.CONVERGENCE_DATA_DIR ?? './data', 'root-api-key');
  try {
    const key = fs.readFileSync(file, 'utf8').trim();
    return key.length >= 32 ? key : undefined;
  } catch {
    return undefined;
  }
}

const nonEmpty = (v: string | undefined): string | undefined => (v === undefined || v.trim() === '' ? undefined : v.trim());
