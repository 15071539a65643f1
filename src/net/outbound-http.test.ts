import http from 'node:http';
import type { AddressInfo } from 'node:net';
import fc from 'fast-check';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { isPrivateAddress, OutboundError, OutboundHttp } from './outbound-http.js';

describe('isPrivateAddress', () => {
  it.each([
    '127.0.0.1',
    '127.255.255.254',
    '10.0.0.1',
    '10.255.255.255',
    '172.16.0.1',
    '172.31.255.255',
    '192.168.1.1',
    '169.254.169.254',
    '0.0.0.0',
    '100.64.0.1',
    '224.0.0.1',
    '255.255.255.255',
    '::1',
    '::',
    'fe80::1',
    'fc00::1',
    'fd12:3456::1',
    'ff02::1',
    '::ffff:127.0.0.1',
    '::ffff:7f00:1',
    '::FFFF:10.0.0.1',
    '::ffff:169.254.169.254',
  ])('%s is private', (a) => {
    expect(isPrivateAddress(a)).toBe(true);
  });

  it.each(['8.8.8.8', '1.1.1.1', '172.32.0.1', '172.15.255.255', '100.128.0.1', '2001:4860::8888', '2606:4700:4700::1111', '::ffff:8.8.8.8'])('%s is public', (a) => {
    expect(isPrivateAddress(a)).toBe(false);
  });

  it('is false for names (they are checked when resolved)', () => {
    expect(isPrivateAddress('localhost')).toBe(false);
    expect(isPrivateAddress('example.com')).toBe(false);
  });

  it('an IPv4-mapped IPv6 address is private exactly when its IPv4 address is (dotted and hex forms)', () => {
    fc.assert(
      fc.property(fc.ipV4(), (v4) => {
        const [a, b, c, d] = v4.split('.').map(Number) as [number, number, number, number];
        const hex = `::ffff:${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
        const expected = isPrivateAddress(v4);
        expect(isPrivateAddress(`::ffff:${v4}`)).toBe(expected);
        expect(isPrivateAddress(hex)).toBe(expected);
      }),
      { numRuns: 300 },
    );
  });

  it('every address of 10/8, 127/8, 169.254/16, 172.16/12 and 192.168/16 is private', () => {
    const octet = fc.integer({ min: 0, max: 255 });
    fc.assert(
      fc.property(fc.constantFrom('10', '127', '169.254', '172.16-31', '192.168'), octet, octet, octet, (net, x, y, z) => {
        const addr =
          net === '10' || net === '127'
            ? `${net}.${x}.${y}.${z}`
            : net === '172.16-31'
              ? `172.${16 + (x % 16)}.${y}.${z}`
              : `${net}.${y}.${z}`;
        expect(isPrivateAddress(addr)).toBe(true);
      }),
      { numRuns: 300 },
    );
  });
});

describe('OutboundHttp.checkUrl', () => {
  const out = new OutboundHttp([]);

  it.each(['ftp://example.com/x', 'file:///etc/passwd', 'gopher://example.com/', 'javascript:alert(1)', 'data:text/plain,hi'])('refuses the scheme of %s', (url) => {
    expect(() => out.checkUrl(url)).toThrow(OutboundError);
    expect(() => out.checkUrl(url)).toThrow(/only http and https/);
  });

  it('refuses something that is not a URL', () => {
    expect(() => out.checkUrl('not a url')).toThrow(OutboundError);
  });

  it.each(['https://user:pass@example.com/', 'https://user@example.com/', 'https://:pass@example.com/'])('refuses credentials in %s', (url) => {
    expect(() => out.checkUrl(url)).toThrow(/credentials/);
  });

  it.each([
    'http://127.0.0.1/',
    'http://127.0.0.1:8080/hook',
    'http://10.1.2.3/',
    'http://172.16.0.5/',
    'http://192.168.0.1/',
    'http://169.254.169.254/latest/meta-data/',
    'http://0.0.0.0/',
    'http://[::1]/',
    'http://[fe80::1]/',
    'http://[fc00::1]/',
    'http://[::ffff:127.0.0.1]/',
    // Non-canonical IPv4 forms are canonicalized by the URL parser before the check.
    'http://2130706433/',
    'http://0x7f.1/',
    'http://0177.0.0.1/',
    'http://127.1/',
  ])('refuses the private literal host of %s', (url) => {
    expect(() => out.checkUrl(url)).toThrow(/private or loopback/);
  });

  it.each(['https://example.com/hook', 'http://8.8.8.8/x', 'https://[2001:4860::8888]/', 'https://localhost/'])('accepts %s (names are checked at connect time)', (url) => {
    expect(out.checkUrl(url)).toBeInstanceOf(URL);
  });

  it('accepts private literal hosts that are allow-listed, and only those', () => {
    const allowed = new OutboundHttp(['127.0.0.1', '[::1]', '::1', '10.0.0.7']);
    expect(allowed.checkUrl('http://127.0.0.1:9000/x').port).toBe('9000');
    expect(allowed.checkUrl('http://[::1]/').hostname).toBe('[::1]');
    expect(allowed.checkUrl('http://10.0.0.7/').hostname).toBe('10.0.0.7');
    expect(() => allowed.checkUrl('http://10.0.0.8/')).toThrow(/private/);
    expect(() => allowed.checkUrl('http://127.0.0.2/')).toThrow(/private/);
  });

  it('the allowlist is case-insensitive', () => {
    expect(new OutboundHttp(['LocalHost']).checkUrl('http://localhost/').hostname).toBe('localhost');
  });

  it('an allow-listed host still needs http(s) and no credentials', () => {
    const allowed = new OutboundHttp(['127.0.0.1']);
    expect(() => allowed.checkUrl('ftp://127.0.0.1/')).toThrow(/only http/);
    expect(() => allowed.checkUrl('http://a:b@127.0.0.1/')).toThrow(/credentials/);
  });
});

describe('OutboundHttp.postJson', () => {
  interface Received {
    readonly method: string;
    readonly url: string;
    readonly headers: http.IncomingHttpHeaders;
    readonly body: string;
  }
  let server: http.Server;
  let port: number;
  let received: Received[] = [];

  beforeAll(async () => {
    server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        received.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
        switch (req.url) {
          case '/hang':
            return; // never answers
          case '/redirect':
            res.writeHead(302, { location: `http://127.0.0.1:${port}/target` }).end();
            return;
          case '/fail':
            res.writeHead(503, { 'content-type': 'text/plain' }).end('down');
            return;
          default:
            res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
        }
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });

  beforeEach(() => {
    received = [];
  });

  afterAll(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  const rejection = async (p: Promise<unknown>): Promise<Error> => {
    const e = await p.then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(e, 'expected a rejection').toBeInstanceOf(Error);
    return e as Error;
  };

  it('refuses a loopback literal without allowlist, sending nothing', async () => {
    const e = await rejection(new OutboundHttp([]).postJson(`http://127.0.0.1:${port}/ok`, '{}'));
    expect(e).toBeInstanceOf(OutboundError);
    expect(e.message).toMatch(/private or loopback/);
    expect(received).toEqual([]);
  });

  it('refuses a name that resolves to loopback (localhost), sending nothing', async () => {
    const e = await rejection(new OutboundHttp([]).postJson(`http://localhost:${port}/ok`, '{}'));
    expect(e).toBeInstanceOf(OutboundError);
    expect(e.message).toMatch(/localhost resolves to private address/);
    expect(received).toEqual([]);
  });

  it('allow-listing 127.0.0.1 does not allow-list a name resolving to it', async () => {
    const e = await rejection(new OutboundHttp(['127.0.0.1']).postJson(`http://localhost:${port}/ok`, '{}'));
    expect(e).toBeInstanceOf(OutboundError);
    expect(received).toEqual([]);
  });

  it('posts JSON to an allow-listed 127.0.0.1', async () => {
    const body = JSON.stringify({ hello: 'wörld' });
    const r = await new OutboundHttp(['127.0.0.1']).postJson(`http://127.0.0.1:${port}/ok?x=1`, body, { headers: { 'x-extra': 'yes' } });
    expect(r).toEqual({ status: 200, body: '{"ok":true}' });
    expect(received).toHaveLength(1);
    const got = received[0] as Received;
    expect(got.method).toBe('POST');
    expect(got.url).toBe('/ok?x=1');
    expect(got.body).toBe(body);
    expect(got.headers['content-type']).toBe('application/json');
    expect(got.headers['content-length']).toBe(String(Buffer.byteLength(body)));
    expect(got.headers['user-agent']).toBe('convergence');
    expect(got.headers['x-extra']).toBe('yes');
  });

  it('posts to an allow-listed localhost', async () => {
    const r = await new OutboundHttp(['localhost']).postJson(`http://localhost:${port}/ok`, '{"a":1}');
    expect(r.status).toBe(200);
    expect(received.map((x) => x.body)).toEqual(['{"a":1}']);
  });

  it('returns 5xx answers (the caller decides)', async () => {
    expect(await new OutboundHttp(['127.0.0.1']).postJson(`http://127.0.0.1:${port}/fail`, '{}')).toEqual({ status: 503, body: 'down' });
  });

  it('does not follow a 302', async () => {
    const e = await rejection(new OutboundHttp(['127.0.0.1']).postJson(`http://127.0.0.1:${port}/redirect`, '{}'));
    expect(e).toBeInstanceOf(OutboundError);
    expect(e.message).toMatch(/302 redirect .*not followed/);
    expect(received.map((x) => x.url)).toEqual(['/redirect']);
  });

  it('gives up after timeoutMs on a server that never answers', async () => {
    const started = Date.now();
    const e = await rejection(new OutboundHttp(['127.0.0.1']).postJson(`http://127.0.0.1:${port}/hang`, '{}', { timeoutMs: 200 }));
    expect(e).toBeInstanceOf(OutboundError);
    expect(e.message).toMatch(/no answer .* within 200 ms/);
    const took = Date.now() - started;
    expect(took).toBeGreaterThanOrEqual(150);
    expect(took).toBeLessThan(3_000);
  });

  it('an AbortSignal cancels the request', async () => {
    const ac = new AbortController();
    const p = new OutboundHttp(['127.0.0.1']).postJson(`http://127.0.0.1:${port}/hang`, '{}', { signal: ac.signal });
    setTimeout(() => ac.abort(), 50);
    const e = await rejection(p);
    expect(e.name).toBe('AbortError');
  });

  it('a closed port is an ordinary network error', async () => {
    const probe = http.createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const closedPort = (probe.address() as AddressInfo).port;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    const e = await rejection(new OutboundHttp(['127.0.0.1']).postJson(`http://127.0.0.1:${closedPort}/`, '{}'));
    expect(e).not.toBeInstanceOf(OutboundError);
    expect((e as NodeJS.ErrnoException).code).toBe('ECONNREFUSED');
  });
});
