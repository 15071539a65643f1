import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger, createRuntime, type Runtime } from '../../src/compose.js';
import { loadConfig } from '../../src/config/config.js';
import { expectProblem, ROOT_KEY, startRuntime, type TestRuntime } from '../helpers/runtime.js';

let rt: TestRuntime | undefined;
afterEach(async () => {
  await rt?.close();
  rt = undefined;
});

describe('health', () => {
  it('answers liveness and readiness', async () => {
    rt = await startRuntime();
    const live = await rt.request({ method: 'GET', url: '/health' });
    expect(live.json()).toMatchObject({ status: 'ok', environment: 'development' });
    const ready = await rt.request({ method: 'GET', url: '/health/ready' });
    expect(ready.statusCode).toBe(200);
    expect(ready.json()).toEqual({ status: 'ready', checks: { control_store: { ok: true, detail: 'reachable' }, warehouse: { ok: true, detail: 'reachable' } } });
  });
});

describe('HTTP conventions', () => {
  it('answers unknown routes with a problem and keeps a sane caller request id', async () => {
    rt = await startRuntime();
    const res = await rt.request({ method: 'GET', url: '/api/v1/nope', headers: { 'x-request-id': 'trace-123' } });
    const body = expectProblem(res, 404, 'NOT_FOUND');
    expect(body.request_id).toBe('trace-123');
    const odd = await rt.request({ method: 'GET', url: '/api/v1/nope', headers: { 'x-request-id': 'bad id\twith spaces' } });
    expect(odd.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('answers malformed URLs and over-long parameters with problems', async () => {
    rt = await startRuntime();
    expectProblem(await rt.request({ method: 'GET', url: '/api/v1/organizations/%E0%A4%A' }), 400, 'VALIDATION_FAILED');
    const long = await rt.request({ method: 'GET', url: `/api/v1/organizations/${'a'.repeat(101)}` });
    expect(long.statusCode).toBeGreaterThanOrEqual(400);
    expect(long.statusCode).toBeLessThan(500);
    expect(long.headers['content-type']).toMatch(/^application\/problem\+json/);
  });

  it('serves OpenAPI at /docs when enabled, and nothing when disabled', async () => {
    rt = await startRuntime({ ENABLE_API_DOCS: 'true' });
    const doc = await rt.request({ method: 'GET', url: '/docs/json' });
    expect(doc.statusCode).toBe(200);
    const paths = Object.keys(doc.json().paths);
    expect(paths).toEqual(expect.arrayContaining(['/api/v1/admin/bootstrap', '/api/v1/organizations/onboard', '/api/v1/organizations/{org}']));
    expect(doc.json().components.securitySchemes.rootKey).toEqual({ type: 'apiKey', in: 'header', name: 'X-CA-Root-Key' });
    expect((await rt.request({ method: 'GET', url: '/docs' })).statusCode).toBeLessThan(400);
    await rt.close();

    rt = await startRuntime({ ENABLE_API_DOCS: 'false' });
    expectProblem(await rt.request({ method: 'GET', url: '/docs/json' }), 404, 'NOT_FOUND');
  });

  it('sends CORS headers only to configured origins', async () => {
    rt = await startRuntime({ CORS_ORIGINS: 'https://console.example.com' });
    const ok = await rt.request({ method: 'OPTIONS', url: '/api/v1/organizations/x', headers: { origin: 'https://console.example.com', 'access-control-request-method': 'GET' } });
    expect(ok.headers['access-control-allow-origin']).toBe('https://console.example.com');
    expect(String(ok.headers['access-control-allow-headers'])).toContain('x-api-key');
    const other = await rt.request({ method: 'GET', url: '/health', headers: { origin: 'https://evil.example.com' } });
    expect(other.headers['access-control-allow-origin']).toBeUndefined();
  });
});

describe('logs', () => {
  it('redact keys and credentials wherever a log call puts them', () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        lines.push(chunk.toString());
        done();
      },
    });
    const logger = createLogger({ logLevel: 'info' }, sink);
    logger.info({ req: { headers: { 'x-api-key': 'acme_api_SECRET1', 'x-ca-root-key': 'ROOTSECRET2', authorization: 'Bearer SECRET3' } } }, 'request');
    logger.info({ api_key: 'SECRET4', result: { api_key: 'SECRET5', credential: 'SECRET6' } }, 'result');
    const out = lines.join('');
    expect(out).not.toMatch(/SECRET\d/);
    expect(out.match(/\[redacted\]/g)).toHaveLength(6);
  });

  it('never contain keys, and carry request ids', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'convergence-logs-'));
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        lines.push(...chunk.toString().split('\n').filter((l) => l !== ''));
        done();
      },
    });
    const config = loadConfig({ CONVERGENCE_DATA_DIR: dir, LOG_LEVEL: 'trace', CA_ROOT_API_KEY: ROOT_KEY }, dir);
    const runtime: Runtime = await createRuntime(config, ROOT_KEY, createLogger(config, sink));
    try {
      const inject = (method: string, url: string, headers: Record<string, string>, body?: unknown) =>
        runtime.app.inject({ method: method as 'GET', url, headers: { ...headers, 'content-type': 'application/json' }, payload: JSON.stringify(body ?? {}) });
      await inject('POST', '/api/v1/admin/bootstrap', { 'x-ca-root-key': ROOT_KEY });
      const onboard = await inject('POST', '/api/v1/organizations/onboard', { 'x-ca-root-key': ROOT_KEY }, { org_slug: 'acmecorp', company_name: 'Acme', admin_email: 'a@acme.com' });
      const key = onboard.json().api_key as string;
      await inject('POST', '/api/v1/organizations/acmecorp/api-keys/rotate', { 'x-api-key': key });
      await inject('GET', '/api/v1/organizations/acmecorp', { 'x-api-key': 'acmecorp_api_wrongwrongwrongwrongwrongwrong12' });
      const all = lines.join('\n');
      expect(lines.length).toBeGreaterThan(5);
      expect(all).not.toContain(ROOT_KEY);
      expect(all).not.toContain(key);
      expect(all).not.toContain('wrongwrongwrong');
      expect(lines.some((l) => JSON.parse(l).request_id === onboard.headers['x-request-id'])).toBe(true);
    } finally {
      await runtime.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
