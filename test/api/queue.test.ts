import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { LightMyRequestResponse } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { expectProblem, startRuntime, type TestRuntime } from '../helpers/runtime.js';
import { waitFor } from '../helpers/wait.js';

/**
 * The execution queue on a real runtime (DESIGN.md §7): fair order across orgs, priority, the
 * per-org concurrent limit, leases with the attempt as fencing token, cancellation of queued runs
 * and draining on close. The scheduler ticker is off; schedule occurrences are fired with tick().
 */
let rt: TestRuntime | undefined;
const extraDirs: string[] = [];

afterEach(async () => {
  const r = rt;
  rt = undefined;
  await r?.close();
  for (const d of extraDirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

const MINUTE = 60_000;
const SLOW_QUERY = 'SELECT count(*) AS n FROM range(100000000000)';
const SCHEDULES = 'organizations.org_scheduled_pipeline_runs';
const QUEUE = 'organizations.org_pipeline_execution_queue';
const RUNS = 'organizations.org_meta_pipeline_runs';

interface RunRow {
  pipeline_logging_id: string;
  org_slug: string;
  status: string;
  attempt: number;
  trigger_type: string;
  start_time: Date | null;
  end_time: Date | null;
  error_message: string | null;
}
interface QueueRow {
  queue_id: string;
  pipeline_logging_id: string;
  org_slug: string;
  status: string;
  priority: number;
  attempt: number;
  max_attempts: number;
  lease_owner: string | null;
  lease_expires_at: Date | null;
  created_at: Date;
}


function runtime(): TestRuntime {
  if (rt === undefined) throw new Error('no runtime');
  return rt;
}

async function start(env: Record<string, string>): Promise<TestRuntime> {
  rt = await startRuntime({ SCHEDULER_ENABLED: 'false', QUEUE_POLL_MS: '50', ...env });
  await rt.bootstrap();
  return rt;
}

/** One gcp.bq_etl step; appends, so runs of the same pipeline at the same time do not conflict. */
const etl = (query: string, table: string): string => `pipeline_id: "{org_slug}_${table}"
steps:
  - step_id: load
    ps_type: gcp.bq_etl
    source: { query: ${JSON.stringify(query)} }
    destination: { table: "{dataset}.${table}", write_disposition: WRITE_APPEND }
`;

async function saveConfig(key: string, configId: string, query: string): Promise<void> {
  const res = await runtime().org(key, 'POST', '/api/v1/pipelines/configs', { config_id: configId, yaml: etl(query, configId) });
  expect(res.statusCode, res.body).toBe(201);
}

const trigger = (key: string, org: string, configId: string): Promise<LightMyRequestResponse> =>
  runtime().org(key, 'POST', `/api/v1/pipelines/run/${org}/custom/configs/${configId}`, {});

async function triggerQueued(key: string, org: string, configId: string): Promise<string> {
  const res = await trigger(key, org, configId);
  expect(res.statusCode, res.body).toBe(202);
  return res.json<{ pipeline_logging_id: string }>().pipeline_logging_id;
}

/** A schedule of `configId` (every minute, policy all) with `occurrences` due now; returns its run ids, oldest first. */
async function fireOccurrences(key: string, configId: string, occurrences: number): Promise<string[]> {
  const r = runtime();
  const res = await r.org(key, 'POST', '/api/v1/scheduler/configs', { pipeline_config: `custom/configs/${configId}`, schedule: '* * * * *', missed_run_policy: 'all' });
  expect(res.statusCode, res.body).toBe(201);
  const id = res.json<{ schedule_id: string }>().schedule_id;
  // Well inside a minute, so the tick sees the same minute and the count is exact.
  await waitFor(() => (Date.now() % MINUTE < 57_000 ? true : undefined), 'a moment well inside a minute', 12_000);
  const at = Math.floor(Date.now() / MINUTE) * MINUTE;
  await r.warehouse.query(`UPDATE ${SCHEDULES} SET next_run_at = $2 WHERE schedule_id = $1`, [id, new Date(at - (occurrences - 1) * MINUTE)]);
  expect(await r.services.schedules.tick()).toEqual({ queued: occurrences, refused: 0 });
  const rows = await r.warehouse.query<{ pipeline_logging_id: string }>(`SELECT pipeline_logging_id FROM ${QUEUE} WHERE schedule_id = $1 ORDER BY scheduled_time`, [id]);
  expect(rows).toHaveLength(occurrences);
  return rows.map((x) => x.pipeline_logging_id);
}

async function run(id: string): Promise<RunRow> {
  const [row] = await runtime().warehouse.query<RunRow & Record<string, unknown>>(
    `SELECT pipeline_logging_id, org_slug, status, attempt, trigger_type, start_time, end_time, error_message FROM ${RUNS} WHERE pipeline_logging_id = $1`,
    [id],
  );
  expect(row, id).toBeDefined();
  return { ...(row as RunRow), attempt: Number(row?.attempt) };
}

async function queueItem(id: string): Promise<QueueRow> {
  const [row] = await runtime().warehouse.query<QueueRow & Record<string, unknown>>(
    `SELECT queue_id, pipeline_logging_id, org_slug, status, priority, attempt, max_attempts, lease_owner, lease_expires_at, created_at FROM ${QUEUE} WHERE pipeline_logging_id = $1`,
    [id],
  );
  expect(row, id).toBeDefined();
  return { ...(row as QueueRow), attempt: Number(row?.attempt), max_attempts: Number(row?.max_attempts), priority: Number(row?.priority) };
}

async function stepStatuses(id: string): Promise<string[]> {
  const rows = await runtime().warehouse.query<{ status: string }>(`SELECT status FROM organizations.org_meta_step_logs WHERE pipeline_logging_id = $1 ORDER BY step_id`, [id]);
  return rows.map((r) => r.status);
}

/** Until the run's (single) step executes its query. */
const waitRunning = (id: string, what = 'the run to execute'): Promise<boolean> =>
  waitFor(async () => ((await run(id)).status === 'RUNNING' && (await stepStatuses(id)).includes('RUNNING') ? true : undefined), what);

const waitEnded = (id: string, deadlineMs = 10_000): Promise<RunRow> =>
  waitFor(
    async () => {
      const r = await run(id);
      return ['QUEUED', 'RUNNING'].includes(r.status) ? undefined : r;
    },
    `run ${id} to end`,
    deadlineMs,
  );

/** Cancels through the API; a run that ended meanwhile answers 409. */
async function cancel(key: string, id: string): Promise<void> {
  const res = await runtime().org(key, 'DELETE', `/api/v1/pipelines/runs/${id}`);
  expect([200, 409], res.body).toContain(res.statusCode);
}

async function countWhere(sql: string, params: (string | number)[] = []): Promise<number> {
  const [row] = await runtime().warehouse.query<{ n: number | bigint }>(sql, params);
  return Number(row?.n);
}

describe('claim order', () => {
  // Regression (fixed, src/control-store/sql/queue-repository.ts candidates): the "round-robin" rank is computed over
  // QUEUED items only and ties are broken by age, ignoring what each org already runs. Whenever one
  // slot frees, org A's oldest queued item (rank 1, older) beats org B's only item (rank 1, newer),
  // so B waits until A's whole backlog has been claimed.
  it("a second org's run is claimed at the next free slot, not after the first org's backlog", async () => {
    const r = await start({ WORKER_CONCURRENCY: '2' });
    const keyA = (await r.onboard('fair_a', 'SCALE')).api_key;
    const keyB = (await r.onboard('fair_b', 'SCALE')).api_key;
    await saveConfig(keyA, 'slow', SLOW_QUERY);
    await saveConfig(keyA, 'work', 'SELECT count(*) AS n FROM range(2000000)');
    await saveConfig(keyB, 'work', 'SELECT count(*) AS n FROM range(2000000)');

    // A: one long run holding a slot, then a backlog of 30 scheduled runs going through the other slot.
    const [slow] = await fireOccurrences(keyA, 'slow', 1);
    await waitRunning(slow as string);
    const backlog = await fireOccurrences(keyA, 'work', 30);
    // B: one run at the same priority.
    const [b] = await fireOccurrences(keyB, 'work', 1);
    const enqueuedB = (await queueItem(b as string)).created_at.getTime();
    expect((await queueItem(b as string)).priority).toBe((await queueItem(backlog[0] as string)).priority);

    // In a fair queue B starts within the next claims (one may already be under way); give A three.
    const startedAfterB = async (): Promise<number> =>
      countWhere(`SELECT count(*) AS n FROM ${RUNS} WHERE org_slug = 'fair_a' AND start_time > $1`, [new Date(enqueuedB).toISOString()]);
    await waitFor(async () => ((await run(b as string)).start_time !== null || (await startedAfterB()) >= 3 ? true : undefined), 'B to start or A to take three more slots', 20_000);
    const bRun = await run(b as string);
    expect(bRun.start_time, `A started ${await startedAfterB()} runs after B was queued, B none`).not.toBeNull();
    expect(await countWhere(`SELECT count(*) AS n FROM ${RUNS} WHERE org_slug = 'fair_a' AND status = 'QUEUED'`)).toBeGreaterThan(20);
    await cancel(keyA, slow as string);
  });

  it('orders claimable items round-robin across orgs at the same priority', async () => {
    const r = await start({ WORKER_CONCURRENCY: '2' });
    const keyA = (await r.onboard('fair_a', 'SCALE')).api_key;
    const keyB = (await r.onboard('fair_b', 'SCALE')).api_key;
    const keyC = (await r.onboard('fair_c', 'SCALE')).api_key;
    await saveConfig(keyC, 'slow', SLOW_QUERY);
    await saveConfig(keyA, 'work', 'SELECT 1 AS x');
    await saveConfig(keyB, 'work', 'SELECT 1 AS x');
    // Both worker slots busy with C, so A's and B's runs stay queued.
    const blockers = [await triggerQueued(keyC, 'fair_c', 'slow'), await triggerQueued(keyC, 'fair_c', 'slow')];
    for (const id of blockers) await waitRunning(id);
    const backlog = await fireOccurrences(keyA, 'work', 6);
    const [b] = await fireOccurrences(keyB, 'work', 1);

    const order = await r.controlStore.queue.candidates(new Date(), 10);
    expect(order.map((c) => c.org_slug)).toEqual(['fair_a', 'fair_b', 'fair_a', 'fair_a', 'fair_a', 'fair_a', 'fair_a']);
    expect(order.map((c) => c.pipeline_logging_id)).toEqual([backlog[0], b, ...backlog.slice(1)]);
    expect(order.every((c) => Number(c.concurrent_limit) === 10 && Number(c.org_running) === 0)).toBe(true);
    expect(await countWhere(`SELECT count(*) AS n FROM ${RUNS} WHERE org_slug IN ('fair_a', 'fair_b') AND status <> 'QUEUED' AND trigger_type = 'schedule'`)).toBe(0);
    // close() cancels C's runs and stops claiming.
  });

  it('claims a manual run (priority 100) before older scheduled runs (priority 50) of the same org', async () => {
    const r = await start({ WORKER_CONCURRENCY: '1' });
    const key = (await r.onboard('prio', 'SCALE')).api_key;
    await saveConfig(key, 'slow', SLOW_QUERY);
    await saveConfig(key, 'quick', 'SELECT 1 AS x');
    const slow = await triggerQueued(key, 'prio', 'slow');
    await waitRunning(slow);
    const scheduled = await fireOccurrences(key, 'quick', 3);
    const manual = await triggerQueued(key, 'prio', 'quick');
    expect((await queueItem(manual)).priority).toBe(100);
    for (const id of scheduled) expect(await queueItem(id)).toMatchObject({ priority: 50, status: 'QUEUED' });
    expect((await queueItem(scheduled[0] as string)).created_at.getTime()).toBeLessThan((await queueItem(manual)).created_at.getTime());

    await cancel(key, slow); // the only slot frees
    const all = await Promise.all([manual, ...scheduled].map((id) => waitEnded(id)));
    expect(all.map((x) => x.status), JSON.stringify(all.map((x) => x.error_message))).toEqual(['SUCCESS', 'SUCCESS', 'SUCCESS', 'SUCCESS']);
    const [m, ...s] = all;
    for (const x of s) expect((m?.start_time as Date).getTime(), 'manual before scheduled').toBeLessThan((x.start_time as Date).getTime());
    // Among themselves the scheduled runs go oldest first.
    const starts = s.map((x) => (x.start_time as Date).getTime());
    expect(starts).toEqual([...starts].sort((x, y) => x - y));
  });
});

describe('concurrent limit', () => {
  it('never runs more than the plan allows for an org (STARTER: 3), the rest wait QUEUED', async () => {
    const r = await start({ WORKER_CONCURRENCY: '6' });
    const key = (await r.onboard('limited')).api_key; // STARTER
    await saveConfig(key, 'slow', SLOW_QUERY);
    const ids = await fireOccurrences(key, 'slow', 6);

    let maxRunning = 0;
    let maxLeased = 0;
    const sample = async (): Promise<number> => {
      const running = await countWhere(`SELECT count(*) AS n FROM ${RUNS} WHERE org_slug = 'limited' AND status = 'RUNNING'`);
      const leased = await countWhere(`SELECT count(*) AS n FROM ${QUEUE} WHERE org_slug = 'limited' AND status = 'RUNNING'`);
      maxRunning = Math.max(maxRunning, running);
      maxLeased = Math.max(maxLeased, leased);
      return running;
    };
    await waitFor(async () => ((await sample()) === 3 ? true : undefined), 'three runs to run');
    // Keep sampling a while (several worker polls) to catch a fourth claim.
    const until = Date.now() + 1_000;
    await waitFor(async () => {
      await sample();
      return Date.now() > until ? true : undefined;
    }, 'sampling');
    expect(maxRunning).toBe(3);
    expect(maxLeased).toBe(3);
    expect(r.worker.active).toBe(3);
    const statuses = await Promise.all(ids.map(async (id) => (await run(id)).status));
    expect(statuses.filter((s) => s === 'RUNNING')).toHaveLength(3);
    expect(statuses.filter((s) => s === 'QUEUED')).toHaveLength(3);
    const quota = (await r.org(key, 'GET', '/api/v1/organizations/limited/quota')).json<Record<string, unknown>>();
    expect(quota).toMatchObject({ pipelines_run_today: 6, concurrent_limit: 3 });

    // Cancel the waiting ones first (they never start), then the running ones.
    const waiting = ids.filter((_, i) => statuses[i] === 'QUEUED');
    for (const id of waiting) await cancel(key, id);
    for (const id of ids) await cancel(key, id);
    await sample();
    expect(maxRunning).toBe(3);
    const ended = await Promise.all(ids.map((id) => run(id)));
    expect(ended.map((x) => x.status)).toEqual(Array(6).fill('CANCELLED'));
    for (const id of waiting) expect((await run(id)).start_time).toBeNull();
  });
});

describe('leases and fencing', () => {
  it('retries a run whose lease expired as attempt 2; writes and renewals of attempt 1 are refused', async () => {
    const r = await start({ WORKER_CONCURRENCY: '1', QUEUE_LEASE_MS: '3000' });
    const key = (await r.onboard('lease', 'SCALE')).api_key;
    await saveConfig(key, 'slow', SLOW_QUERY);
    await saveConfig(key, 'slow2', SLOW_QUERY);
    await saveConfig(key, 'quick', 'SELECT 1 AS x');
    // The worker's only slot is busy, so the next run stays in the queue for us to claim.
    const blocker = await triggerQueued(key, 'lease', 'slow');
    await waitRunning(blocker);
    const id = await triggerQueued(key, 'lease', 'slow2');
    const item = await queueItem(id);
    expect(item).toMatchObject({ status: 'QUEUED', attempt: 0, max_attempts: 3 });

    // A worker that claims with a short lease and then vanishes (it never renews). The runtime's own lease
    // (QUEUE_LEASE_MS) is longer, so its renewals of the blocker stay well clear of expiry on a busy machine.
    const claimedAt = new Date();
    expect(await r.controlStore.queue.claim(item.queue_id, 'ghost-worker', new Date(claimedAt.getTime() + 900), claimedAt)).toBe(1);
    expect(await queueItem(id)).toMatchObject({ status: 'RUNNING', attempt: 1, lease_owner: 'ghost-worker' });

    // The lease runs out; the worker puts the run back in the queue as its next attempt.
    const requeued = await waitFor(async () => {
      const q = await queueItem(id);
      return q.status === 'QUEUED' ? q : undefined;
    }, 'the expired lease to be requeued');
    expect(requeued).toMatchObject({ attempt: 1, lease_owner: null });
    expect(await run(id)).toMatchObject({ status: 'QUEUED', error_message: expect.stringMatching(/lease expired.*attempt 2/) });
    expect(await r.controlStore.queue.renew(item.queue_id, 'ghost-worker', 1, new Date(Date.now() + 900), new Date())).toBe(false);

    // The slot frees: the worker claims it as attempt 2 (queue and run row).
    await cancel(key, blocker);
    await waitRunning(id, 'attempt 2 to execute');
    expect(await queueItem(id)).toMatchObject({ status: 'RUNNING', attempt: 2 });
    expect((await queueItem(id)).lease_owner).not.toBe('ghost-worker');
    expect(await run(id)).toMatchObject({ status: 'RUNNING', attempt: 2 });

    // The vanished worker comes back: nothing it writes as attempt 1 is taken.
    expect(await r.controlStore.runs.finishRun(id, { status: 'SUCCESS', end_time: new Date(), duration_ms: 1, error_message: null, attempt: 1 })).toBe(false);
    expect(await r.controlStore.queue.renew(item.queue_id, 'ghost-worker', 1, new Date(Date.now() + 900), new Date())).toBe(false);
    expect(await r.controlStore.queue.complete(item.queue_id, 1, new Date())).toBe(false);
    expect(await run(id)).toMatchObject({ status: 'RUNNING', attempt: 2, end_time: null });
    expect(await queueItem(id)).toMatchObject({ status: 'RUNNING', attempt: 2 });
    // The live attempt keeps its lease (renewed), well past the lease length.
    const renewedUntil = (await queueItem(id)).lease_expires_at as Date;
    await waitFor(async () => (((await queueItem(id)).lease_expires_at as Date).getTime() > renewedUntil.getTime() ? true : undefined), 'a renewal');
    expect(await run(id)).toMatchObject({ status: 'RUNNING', attempt: 2 });

    // An item whose attempts are used up ends FAILED, with the lease named, and never executes.
    const last = await triggerQueued(key, 'lease', 'quick');
    const lastItem = await queueItem(last);
    await r.warehouse.query(`UPDATE ${QUEUE} SET max_attempts = 1 WHERE queue_id = $1`, [lastItem.queue_id]);
    const now = new Date();
    expect(await r.controlStore.queue.claim(lastItem.queue_id, 'ghost-worker', new Date(now.getTime() + 900), now)).toBe(1);
    const failed = await waitEnded(last);
    expect(failed.status).toBe('FAILED');
    expect(failed.error_message).toMatch(/lease expired/);
    expect(failed.error_message).toMatch(/no attempts left/);
    expect(failed.start_time).toBeNull();
    expect(await queueItem(last)).toMatchObject({ status: 'DONE', attempt: 1, lease_owner: null });
    expect(await stepStatuses(last)).toEqual([]);

    await cancel(key, id);
    expect((await run(id)).status).toBe('CANCELLED');
  });

  // Regression (fixed, src/services/queue-worker.ts recoverExpired + run-repository.ts finishRun): requeueing an
  // expired item leaves the run row at the old attempt (only startRun of the next attempt raises it),
  // so until the run is claimed again the stale attempt can still finish it. A worker that stalled past
  // its lease does exactly this when its renewal fails: the run it should hand over ends CANCELLED
  // ("run cancelled"), and attempt 2 then finds it finished and never executes.
  it('refuses the end of a stale attempt while the run waits in the queue for its next attempt', async () => {
    const r = await start({ WORKER_CONCURRENCY: '1', QUEUE_LEASE_MS: '3000' });
    const key = (await r.onboard('lease', 'SCALE')).api_key;
    await saveConfig(key, 'slow', SLOW_QUERY);
    await saveConfig(key, 'quick', 'SELECT 1 AS x');
    const blocker = await triggerQueued(key, 'lease', 'slow');
    await waitRunning(blocker);
    const id = await triggerQueued(key, 'lease', 'quick');
    const item = await queueItem(id);
    const now = new Date();
    expect(await r.controlStore.queue.claim(item.queue_id, 'ghost-worker', new Date(now.getTime() + 900), now)).toBe(1);
    await waitFor(async () => ((await queueItem(id)).status === 'QUEUED' ? true : undefined), 'the expired lease to be requeued');

    const staleWrite = await r.controlStore.runs.finishRun(id, { status: 'SUCCESS', end_time: new Date(), duration_ms: 1, error_message: null, attempt: 1 });
    const after = await run(id);
    await cancel(key, blocker);
    expect(staleWrite).toBe(false);
    expect(after.status).toBe('QUEUED');
  });
});

describe('cancellation and shutdown', () => {
  it('cancels a queued run: CANCELLED, its queue item CANCELLED, never executed', async () => {
    const r = await start({ WORKER_CONCURRENCY: '1' });
    const key = (await r.onboard('cancel_q', 'SCALE')).api_key;
    await saveConfig(key, 'slow', SLOW_QUERY);
    await saveConfig(key, 'quick', 'SELECT 1 AS x');
    const blocker = await triggerQueued(key, 'cancel_q', 'slow');
    await waitRunning(blocker);
    const id = await triggerQueued(key, 'cancel_q', 'quick');
    const [scheduled] = await fireOccurrences(key, 'quick', 1);
    expect((await run(id)).status).toBe('QUEUED');

    const res = await r.org(key, 'DELETE', `/api/v1/pipelines/runs/${id}`);
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json()).toMatchObject({ pipeline_logging_id: id, status: 'CANCELLED', steps: [] });
    expect(await queueItem(id)).toMatchObject({ status: 'CANCELLED', attempt: 0, lease_owner: null });
    const resScheduled = await r.org(key, 'DELETE', `/api/v1/pipelines/runs/${scheduled}`);
    expect(resScheduled.json()).toMatchObject({ status: 'CANCELLED' });
    expectProblem(await r.org(key, 'DELETE', `/api/v1/pipelines/runs/${id}`), 409, 'RUN_FINISHED');

    // The slot frees; the worker finds nothing to run.
    await cancel(key, blocker);
    await waitFor(() => (r.worker.active === 0 ? true : undefined), 'the worker to be idle');
    const later = await triggerQueued(key, 'cancel_q', 'quick'); // proves the worker still claims
    expect((await waitEnded(later)).status).toBe('SUCCESS');
    for (const x of [id, scheduled as string]) {
      expect(await run(x)).toMatchObject({ status: 'CANCELLED', start_time: null });
      expect((await queueItem(x)).status).toBe('CANCELLED');
      expect(await stepStatuses(x)).toEqual([]);
    }
    expect(await countWhere(`SELECT count(*) AS n FROM cancel_q.quick`)).toBe(1);
    const quota = (await r.org(key, 'GET', '/api/v1/organizations/cancel_q/quota')).json<Record<string, unknown>>();
    expect(quota).toMatchObject({ concurrent_running: 0 });
  });

  // DESIGN.md §7 / docs/architecture.md: on shutdown the worker stops claiming, gives running runs the grace
  // (SHUTDOWN_GRACE_MS, 0 in tests), then stops them and puts them back in the queue as their next attempt.
  it('close() while a run executes returns promptly; the run goes back to the queue and the next start retries it', async () => {
    const dbDir = fs.mkdtempSync(path.join(os.tmpdir(), 'convergence-drain-'));
    extraDirs.push(dbDir);
    // The DuckDB file lives outside the runtime's data dir (which close() removes), so it can be reopened.
    const env = { CONVERGENCE_DUCKDB_FILE: path.join(dbDir, 'drain.duckdb'), WORKER_CONCURRENCY: '2' };
    const r = await start(env);
    const key = (await r.onboard('drain_org', 'SCALE')).api_key;
    await saveConfig(key, 'slow', SLOW_QUERY);
    const id = await triggerQueued(key, 'drain_org', 'slow');
    await waitRunning(id);

    rt = undefined;
    const t0 = Date.now();
    await r.close();
    expect(Date.now() - t0).toBeLessThan(10_000);

    const again = await startRuntime({ SCHEDULER_ENABLED: 'false', QUEUE_POLL_MS: '50', ...env });
    rt = again;
    // Never left RUNNING by the stopped process, nor ended: it is retried as attempt 2.
    const retried = await waitFor(async () => {
      const x = await run(id);
      return x.status === 'RUNNING' && x.attempt === 2 ? x : undefined;
    }, 'the run to be retried after the restart');
    expect(retried.end_time).toBeNull();
    expect(await queueItem(id)).toMatchObject({ status: 'RUNNING', attempt: 2 });
    await waitRunning(id, 'attempt 2 to execute');
    const steps = await again.warehouse.query<{ status: string; attempt: number }>(
      `SELECT status FROM organizations.org_meta_step_logs WHERE pipeline_logging_id = $1 ORDER BY created_at`,
      [id],
    );
    expect(steps.map((x) => x.status)).toEqual(['CANCELLED', 'RUNNING']); // attempt 1 stopped, attempt 2 executing
    // The retry is the same admitted run: it is not counted again.
    const quota = (await again.org(key, 'GET', '/api/v1/organizations/drain_org/quota')).json<Record<string, unknown>>();
    expect(quota).toMatchObject({ pipelines_run_today: 1 });
    await cancel(key, id);
    expect((await run(id)).status).toBe('CANCELLED');
  });

  // Regression (fixed, src/services/queue-worker.ts close + src/services/run-executor.ts close/execute): a run the worker
  // has claimed but is still loading (not yet tracked by the executor) escapes the drain. close() aborts
  // only tracked runs; the claimed one starts afterwards with a live signal, and close() then waits for it
  // to end on its own — with this query, indefinitely. Reproduced with delays of 0–60 ms after the trigger.
  it('close() right after a run was claimed returns promptly too', async () => {
    const r = await start({ WORKER_CONCURRENCY: '2' });
    const key = (await r.onboard('drain_race', 'SCALE')).api_key;
    await saveConfig(key, 'slow', SLOW_QUERY);
    const id = await triggerQueued(key, 'drain_race', 'slow');

    rt = undefined;
    const closing = r.close();
    const outcome = await Promise.race([closing.then(() => 'closed'), new Promise<string>((res) => setTimeout(() => res('still closing'), 5_000))]);
    if (outcome !== 'closed') {
      // Unblock the hung close (cancel interrupts the query) so nothing keeps running after this test.
      await r.services.runs.cancel('drain_race', id).catch(() => undefined);
      await closing;
    }
    expect(outcome).toBe('closed');
  });
});
