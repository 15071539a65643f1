import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { expectProblem, startRuntime, type TestRuntime } from '../helpers/runtime.js';
import { waitFor } from '../helpers/wait.js';

/**
 * Schedules through the API and the scheduler tick on a real runtime (DESIGN.md §7): CRUD, bad input,
 * tenant walls, exactly-once firing, missed-run policies after downtime, quotas on scheduled runs,
 * scheduled runs executing, and deactivated schedules. The ticker is off; tests call tick() and
 * simulate time passing by moving next_run_at in the central table.
 */
let rt: TestRuntime;
let keyA: string;
const A = 'sched_a';
const B = 'sched_b';
const DEMO = 'demo/sample/costs';
const MINUTE = 60_000;

beforeEach(async () => {
  // One worker slot: scheduled runs still execute, without crowding the 2 cores the ticks need.
  rt = await startRuntime({ SCHEDULER_ENABLED: 'false', WORKER_CONCURRENCY: '1' });
  await rt.bootstrap();
  keyA = (await rt.onboard(A, 'SCALE')).api_key;
});
afterEach(async () => {
  await rt.close();
});

interface Schedule {
  schedule_id: string;
  org_slug: string;
  pipeline_config: string;
  schedule: string;
  timezone: string;
  parameters: Record<string, unknown>;
  missed_run_policy: string;
  is_active: boolean;
  next_run_at: string | null;
  last_run_at: string | null;
  created_at: string;
  updated_at: string;
}
interface QueueRow {
  queue_id: string;
  pipeline_logging_id: string;
  status: string;
  priority: number;
  attempt: number;
  dedupe_key: string | null;
  schedule_id: string | null;
  scheduled_time: Date | null;
}
interface RunRow {
  pipeline_logging_id: string;
  org_slug: string;
  pipeline_path: string | null;
  status: string;
  trigger_type: string;
  trigger_by: string;
  error_message: string | null;
  end_time: Date | null;
  parameters: string | null;
}


const SCHEDULES = 'organizations.org_scheduled_pipeline_runs';
const QUEUE = 'organizations.org_pipeline_execution_queue';
const RUNS = 'organizations.org_meta_pipeline_runs';

async function create(key: string, body: Record<string, unknown>): Promise<Schedule> {
  const res = await rt.org(key, 'POST', '/api/v1/scheduler/configs', body);
  expect(res.statusCode, res.body).toBe(201);
  return res.json<Schedule>();
}

const every = (policy: string, extra: Record<string, unknown> = {}): Record<string, unknown> => ({
  pipeline_config: DEMO,
  schedule: '* * * * *',
  parameters: { lines: 5 },
  missed_run_policy: policy,
  ...extra,
});

/** Moves a schedule's next occurrence (time passing, or downtime). */
async function setNext(id: string, at: Date | null): Promise<void> {
  await rt.warehouse.query(`UPDATE ${SCHEDULES} SET next_run_at = $2 WHERE schedule_id = $1`, [id, at]);
}

async function scheduleRow(id: string): Promise<{ next_run_at: Date | null; last_run_at: Date | null; is_active: boolean }> {
  const [row] = await rt.warehouse.query<{ next_run_at: Date | null; last_run_at: Date | null; is_active: boolean }>(
    `SELECT next_run_at, last_run_at, is_active FROM ${SCHEDULES} WHERE schedule_id = $1`,
    [id],
  );
  expect(row, id).toBeDefined();
  return row as { next_run_at: Date | null; last_run_at: Date | null; is_active: boolean };
}

const queueOf = (scheduleId: string): Promise<QueueRow[]> =>
  rt.warehouse.query<QueueRow & Record<string, unknown>>(
    `SELECT queue_id, pipeline_logging_id, status, priority, attempt, dedupe_key, schedule_id, scheduled_time FROM ${QUEUE} WHERE schedule_id = $1 ORDER BY scheduled_time`,
    [scheduleId],
  );

const runsOf = (scheduleId: string): Promise<RunRow[]> =>
  rt.warehouse.query<RunRow & Record<string, unknown>>(
    `SELECT pipeline_logging_id, org_slug, pipeline_path, status, trigger_type, trigger_by, error_message, end_time, CAST(parameters AS VARCHAR) AS parameters
     FROM ${RUNS} WHERE trigger_by = $1 ORDER BY created_at, pipeline_logging_id`,
    [`schedule:${scheduleId}`],
  );

async function count(sql: string, params: (string | number)[] = []): Promise<number> {
  const [row] = await rt.warehouse.query<{ n: number | bigint }>(sql, params);
  return Number(row?.n);
}

const usageToday = async (org: string): Promise<number> =>
  count(`SELECT COALESCE(SUM(pipelines_run_today), 0) AS n FROM organizations.org_usage_quotas WHERE org_slug = $1 AND usage_date = CAST($2 AS DATE)`, [
    org,
    new Date().toISOString().slice(0, 10),
  ]);

const berlinTime = (d: Date): string =>
  new Intl.DateTimeFormat('en-GB', { timeZone: 'Europe/Berlin', hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23' }).format(d);

const floorMinute = (ms: number): number => Math.floor(ms / MINUTE) * MINUTE;

/**
 * The start of the current minute, once the clock is far enough from the next minute that the tick
 * that follows sees the same minute (so occurrence counts are exact).
 */
async function thisMinute(): Promise<number> {
  await waitFor(() => (Date.now() % MINUTE < 52_000 ? true : undefined), 'a moment well inside a minute', 12_000);
  return floorMinute(Date.now());
}

const tick = (): Promise<{ queued: number; refused: number }> => rt.services.schedules.tick();

const isoMinutes = (from: number, n: number): string[] => Array.from({ length: n }, (_, i) => new Date(from + i * MINUTE).toISOString());

describe('schedules API', () => {
  it('creates, lists, reads, changes and deletes a schedule', async () => {
    const before = Date.now();
    const s = await create(keyA, { pipeline_config: DEMO, schedule: '*/5 * * * *', timezone: 'Europe/Berlin', parameters: { lines: 5 }, missed_run_policy: 'all' });
    expect(s).toMatchObject({
      schedule_id: expect.stringMatching(/^[0-9a-f-]{36}$/),
      org_slug: A,
      pipeline_config: DEMO,
      schedule: '*/5 * * * *',
      timezone: 'Europe/Berlin',
      parameters: { lines: 5 },
      missed_run_policy: 'all',
      is_active: true,
      last_run_at: null,
    });
    const next = Date.parse(s.next_run_at as string);
    expect(next).toBeGreaterThan(before);
    expect(next).toBeLessThanOrEqual(Date.now() + 5 * MINUTE);
    expect(next % (5 * MINUTE)).toBe(0); // a 5-minute boundary (Berlin is a whole number of hours from UTC)

    const list = await rt.org(keyA, 'GET', '/api/v1/scheduler/configs');
    expect(list.statusCode, list.body).toBe(200);
    expect(list.json<{ schedules: Schedule[] }>().schedules).toEqual([s]);
    const one = await rt.org(keyA, 'GET', `/api/v1/scheduler/configs/${s.schedule_id}`);
    expect(one.statusCode, one.body).toBe(200);
    expect(one.json()).toEqual(s);

    // A new cron expression: next_run_at is computed again (03:00 in Berlin, within a day); the rest stays.
    const put = await rt.org(keyA, 'PUT', `/api/v1/scheduler/configs/${s.schedule_id}`, { schedule: '0 3 * * *' });
    expect(put.statusCode, put.body).toBe(200);
    const changed = put.json<Schedule>();
    expect(changed).toMatchObject({ schedule_id: s.schedule_id, schedule: '0 3 * * *', timezone: 'Europe/Berlin', parameters: { lines: 5 }, missed_run_policy: 'all', is_active: true, created_at: s.created_at });
    const changedNext = new Date(changed.next_run_at as string);
    expect(changedNext.getTime()).toBeGreaterThan(Date.now());
    expect(changedNext.getTime()).toBeLessThanOrEqual(Date.now() + 25 * 3_600_000);
    expect(berlinTime(changedNext)).toBe('03:00:00');
    expect(Date.parse(changed.updated_at)).toBeGreaterThanOrEqual(Date.parse(s.updated_at));
    expect((await rt.org(keyA, 'GET', `/api/v1/scheduler/configs/${s.schedule_id}`)).json()).toEqual(changed);
    expect((await scheduleRow(s.schedule_id)).next_run_at?.toISOString()).toBe(changed.next_run_at);

    // Other fields change one at a time; switching it off clears next_run_at, on again computes it.
    const off = await rt.org(keyA, 'PUT', `/api/v1/scheduler/configs/${s.schedule_id}`, { is_active: false, parameters: { lines: 7 }, missed_run_policy: 'none' });
    expect(off.statusCode, off.body).toBe(200);
    expect(off.json()).toMatchObject({ is_active: false, next_run_at: null, parameters: { lines: 7 }, missed_run_policy: 'none', schedule: '0 3 * * *' });
    const on = await rt.org(keyA, 'PUT', `/api/v1/scheduler/configs/${s.schedule_id}`, { is_active: true });
    expect(on.json()).toMatchObject({ is_active: true, parameters: { lines: 7 } });
    expect(berlinTime(new Date(on.json<Schedule>().next_run_at as string))).toBe('03:00:00');

    const del = await rt.org(keyA, 'DELETE', `/api/v1/scheduler/configs/${s.schedule_id}`);
    expect(del.statusCode, del.body).toBe(200);
    expect(del.json()).toEqual({ schedule_id: s.schedule_id, deleted: true });
    expectProblem(await rt.org(keyA, 'GET', `/api/v1/scheduler/configs/${s.schedule_id}`), 404, 'SCHEDULE_NOT_FOUND');
    expectProblem(await rt.org(keyA, 'PUT', `/api/v1/scheduler/configs/${s.schedule_id}`, { is_active: false }), 404, 'SCHEDULE_NOT_FOUND');
    expectProblem(await rt.org(keyA, 'DELETE', `/api/v1/scheduler/configs/${s.schedule_id}`), 404, 'SCHEDULE_NOT_FOUND');
    expect((await rt.org(keyA, 'GET', '/api/v1/scheduler/configs')).json()).toEqual({ schedules: [] });
    expect(await count(`SELECT count(*) AS n FROM ${SCHEDULES}`)).toBe(0);
  });

  it('refuses bad cron expressions, time zones, parameters and bodies with 400 and stores nothing', async () => {
    const base = { pipeline_config: DEMO, schedule: '*/5 * * * *', parameters: { lines: 5 } };
    const cases: [Record<string, unknown>, string][] = [
      [{ ...base, schedule: '61 * * * *' }, 'VALIDATION_FAILED'],
      [{ ...base, schedule: '* * *' }, 'VALIDATION_FAILED'],
      [{ ...base, schedule: '@every 1s' }, 'VALIDATION_FAILED'],
      [{ ...base, schedule: 'x'.repeat(500) }, 'VALIDATION_FAILED'],
      [{ ...base, schedule: `${'* '.repeat(250)}` }, 'VALIDATION_FAILED'],
      [{ ...base, schedule: 'y'.repeat(501) }, 'VALIDATION_FAILED'],
      [{ ...base, schedule: '*/5 * * * * *' }, 'VALIDATION_FAILED'],
      [{ ...base, schedule: '0 0 * * * 2026' }, 'VALIDATION_FAILED'],
      [{ ...base, schedule: '' }, 'VALIDATION_FAILED'],
      [{ ...base, schedule: '   ' }, 'VALIDATION_FAILED'],
      [{ ...base, schedule: '* * * 13 *' }, 'VALIDATION_FAILED'],
      [{ ...base, schedule: '0 25 * * *' }, 'VALIDATION_FAILED'],
      [{ ...base, schedule: 'a b c d e' }, 'VALIDATION_FAILED'],
      [{ ...base, timezone: 'Mars/Base' }, 'VALIDATION_FAILED'],
      [{ ...base, timezone: '' }, 'VALIDATION_FAILED'],
      [{ ...base, parameters: { lines: 'abc' } }, 'INVALID_PARAMETER'],
      [{ ...base, parameters: { lines: 0 } }, 'INVALID_PARAMETER'],
      [{ ...base, parameters: { lines: '1; DROP TABLE x' } }, 'INVALID_PARAMETER'],
      [{ ...base, parameters: { unknown: 1 } }, 'INVALID_PARAMETER'],
      [{ ...base, parameters: { date: '2025-02-30' } }, 'INVALID_PARAMETER'],
      [{ ...base, parameters: { lines: { nested: 1 } } }, 'VALIDATION_FAILED'],
      [{ ...base, parameters: [5] }, 'VALIDATION_FAILED'],
      [{ ...base, parameters: 'lines=5' }, 'VALIDATION_FAILED'],
      [{ ...base, extra: true }, 'VALIDATION_FAILED'],
      [{ ...base, next_run_at: '2020-01-01T00:00:00Z' }, 'VALIDATION_FAILED'],
      [{ ...base, org_slug: B }, 'VALIDATION_FAILED'],
      [{ ...base, missed_run_policy: 'sometimes' }, 'VALIDATION_FAILED'],
      [{ ...base, is_active: 'yes' }, 'VALIDATION_FAILED'],
      [{ ...base, pipeline_config: 'demo/sample' }, 'VALIDATION_FAILED'],
      [{ ...base, pipeline_config: 'demo/sample/costs/extra' }, 'VALIDATION_FAILED'],
      [{ schedule: '*/5 * * * *' }, 'VALIDATION_FAILED'],
      [{ pipeline_config: DEMO }, 'VALIDATION_FAILED'],
    ];
    for (const [body, code] of cases) {
      const res = await rt.org(keyA, 'POST', '/api/v1/scheduler/configs', body);
      const problem = expectProblem(res, 400, code);
      expect(problem.detail, JSON.stringify(body).slice(0, 80)).toBeTruthy();
    }
    const notJson = await rt.request({ method: 'POST', url: '/api/v1/scheduler/configs', headers: { 'x-api-key': keyA, 'content-type': 'application/json' }, body: '{"pipeline_config":' });
    expect(notJson.statusCode, notJson.body).toBe(400);
    expect(await count(`SELECT count(*) AS n FROM ${SCHEDULES}`)).toBe(0);

    // A stored schedule is not changed by a bad update.
    const s = await create(keyA, base);
    const badPatches: [Record<string, unknown>, string][] = [
      [{}, 'VALIDATION_FAILED'],
      [{ schedule: '61 * * * *' }, 'VALIDATION_FAILED'],
      [{ schedule: '*/5 * * * * *' }, 'VALIDATION_FAILED'],
      [{ timezone: 'Mars/Base' }, 'VALIDATION_FAILED'],
      [{ parameters: { lines: 'abc' } }, 'INVALID_PARAMETER'],
      [{ extra: 1 }, 'VALIDATION_FAILED'],
      [{ schedule_id: '00000000-0000-0000-0000-000000000000' }, 'VALIDATION_FAILED'],
    ];
    for (const [body, code] of badPatches) expectProblem(await rt.org(keyA, 'PUT', `/api/v1/scheduler/configs/${s.schedule_id}`, body), 400, code);
    expectProblem(await rt.org(keyA, 'PUT', `/api/v1/scheduler/configs/${s.schedule_id}`, { pipeline_config: 'demo/sample/nope' }), 404, 'PIPELINE_NOT_FOUND');
    expect((await rt.org(keyA, 'GET', `/api/v1/scheduler/configs/${s.schedule_id}`)).json()).toEqual(s);
    expect(await count(`SELECT count(*) AS n FROM ${SCHEDULES}`)).toBe(1);
  });

  it("answers 404 for unknown pipelines, another org's config and another org's schedules", async () => {
    const keyB = (await rt.onboard(B)).api_key;
    const yaml = `pipeline_id: "{org_slug}_only_b"
steps:
  - step_id: load
    ps_type: gcp.bq_etl
    source: { query: "SELECT 1 AS x" }
    destination: { table: "{dataset}.only_b", write_disposition: WRITE_TRUNCATE }
`;
    const saved = await rt.org(keyB, 'POST', '/api/v1/pipelines/configs', { config_id: 'only_b', yaml });
    expect(saved.statusCode, saved.body).toBe(201);
    expect((await create(keyB, { pipeline_config: 'custom/configs/only_b', schedule: '@daily' })).pipeline_config).toBe('custom/configs/only_b');

    for (const pipeline_config of ['demo/sample/nope', 'custom/configs/only_b', 'custom/configs/nope', 'setup/bootstrap/pipeline', 'system/plans/plans', 'demo/sample/COSTS']) {
      expectProblem(await rt.org(keyA, 'POST', '/api/v1/scheduler/configs', { pipeline_config, schedule: '@daily' }), 404, 'PIPELINE_NOT_FOUND');
    }
    const traversal = await rt.org(keyA, 'POST', '/api/v1/scheduler/configs', { pipeline_config: '../../setup', schedule: '@daily' });
    expect([400, 404]).toContain(traversal.statusCode);
    expect(await count(`SELECT count(*) AS n FROM ${SCHEDULES} WHERE org_slug = $1`, [A])).toBe(0);

    const mine = await create(keyA, { pipeline_config: DEMO, schedule: '@hourly', parameters: { lines: 5 } });
    const url = `/api/v1/scheduler/configs/${mine.schedule_id}`;
    expectProblem(await rt.org(keyB, 'GET', url), 404, 'SCHEDULE_NOT_FOUND');
    expectProblem(await rt.org(keyB, 'PUT', url, { is_active: false }), 404, 'SCHEDULE_NOT_FOUND');
    expectProblem(await rt.org(keyB, 'PUT', url, { schedule: '* * * * *' }), 404, 'SCHEDULE_NOT_FOUND');
    expectProblem(await rt.org(keyB, 'DELETE', url), 404, 'SCHEDULE_NOT_FOUND');
    expectProblem(await rt.org(keyA, 'GET', '/api/v1/scheduler/configs/not-a-uuid'), 404, 'SCHEDULE_NOT_FOUND');
    expectProblem(await rt.org(keyA, 'GET', `/api/v1/scheduler/configs/${'0'.repeat(8)}-0000-0000-0000-000000000000`), 404, 'SCHEDULE_NOT_FOUND');
    expect((await rt.org(keyB, 'GET', '/api/v1/scheduler/configs')).json<{ schedules: Schedule[] }>().schedules.map((x) => x.org_slug)).toEqual([B]);
    expect((await rt.org(keyA, 'GET', url)).json()).toEqual(mine);

    // A schedule whose config is deleted later: its occurrences are recorded as refused, not run or counted.
    const b = (await rt.org(keyB, 'GET', '/api/v1/scheduler/configs')).json<{ schedules: Schedule[] }>().schedules[0] as Schedule;
    expect((await rt.org(keyB, 'DELETE', '/api/v1/pipelines/configs/only_b')).statusCode).toBe(200);
    await setNext(b.schedule_id, new Date(Date.now() - 1000));
    expect(await tick()).toEqual({ queued: 0, refused: 1 });
    const [gone] = await runsOf(b.schedule_id);
    expect(gone).toMatchObject({ org_slug: B, status: 'FAILED', error_message: expect.stringMatching(/^not run: cannot run: /) });
    expect(await usageToday(B)).toBe(0);

    // The scheduler API takes an org key: not the root key, not none.
    expectProblem(await rt.root('GET', '/api/v1/scheduler/configs'), 401, 'API_KEY_REQUIRED');
    expectProblem(await rt.root('POST', '/api/v1/scheduler/configs', { pipeline_config: DEMO, schedule: '@daily' }), 401, 'API_KEY_REQUIRED');
    expectProblem(await rt.request({ method: 'GET', url: '/api/v1/scheduler/configs' }), 401, 'API_KEY_REQUIRED');
  });
});

describe('the tick', () => {
  it('fires a due occurrence exactly once, even with three ticks at the same time', async () => {
    const s = await create(keyA, every('all'));
    const at = await thisMinute();
    await setNext(s.schedule_id, new Date(at));

    const results = await Promise.all([tick(), tick(), tick()]);
    expect(results.reduce((n, r) => n + r.queued, 0)).toBe(1);
    expect(results.reduce((n, r) => n + r.refused, 0)).toBe(0);
    const iso = new Date(at).toISOString();
    const queue = await queueOf(s.schedule_id);
    expect(queue).toHaveLength(1);
    expect(queue[0]).toMatchObject({ dedupe_key: `${s.schedule_id}:${iso}`, schedule_id: s.schedule_id, priority: 50 });
    expect(queue[0]?.scheduled_time?.toISOString()).toBe(iso);
    const runs = await runsOf(s.schedule_id);
    expect(runs.map((r) => r.pipeline_logging_id)).toEqual([queue[0]?.pipeline_logging_id]);
    expect(await usageToday(A)).toBe(1);
    const row = await scheduleRow(s.schedule_id);
    expect(row.next_run_at?.toISOString()).toBe(new Date(at + MINUTE).toISOString());
    expect(row.last_run_at?.toISOString()).toBe(iso);

    // Nothing more until the next occurrence is due.
    expect(await tick()).toEqual({ queued: 0, refused: 0 });
    expect(await Promise.all([tick(), tick()])).toEqual([
      { queued: 0, refused: 0 },
      { queued: 0, refused: 0 },
    ]);
    expect(await queueOf(s.schedule_id)).toHaveLength(1);

    // Rewound to the occurrence that already fired (a replica with an old view): the dedupe key holds.
    await setNext(s.schedule_id, new Date(at));
    expect(await tick()).toEqual({ queued: 0, refused: 0 });
    expect(await queueOf(s.schedule_id)).toHaveLength(1);
    expect(await runsOf(s.schedule_id)).toHaveLength(1);
    expect(await usageToday(A)).toBe(1);

    // The next occurrence, once due, fires once.
    await setNext(s.schedule_id, new Date(at - MINUTE));
    const again = await Promise.all([tick(), tick()]);
    expect(again.reduce((n, r) => n + r.queued, 0)).toBe(1);
    expect((await queueOf(s.schedule_id)).map((q) => q.scheduled_time?.toISOString())).toEqual([new Date(at - MINUTE).toISOString(), iso]);
    expect(await runsOf(s.schedule_id)).toHaveLength(2);
  });

  it('follows the missed-run policy after downtime: all, latest, none', async () => {
    const all = await create(keyA, every('all'));
    const latest = await create(keyA, every('latest'));
    const noneRecent = await create(keyA, every('none'));
    const at = await thisMinute();
    // A daily schedule whose only missed occurrence is 3 minutes old: beyond the 60 s grace of `none`.
    const old = new Date(at - 3 * MINUTE);
    const daily = `${old.getUTCMinutes()} ${old.getUTCHours()} * * *`;
    const noneOld = await create(keyA, { pipeline_config: DEMO, schedule: daily, timezone: 'UTC', parameters: { lines: 5 }, missed_run_policy: 'none' });
    const latestOld = await create(keyA, { pipeline_config: DEMO, schedule: daily, timezone: 'UTC', parameters: { lines: 5 }, missed_run_policy: 'latest' });
    const down = new Date(at - 10 * MINUTE);
    for (const s of [all, latest, noneRecent]) await setNext(s.schedule_id, down);
    for (const s of [noneOld, latestOld]) await setNext(s.schedule_id, old);
    expect(Date.now() - at).toBeLessThan(MINUTE);

    expect(await tick()).toEqual({ queued: 11 + 1 + 1 + 0 + 1, refused: 0 });

    // all: each of the 11 occurrences (10 minutes back up to this minute) once, with its own key.
    const allQueue = await queueOf(all.schedule_id);
    expect(allQueue.map((q) => q.scheduled_time?.toISOString())).toEqual(isoMinutes(at - 10 * MINUTE, 11));
    expect(allQueue.map((q) => q.dedupe_key)).toEqual(isoMinutes(at - 10 * MINUTE, 11).map((t) => `${all.schedule_id}:${t}`));
    expect(new Set(allQueue.map((q) => q.pipeline_logging_id)).size).toBe(11);
    expect(await runsOf(all.schedule_id)).toHaveLength(11);

    // latest: only the latest occurrence.
    expect((await queueOf(latest.schedule_id)).map((q) => q.scheduled_time?.toISOString())).toEqual([new Date(at).toISOString()]);
    expect((await queueOf(latestOld.schedule_id)).map((q) => q.scheduled_time?.toISOString())).toEqual([old.toISOString()]);
    // none: the latest occurrence still fires when on time (within ON_TIME_GRACE_MS), never when older.
    expect((await queueOf(noneRecent.schedule_id)).map((q) => q.scheduled_time?.toISOString())).toEqual([new Date(at).toISOString()]);
    expect(await queueOf(noneOld.schedule_id)).toEqual([]);
    expect(await runsOf(noneOld.schedule_id)).toEqual([]);
    expect(await usageToday(A)).toBe(14);

    // Afterwards each schedule waits for its next future occurrence.
    for (const s of [all, latest, noneRecent]) {
      const row = await scheduleRow(s.schedule_id);
      expect(row.next_run_at?.toISOString(), s.missed_run_policy).toBe(new Date(at + MINUTE).toISOString());
      expect(row.last_run_at?.toISOString(), s.missed_run_policy).toBe(new Date(at).toISOString());
    }
    const noneOldRow = await scheduleRow(noneOld.schedule_id);
    expect(noneOldRow.next_run_at?.toISOString()).toBe(new Date(old.getTime() + 24 * 3_600_000).toISOString());
    expect(noneOldRow.last_run_at).toBeNull();
    expect((await scheduleRow(latestOld.schedule_id)).last_run_at?.toISOString()).toBe(old.toISOString());
    expect(await tick()).toEqual({ queued: 0, refused: 0 });
  });

  it('applies the daily quota to scheduled runs: the rest are recorded as refused, not counted', async () => {
    const keyS = (await rt.onboard('sched_starter')).api_key; // STARTER: 6 a day
    const s = await create(keyS, every('all'));
    const at = await thisMinute();
    await setNext(s.schedule_id, new Date(at - 9 * MINUTE)); // 10 occurrences

    expect(await tick()).toEqual({ queued: 6, refused: 4 });
    const queue = await queueOf(s.schedule_id);
    expect(queue.map((q) => q.scheduled_time?.toISOString())).toEqual(isoMinutes(at - 9 * MINUTE, 10));
    const runs = await runsOf(s.schedule_id);
    expect(runs).toHaveLength(10);
    const byId = new Map(runs.map((r) => [r.pipeline_logging_id, r]));
    const inOrder = queue.map((q) => byId.get(q.pipeline_logging_id) as RunRow);
    // The oldest six are admitted; the four after them are refused, naming the limit.
    for (const r of inOrder.slice(0, 6)) expect(r.error_message === null || !r.error_message.startsWith('not run:'), r.error_message ?? '').toBe(true);
    for (const r of inOrder.slice(6)) {
      expect(r.status).toBe('FAILED');
      expect(r.trigger_type).toBe('schedule');
      expect(r.error_message).toMatch(/^not run:/);
      expect(r.error_message).toContain('daily_limit');
      expect(r.end_time).not.toBeNull();
    }
    expect(queue.slice(6).map((q) => q.status)).toEqual(['DONE', 'DONE', 'DONE', 'DONE']);
    expect(await usageToday('sched_starter')).toBe(6);
    const quota = await rt.org(keyS, 'GET', '/api/v1/organizations/sched_starter/quota');
    expect(quota.statusCode, quota.body).toBe(200);
    expect(quota.json()).toMatchObject({ pipelines_run_today: 6, daily_limit: 6, daily_remaining: 0 });

    // A manual trigger is refused as well now.
    expectProblem(await rt.org(keyS, 'POST', `/api/v1/pipelines/run/sched_starter/${DEMO}`, { parameters: { lines: 5 } }), 429, 'DAILY_QUOTA_EXCEEDED');
    // One more (not yet fired) occurrence is refused too and not counted; those that fired are not repeated.
    await setNext(s.schedule_id, new Date(at - 10 * MINUTE));
    expect(await tick()).toEqual({ queued: 0, refused: 1 });
    expect(await usageToday('sched_starter')).toBe(6);
    expect(await runsOf(s.schedule_id)).toHaveLength(11);

    // A suspended subscription refuses the next occurrence with its own reason.
    const suspend = await rt.root('PUT', '/api/v1/organizations/sched_starter/subscription', { status: 'SUSPENDED' });
    expect(suspend.statusCode, suspend.body).toBe(200);
    await setNext(s.schedule_id, new Date(at - 11 * MINUTE));
    expect(await tick()).toEqual({ queued: 0, refused: 1 });
    const [suspended] = (await runsOf(s.schedule_id)).filter((r) => r.error_message?.includes('SUBSCRIPTION_INACTIVE'));
    expect(suspended).toMatchObject({ status: 'FAILED', error_message: expect.stringMatching(/^not run: SUBSCRIPTION_INACTIVE/) });
    expect(await usageToday('sched_starter')).toBe(6);
  });

  it('executes a scheduled run: QUEUED by the tick, then SUCCESS, triggered by the schedule', async () => {
    const s = await create(keyA, every('latest'));
    const at = await thisMinute();
    await setNext(s.schedule_id, new Date(at));
    expect(await tick()).toEqual({ queued: 1, refused: 0 });
    const [queued] = await queueOf(s.schedule_id);
    const id = queued?.pipeline_logging_id as string;

    const done = await waitFor(async () => {
      const [r] = await runsOf(s.schedule_id);
      return r !== undefined && !['QUEUED', 'RUNNING'].includes(r.status) ? r : undefined;
    }, 'the scheduled run to finish');
    expect(done).toMatchObject({ pipeline_logging_id: id, org_slug: A, pipeline_path: DEMO, status: 'SUCCESS', trigger_type: 'schedule', trigger_by: `schedule:${s.schedule_id}`, error_message: null });
    // `date` defaults to the day before the occurrence.
    const yesterday = new Date(at - 86_400_000).toISOString().slice(0, 10);
    expect(JSON.parse(done.parameters as string)).toMatchObject({ lines: 5, date: yesterday });

    const res = await rt.org(keyA, 'GET', `/api/v1/pipelines/runs/${id}`);
    expect(res.statusCode, res.body).toBe(200);
    const run = res.json<{ status: string; trigger_type: string; trigger_by: string; steps: { step_id: string; status: string; rows_processed: number | null }[] }>();
    expect(run).toMatchObject({ status: 'SUCCESS', trigger_type: 'schedule', trigger_by: `schedule:${s.schedule_id}` });
    expect(Object.fromEntries(run.steps.map((x) => [x.step_id, x.status]))).toEqual({ generate: 'SUCCESS', aggregate: 'SUCCESS', check: 'SUCCESS', notify_failure: 'SKIPPED' });
    expect(run.steps.find((x) => x.step_id === 'generate')?.rows_processed).toBe(5);
    expect(await count(`SELECT count(*) AS n FROM ${A}.demo_cost_daily_raw WHERE usage_date = CAST($1 AS DATE)`, [yesterday])).toBe(5);
    expect((await queueOf(s.schedule_id)).map((q) => [q.status, q.attempt])).toEqual([['DONE', 1]]);
  });

  it('never fires an inactive schedule; offboarding the org deactivates its schedules', async () => {
    const inactive = await create(keyA, every('all', { is_active: false }));
    expect(inactive).toMatchObject({ is_active: false, next_run_at: null });
    const active = await create(keyA, every('all'));
    const at = await thisMinute();
    // Even with a due next_run_at (written behind the service's back), an inactive schedule does not fire.
    await setNext(inactive.schedule_id, new Date(at - 5 * MINUTE));
    await setNext(active.schedule_id, new Date(at + MINUTE));
    expect(await tick()).toEqual({ queued: 0, refused: 0 });
    expect(await queueOf(inactive.schedule_id)).toEqual([]);

    // Switched off through the API after it was due: it does not fire either.
    await setNext(active.schedule_id, new Date(at));
    const off = await rt.org(keyA, 'PUT', `/api/v1/scheduler/configs/${active.schedule_id}`, { is_active: false });
    expect(off.json()).toMatchObject({ is_active: false, next_run_at: null });
    expect(await tick()).toEqual({ queued: 0, refused: 0 });
    const on = await rt.org(keyA, 'PUT', `/api/v1/scheduler/configs/${active.schedule_id}`, { is_active: true });
    expect(on.json()).toMatchObject({ is_active: true });
    expect(Date.parse(on.json<Schedule>().next_run_at as string)).toBeGreaterThan(Date.now() - 1000);

    const offboard = await rt.root('DELETE', `/api/v1/organizations/${A}`);
    expect(offboard.statusCode, offboard.body).toBe(200);
    expect(offboard.json()).toMatchObject({ org_slug: A, status: 'DELETED', schedules_deactivated: 1 });
    for (const s of [inactive, active]) expect((await scheduleRow(s.schedule_id)).is_active).toBe(false);
    await setNext(active.schedule_id, new Date(at - 5 * MINUTE));
    await setNext(inactive.schedule_id, new Date(at - 5 * MINUTE));
    expect(await tick()).toEqual({ queued: 0, refused: 0 });
    expect(await count(`SELECT count(*) AS n FROM ${QUEUE} WHERE org_slug = $1`, [A])).toBe(0);
    expect(await count(`SELECT count(*) AS n FROM ${RUNS} WHERE org_slug = $1 AND trigger_type = 'schedule'`, [A])).toBe(0);
  });
});
