import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { LightMyRequestResponse } from 'fastify';
import { expect } from 'vitest';
import { createLogger, createRuntime, type Runtime } from '../../src/compose.js';
import { loadConfig } from '../../src/config/config.js';

/**
 * A real runtime (real DuckDB file in a fresh temp dir, real services, real Fastify app) driven
 * through `app.inject`. Each call gets its own directory; `close()` removes it unless the test
 * failed and KEEP_TEST_DATA is set.
 */
export const ROOT_KEY = 'test_root_key_0123456789abcdefghijklmnop';

export interface TestRuntime extends Runtime {
  readonly dir: string;
  request(opts: RequestOptions): Promise<LightMyRequestResponse>;
  root(method: string, url: string, body?: unknown): Promise<LightMyRequestResponse>;
  org(key: string, method: string, url: string, body?: unknown): Promise<LightMyRequestResponse>;
  bootstrap(): Promise<void>;
  onboard(slug: string, plan?: string): Promise<{ api_key: string; [k: string]: unknown }>;
}

export interface RequestOptions {
  readonly method: string;
  readonly url: string;
  readonly headers?: Record<string, string>;
  readonly body?: unknown;
}

export async function startRuntime(env: Record<string, string> = {}, dir = fs.mkdtempSync(path.join(os.tmpdir(), 'convergence-test-'))): Promise<TestRuntime> {
  // No drain grace by default: closing a test runtime stops (and requeues) running runs at once.
  const config = loadConfig({ CONVERGENCE_DATA_DIR: dir, LOG_LEVEL: 'silent', CA_ROOT_API_KEY: ROOT_KEY, SHUTDOWN_GRACE_MS: '0', ...env }, dir);
  const runtime = await createRuntime(config, config.rootApiKey ?? ROOT_KEY, createLogger(config));
  const request = (o: RequestOptions): Promise<LightMyRequestResponse> =>
    runtime.app.inject({
      method: o.method as 'GET',
      url: o.url,
      headers: { ...(o.body === undefined ? {} : { 'content-type': 'application/json' }), ...o.headers },
      ...(o.body === undefined ? {} : { payload: typeof o.body === 'string' ? o.body : JSON.stringify(o.body) }),
    });
  const t: TestRuntime = {
    ...runtime,
    dir,
    request,
    root: (method, url, body) => request({ method, url, body, headers: { 'x-ca-root-key': ROOT_KEY } }),
    org: (key, method, url, body) => request({ method, url, body, headers: { 'x-api-key': key } }),
    async bootstrap() {
      const res = await t.root('POST', '/api/v1/admin/bootstrap', {});
      expect(res.statusCode, res.body).toBe(200);
    },
    async onboard(slug, plan = 'STARTER') {
      const res = await t.root('POST', '/api/v1/organizations/onboard', {
        org_slug: slug,
        company_name: `${slug} Inc`,
        admin_email: `admin@${slug.replace(/_/g, '-')}.example.com`,
        subscription_plan: plan,
      });
      expect(res.statusCode, res.body).toBe(201);
      return res.json();
    },
    async close() {
      await runtime.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
  return t;
}

/** Asserts an RFC 9457 problem answer and returns its body. */
export function expectProblem(res: LightMyRequestResponse, status: number, code: string): Record<string, unknown> {
  expect(res.statusCode, res.body).toBe(status);
  expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
  const body = res.json<Record<string, unknown>>();
  expect(body).toMatchObject({ status, code, type: expect.stringContaining('/problems/'), title: expect.any(String), detail: expect.any(String) });
  expect(body.request_id).toBe(res.headers['x-request-id']);
  return body;
}
