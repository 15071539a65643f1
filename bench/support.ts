// Shared set-up of the benchmarks: a real embedded runtime in a temp dir, bootstrapped, with one
// SCALE org whose key the scenarios use through app.inject.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createLogger, createRuntime, type Runtime } from '../src/compose.js';
import { loadConfig } from '../src/config/config.js';

const ROOT = 'bench_root_key_0123456789abcdefghijklmnop';
export const BENCH_ORG = 'bench_org';

export interface BenchRuntime {
  readonly rt: Runtime;
  /** Headers carrying the bench org's API key. */
  readonly orgKey: Record<string, string>;
  inject(method: string, url: string, headers: Record<string, string>, body?: unknown): Promise<Record<string, unknown>>;
  close(): Promise<void>;
}

export async function benchRuntime(env: Record<string, string> = {}): Promise<BenchRuntime> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'convergence-bench-'));
  const config = loadConfig({ CONVERGENCE_DATA_DIR: dir, LOG_LEVEL: 'silent', CA_ROOT_API_KEY: ROOT, ...env }, dir);
  const rt = await createRuntime(config, ROOT, createLogger(config));
  const inject = async (method: string, url: string, headers: Record<string, string>, body?: unknown): Promise<Record<string, unknown>> => {
    const res = await rt.app.inject({ method: method as 'GET', url, headers: { 'content-type': 'application/json', ...headers }, payload: JSON.stringify(body ?? {}) });
    if (res.statusCode >= 300) throw new Error(`${method} ${url}: ${res.statusCode} ${res.body}`);
    return res.json();
  };
  await inject('POST', '/api/v1/admin/bootstrap', { 'x-ca-root-key': ROOT });
  const onboard = await inject('POST', '/api/v1/organizations/onboard', { 'x-ca-root-key': ROOT }, { org_slug: BENCH_ORG, company_name: 'Bench', admin_email: 'b@bench.dev', subscription_plan: 'SCALE' });
  return {
    rt,
    orgKey: { 'x-api-key': String(onboard.api_key) },
    inject,
    async close() {
      await rt.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Writes bench/results/{name}.json. */
export function saveResult(name: string, result: unknown): void {
  fs.mkdirSync(path.join('bench', 'results'), { recursive: true });
  fs.writeFileSync(path.join('bench', 'results', `${name}.json`), `${JSON.stringify(result, null, 2)}\n`);
}
