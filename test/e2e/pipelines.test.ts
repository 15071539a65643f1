import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { call, startServer, type ServerProcess } from '../helpers/server-process.js';
import { waitFor } from '../helpers/wait.js';

/** Pipelines through the real server process: the demo walkthrough, and runs cut short by the process stopping. */
let dir: string;
let server: ServerProcess | undefined;
const ROOT = 'e2e_root_key_0123456789abcdefghijklmn';
const R = { 'x-ca-root-key': ROOT };

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'convergence-e2e-'));
});
afterEach(async () => {
  if (server?.child.exitCode === null) await server.stop('SIGKILL');
  server = undefined;
  fs.rmSync(dir, { recursive: true, force: true });
});

const SLOW = `pipeline_id: slow
steps:
  - step_id: spin
    ps_type: gcp.bq_etl
    source: { query: "SELECT count(*) AS n FROM range(100000000000)" }
    destination: { table: spin }
`;


/** A real server process is slower to react: a longer deadline. */
const until = <T>(what: string, probe: () => Promise<T | undefined>): Promise<T> => waitFor(probe, what, 15_000);

async function setUp(s: ServerProcess): Promise<Record<string, string>> {
  expect((await call(s.url, 'POST', '/api/v1/admin/bootstrap', R, {})).status).toBe(200);
  const onboard = await call(s.url, 'POST', '/api/v1/organizations/onboard', R, { org_slug: 'acmecorp', company_name: 'Acme Corp', admin_email: 'admin@acme.com' });
  expect(onboard.status).toBe(201);
  return { 'x-api-key': String(onboard.json.api_key) };
}

async function startSlowRun(s: ServerProcess, K: Record<string, string>): Promise<string> {
  expect((await call(s.url, 'POST', '/api/v1/pipelines/configs', K, { config_id: 'slow', yaml: SLOW })).status).toBe(201);
  const run = await call(s.url, 'POST', '/api/v1/pipelines/run/acmecorp/custom/configs/slow', K, {});
  expect(run.status).toBe(202);
  const id = String(run.json.pipeline_logging_id);
  // Mid-run: the run and its step are recorded RUNNING (step transitions are group-committed within ~20 ms).
  await until('the step to run', async () => {
    const r = (await call(s.url, 'GET', `/api/v1/pipelines/runs/${id}`, K)).json;
    return r.status === 'RUNNING' && (r.steps as { status: string }[])[0]?.status === 'RUNNING' ? true : undefined;
  });
  return id;
}

describe('pipelines in the server process', () => {
  it('runs the demo pipeline as the README shows', async () => {
    server = await startServer({ CONVERGENCE_DATA_DIR: dir, CA_ROOT_API_KEY: ROOT });
    const K = await setUp(server);
    const run = await call(server.url, 'POST', '/api/v1/pipelines/run/acmecorp/demo/sample/costs?wait=true', K, { date: '2026-01-15' });
    expect(run.status, JSON.stringify(run.json)).toBe(200);
    expect(run.json).toMatchObject({ status: 'SUCCESS', pipeline_id: 'acmecorp_demo_sample_costs', parameters: { date: '2026-01-15', lines: 200 } });
    const steps = run.json.steps as { step_id: string; status: string }[];
    expect(steps.map((s) => [s.step_id, s.status])).toEqual([
      ['generate', 'SUCCESS'],
      ['aggregate', 'SUCCESS'],
      ['check', 'SUCCESS'],
      ['notify_failure', 'SKIPPED'],
    ]);
    expect((run.json.dq_results as unknown[]).length).toBe(5);
    const list = await call(server.url, 'GET', '/api/v1/pipelines/runs?pipeline=demo/sample/costs', K);
    expect((list.json.runs as unknown[]).length).toBe(1);
  });

  it('after a kill -9 mid-run, the restarted service retries the run as its next attempt; nothing stays RUNNING', async () => {
    server = await startServer({ CONVERGENCE_DATA_DIR: dir, CA_ROOT_API_KEY: ROOT });
    const K = await setUp(server);
    const demo = await call(server.url, 'POST', '/api/v1/pipelines/run/acmecorp/demo/sample/costs?wait=true', K, { date: '2026-01-15' });
    expect(demo.json.status).toBe('SUCCESS');
    const id = await startSlowRun(server, K);
    await server.stop('SIGKILL');

    server = await startServer({ CONVERGENCE_DATA_DIR: dir, CA_ROOT_API_KEY: ROOT });
    const s = server;
    // The dead process's lease is void: the run is claimed again as attempt 2.
    const retried = await until('the retry to start', async () => {
      const r = (await call(s.url, 'GET', `/api/v1/pipelines/runs/${id}`, K)).json;
      return r.status === 'RUNNING' && r.attempt === 2 && (r.steps as { status: string }[]).some((st) => st.status === 'RUNNING') ? r : undefined;
    });
    const steps = retried.steps as { status: string; error_message: string | null }[];
    expect(steps.find((st) => st.status === 'FAILED')?.error_message).toMatch(/lost its worker/);
    expect((await call(s.url, 'DELETE', `/api/v1/pipelines/runs/${id}`, K)).json).toMatchObject({ status: 'CANCELLED' });

    // Re-running the same day after all that leaves the same rows.
    const again = await call(s.url, 'POST', '/api/v1/pipelines/run/acmecorp/demo/sample/costs?wait=true', K, { date: '2026-01-15' });
    expect(again.json.status).toBe('SUCCESS');
    expect((again.json.steps as { rows_processed: number }[])[0]?.rows_processed).toBe(200);
    const quota = await call(s.url, 'GET', '/api/v1/organizations/acmecorp/quota', K);
    expect(quota.json).toMatchObject({ pipelines_run_today: 3, concurrent_running: 0 });
  });

  it('SIGTERM drains: a run still going after the grace period goes back to the queue and resumes after the restart', async () => {
    const env = { CONVERGENCE_DATA_DIR: dir, CA_ROOT_API_KEY: ROOT, SHUTDOWN_GRACE_MS: '300' };
    server = await startServer(env);
    const K = await setUp(server);
    const id = await startSlowRun(server, K);
    expect(await server.stop('SIGTERM')).toMatchObject({ code: 0 });

    server = await startServer(env);
    const s = server;
    const resumed = await until('the run to resume', async () => {
      const r = (await call(s.url, 'GET', `/api/v1/pipelines/runs/${id}`, K)).json;
      return r.status === 'RUNNING' && r.attempt === 2 ? r : undefined;
    });
    const steps = resumed.steps as { status: string; error_message: string | null }[];
    expect(steps.some((st) => st.status === 'CANCELLED' || (st.error_message ?? '').includes('service stopped'))).toBe(true);
    expect((await call(s.url, 'DELETE', `/api/v1/pipelines/runs/${id}`, K)).json).toMatchObject({ status: 'CANCELLED' });
  });
});
