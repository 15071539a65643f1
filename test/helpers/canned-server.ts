import http from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A loopback HTTP server whose every answer comes from one function, for provider behaviour the
 * fakes in providers/ do not model (a key echoed back in an error, 5xx with `Retry-After: 0`).
 * Also: the URL of a port nothing listens on.
 */
export interface CannedRequest {
  readonly method: string;
  readonly path: string;
  /** Header names in lower case. */
  readonly headers: Readonly<Record<string, string>>;
}

export interface CannedAnswer {
  readonly status: number;
  readonly body: unknown;
  readonly headers?: Record<string, string>;
}

export interface CannedServer {
  readonly url: string;
  readonly requests: CannedRequest[];
  close(): Promise<void>;
}

export async function startCannedServer(answer: (req: CannedRequest) => CannedAnswer): Promise<CannedServer> {
  const requests: CannedRequest[] = [];
  const server = http.createServer((req, res) => {
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(req.headers)) if (v !== undefined) headers[k.toLowerCase()] = Array.isArray(v) ? v.join(', ') : v;
    const rec: CannedRequest = { method: req.method ?? 'GET', path: new URL(req.url ?? '/', 'http://127.0.0.1').pathname, headers };
    requests.push(rec);
    req.resume();
    const a = answer(rec);
    res.writeHead(a.status, { 'content-type': 'application/json', ...a.headers });
    res.end(typeof a.body === 'string' ? a.body : JSON.stringify(a.body));
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
    close() {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closing;
    },
  };
}

/** The key a request presented: `Authorization: Bearer …` (OpenAI, DeepSeek) or `x-api-key` (Anthropic). */
export function presentedKey(req: CannedRequest): string {
  const bearer = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '')?.[1];
  return bearer ?? req.headers['x-api-key'] ?? '';
}

/** A loopback URL where nothing listens (a server was started there and closed). */
export async function closedPortUrl(): Promise<string> {
  const s = await startCannedServer(() => ({ status: 200, body: {} }));
  await s.close();
  return s.url;
}
