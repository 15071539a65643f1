import { afterEach, expect, it } from 'vitest';
import { startRuntime, type TestRuntime } from '../helpers/runtime.js';

let rt: TestRuntime;
afterEach(async () => {
  await rt.close();
});
const cfg = (q: string, t: string) => `pipeline_id: "{org_slug}_${t}"
steps:
  - step_id: load
    ps_type: gcp.bq_etl
    source: { query: ${JSON.stringify(q)} }
    destination: { table: "{dataset}.${t}", write_disposition: WRITE_APPEND }
`;
async function waitFor<T>(probe: () => Promise<T | undefined> | T | undefined, what: string, deadlineMs = 10_000): Promise<T> {
  const until = Date.now() + deadlineMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

it('stale', async () => {
  rt = await startRuntime({ SCHEDULER_ENABLED: 'false', WORKER_CONCURRENCY: '1', QUEUE_LEASE_MS: '900', QUEUE_POLL_MS: '50' });
  await rt.bootstrap();
  const ka = (await rt.onboard('lease_a', 'SCALE')).api_key;
  expect((await rt.org(ka, 'POST', '/api/v1/pipelines/configs', { config_id: 'slow', yaml: cfg('SELECT count(*) AS n FROM range(100000000000)', 's') })).statusCode).toBe(201);
  const id = (await rt.org(ka, 'POST', '/api/v1/pipelines/run/lease_a/custom/configs/slow', {})).json().pipeline_logging_id;
  await waitFor(async () => ((await rt.warehouse.query(`SELECT status FROM organizations.org_meta_step_logs WHERE pipeline_logging_id=$1`, [id]))[0]?.status === 'RUNNING' ? true : undefined), 'running');
  // the worker's lease is made to look expired (a stall)
  await rt.warehouse.query(`UPDATE organizations.org_pipeline_execution_queue SET lease_expires_at = $2 WHERE pipeline_logging_id = $1`, [id, new Date(Date.now() - 1000)]);
  const t = Date.now();
  for (let i = 0; i < 40; i++) {
    const q = await rt.warehouse.query(`SELECT status, attempt, lease_owner FROM organizations.org_pipeline_execution_queue WHERE pipeline_logging_id = $1`, [id]);
    const r = await rt.warehouse.query(`SELECT status, attempt, error_message FROM organizations.org_meta_pipeline_runs WHERE pipeline_logging_id = $1`, [id]);
    console.log(Date.now() - t, JSON.stringify(q), JSON.stringify(r));
    await new Promise((res) => setTimeout(res, 150));
  }
});
