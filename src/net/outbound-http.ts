import dns from 'node:dns';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';

/**
 * HTTP POSTs to URLs that came in through the API (webhooks, Slack). They must not reach
 * loopback, link-local or private addresses (DESIGN.md §8): every address a name resolves to is
 * checked at connect time (so DNS rebinding between check and use is impossible), IP literals are
 * checked directly, and redirects are never followed. Hosts in the allowlist skip the check.
 */
const PRIVATE = new net.BlockList();
for (const [addr, prefix] of [
  ['0.0.0.0', 8], ['10.0.0.0', 8], ['100.64.0.0', 10], ['127.0.0.0', 8], ['169.254.0.0', 16], ['172.16.0.0', 12],
  ['192.0.0.0', 24], ['192.168.0.0', 16], ['198.18.0.0', 15], ['224.0.0.0', 4], ['240.0.0.0', 4],
] as const) PRIVATE.addSubnet(addr, prefix, 'ipv4');
for (const [addr, prefix] of [['::', 128], ['::1', 128], ['fc00::', 7], ['fe80::', 10], ['ff00::', 8], ['64:ff9b::', 96]] as const) PRIVATE.addSubnet(addr, prefix, 'ipv6');

export function isPrivateAddress(address: string): boolean {
  const family = net.isIP(address);
  if (family === 0) return false;
  if (family === 6) {
    const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
    if (mapped !== null) return PRIVATE.check(mapped[1] as string, 'ipv4');
    return PRIVATE.check(address, 'ipv6');
  }
  return PRIVATE.check(address, 'ipv4');
}

/** `retryable` is false for refusals by policy (private address, bad URL, redirect) and true for timeouts. */
export class OutboundError extends Error {
  override name = 'OutboundError';

  constructor(
    message: string,
    readonly retryable = false,
  ) {
    super(message);
  }
}

export interface OutboundResponse {
  readonly status: number;
  readonly body: string;
}

export interface PostOptions {
  readonly headers?: Readonly<Record<string, string>>;
  readonly signal?: AbortSignal;
  readonly timeoutMs?: number;
}

export class OutboundHttp {
  private readonly allow: ReadonlySet<string>;

  constructor(allowlist: readonly string[]) {
    this.allow = new Set(allowlist.map((h) => h.toLowerCase()));
  }

  /** Refuses URLs that are not http(s) or whose literal host is private; names are checked when resolved. */
  checkUrl(raw: string): URL {
    let url: URL;
    try {
      url = new URL(raw);
    } catch {
      throw new OutboundError(`not a valid URL`);
    }
    if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new OutboundError(`only http and https URLs are allowed`);
    if (url.username !== '' || url.password !== '') throw new OutboundError('URLs with credentials are not allowed');
    const host = url.hostname.replace(/^\[|\]$/g, '');
    if (!this.allowed(host) && isPrivateAddress(host)) throw new OutboundError(`${host} is a private or loopback address`);
    return url;
  }

  async postJson(raw: string, body: string, opts: PostOptions = {}): Promise<OutboundResponse> {
    const url = this.checkUrl(raw);
    const host = url.hostname.replace(/^\[|\]$/g, '');
    const skipCheck = this.allowed(host);
    const lookup: net.LookupFunction = (hostname, options, callback) => {
      dns.lookup(hostname, { ...options, all: true }, (err, addresses) => {
        if (err !== null) return callback(err, '', 0);
        const list = addresses as dns.LookupAddress[];
        const bad = list.find((a) => isPrivateAddress(a.address));
        if (!skipCheck && bad !== undefined) return callback(new OutboundError(`${hostname} resolves to private address ${bad.address}`), '', 0);
        if ((options as { all?: boolean }).all === true) return (callback as unknown as (e: null, a: dns.LookupAddress[]) => void)(null, list);
        const first = list[0] as dns.LookupAddress;
        callback(null, first.address, first.family);
      });
    };
    const client = url.protocol === 'https:' ? https : http;
    return new Promise<OutboundResponse>((resolve, reject) => {
      const req = client.request(
        url,
        {
          method: 'POST',
          lookup,
          signal: opts.signal,
          timeout: opts.timeoutMs ?? 10_000,
          headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), 'user-agent': 'convergence', ...opts.headers },
        },
        (res) => {
          const chunks: Buffer[] = [];
          let size = 0;
          res.on('data', (c: Buffer) => {
            size += c.length;
            if (size <= 64 * 1024) chunks.push(c);
          });
          res.on('end', () => {
            const status = res.statusCode ?? 0;
            if (status >= 300 && status < 400) reject(new OutboundError(`${status} redirect to ${res.headers.location ?? '?'} (redirects are not followed)`));
            else resolve({ status, body: Buffer.concat(chunks).toString('utf8') });
          });
          res.on('error', reject);
        },
      );
      req.on('timeout', () => req.destroy(new OutboundError(`no answer from ${url.host} within ${opts.timeoutMs ?? 10_000} ms`, true)));
      req.on('error', reject);
      req.end(body);
    });
  }

  private allowed(host: string): boolean {
    return this.allow.has(host.toLowerCase());
  }
}
