import { afterEach, beforeEach, expect, it } from 'vitest';
import { startRuntime, type TestRuntime } from '../helpers/runtime.js';

let rt: TestRuntime;
let key: string;
beforeEach(async () => {
  rt = await startRuntime({ SCHEDULER_ENABLED: 'false' });
  await rt.bootstrap();
  key = (await rt.onboard('acme_s', 'SCALE')).api_key;
});
afterEach(async () => {
  await rt.close();
});

it('explore', async () => {
  const res = await rt.org(key, 'POST', '/api/v1/scheduler/configs', { pipeline_config: 'demo/sample/costs', schedule: '* * * * *', parameters: { lines: 5 }, missed_run_policy: 'all' });
  console.log(res.statusCode, res.body);
  const id = res.json().schedule_id;
  const t0 = new Date(Math.floor(Date.now() / 60000) * 60000 - 10 * 60000);
  console.log(await rt.warehouse.query(`UPDATE organizations.org_scheduled_pipeline_runs SET next_run_at = $2 WHERE schedule_id = $1`, [id, t0]));
  console.log(await rt.warehouse.query(`SELECT * FROM organizations.org_scheduled_pipeline_runs`));
  const t = Date.now();
  console.log(await Promise.all([rt.services.schedules.tick(), rt.services.schedules.tick()]), Date.now() - t);
  console.log(await rt.warehouse.query(`SELECT * FROM organizations.org_pipeline_execution_queue ORDER BY scheduled_time LIMIT 2`));
  console.log(await rt.warehouse.query(`SELECT * FROM organizations.org_meta_pipeline_runs WHERE trigger_type='schedule' LIMIT 2`));
  console.log(await rt.warehouse.query(`SELECT * FROM organizations.org_usage_quotas`));
  console.log(await rt.warehouse.query(`SELECT * FROM organizations.org_scheduled_pipeline_runs`));
  expect(1).toBe(1);
});
