// B1: API. The real app (embedded runtime, bootstrapped, one SCALE org with ~50 finished runs)
// listening on loopback, against a bare Fastify route in the same process answering the same JSON
// body with no auth, no store and no hooks. Load from autocannon in a separate process.
// Targets (issue 7): authenticated GET /api/v1/pipelines/runs?limit=20 ≥ 0.5× the bare route's
// throughput; authentication adds ≤ 1 ms at p99.
import type { AddressInfo } from 'node:net';
import Fastify, { type FastifyInstance } from 'fastify';
import { registerAuth } from '../src/api/auth.js';
import type { LoadResult } from './lib/load-client.js';
import { BENCH_ORG, QUICK, benchRuntime, measure, median, percentile, round, runChild, until, writeResults, type Measurement } from './support.js';

const DEMO_RUNS = 50;
const CONNECTIONS = 10;
const DURATION_S = QUICK ? 2 : 10;
const LATENCY_DURATION_S = QUICK ? 2 : 8;
const WARMUP_S = QUICK ? 1 : 3;
const REPEATS = 3;
const IN_PROCESS_CALLS = QUICK ? 5_000 : 50_000;
const COLD_CALLS = QUICK ? 300 : 2_000;

const LIMITS = { RATE_LIMIT_PER_KEY: '1000000', RATE_LIMIT_PER_ADDRESS: '1000000' };

async function listen(app: FastifyInstance): Promise<string> {
  await app.listen({ host: '127.0.0.1', port: 0 });
  const a = app.server.address() as AddressInfo;
  return `http://127.0.0.1:${a.port}`;
}

const load = (url: string, connections: number, durationSec: number, headers: Record<string, string> = {}): Promise<LoadResult> =>
  runChild<LoadResult>('lib/load-client.ts', [JSON.stringify({ url, connections, durationSec, warmupSec: WARMUP_S, headers })]);

function checkClean(name: string, r: LoadResult): void {
  if (r.non2xx > 0 || r.errors > 0 || r.timeouts > 0) throw new Error(`${name}: ${r.non2xx} non-2xx, ${r.errors} errors, ${r.timeouts} timeouts — the bench would measure failures`);
}

async function main(): Promise<void> {
  const bench = await benchRuntime({ ...LIMITS, SCHEDULER_ENABLED: 'false', WORKER_CONCURRENCY: '4', QUEUE_POLL_MS: '50' });
  const { rt, inject, orgKey: K } = bench;
  try {
    // ~50 finished runs, so the list has a full page of real rows.
    await rt.warehouse.query(`UPDATE organizations.org_subscriptions SET daily_limit = 1000000, monthly_limit = 1000000, concurrent_limit = 8 WHERE org_slug = '${BENCH_ORG}'`);
    await inject('POST', '/api/v1/pipelines/configs', K, { config_id: 'noop', yaml: 'pipeline_id: noop\nsteps:\n  - step_id: note\n    ps_type: notify_systems.email_notification\n    to_emails: ["b@bench.dev"]\n' });
    await inject('POST', `/api/v1/pipelines/backfill/${BENCH_ORG}/custom/configs/noop`, K, { start_date: '2026-01-01', end_date: new Date(Date.UTC(2026, 0, DEMO_RUNS)).toISOString().slice(0, 10) });
    await until(async () => {
      const [row] = await rt.warehouse.query<{ n: number }>(`SELECT count(*) AS n FROM organizations.org_meta_pipeline_runs WHERE org_slug = '${BENCH_ORG}' AND status IN ('QUEUED', 'RUNNING')`);
      return Number(row?.n) === 0;
    }, 100);
    const page = await inject('GET', '/api/v1/pipelines/runs?limit=20', K);
    const runsOnPage = (page.runs as unknown[]).length;
    if (runsOnPage !== 20) throw new Error(`the runs list has ${runsOnPage} rows, expected a full page of 20`);
    const pageBytes = JSON.stringify(page).length;

    const appUrl = await listen(rt.app);
    // The bare route: same body, no auth, no rate limit, no store, no schema serialization.
    const bare = Fastify({ logger: false });
    bare.get('/runs', async () => page);
    const bareUrl = await listen(bare);
    // The auth probe: the app's own auth hook (same AuthService, same store) on a trivial route, with and without `auth: 'org'`.
    const probe = Fastify({ logger: false });
    registerAuth(probe, rt.services.auth);
    probe.get('/open', { config: { auth: 'none' } }, async () => ({ ok: true }));
    probe.get('/authed', { config: { auth: 'org' } }, async () => ({ ok: true }));
    const probeUrl = await listen(probe);

    const runsUrl = `${appUrl}/api/v1/pipelines/runs?limit=20`;
    const orgUrl = `${appUrl}/api/v1/organizations/${BENCH_ORG}`;
    const raw: Record<string, LoadResult[]> = { bare: [], app_runs: [], probe_open: [], probe_authed: [], health: [], org_get: [], app_runs_1c: [], bare_1c: [] };
    for (let i = 0; i < REPEATS; i++) {
      // Throughput, 10 connections; bare and app alternate so drift hits both.
      raw.bare?.push(await load(`${bareUrl}/runs`, CONNECTIONS, DURATION_S));
      raw.app_runs?.push(await load(runsUrl, CONNECTIONS, DURATION_S, K));
      // Latency, one connection (no queueing): the auth hook alone, then whole routes.
      raw.probe_open?.push(await load(`${probeUrl}/open`, 1, LATENCY_DURATION_S, K));
      raw.probe_authed?.push(await load(`${probeUrl}/authed`, 1, LATENCY_DURATION_S, K));
      raw.health?.push(await load(`${appUrl}/health`, 1, LATENCY_DURATION_S));
      raw.org_get?.push(await load(orgUrl, 1, LATENCY_DURATION_S, K));
      raw.bare_1c?.push(await load(`${bareUrl}/runs`, 1, LATENCY_DURATION_S));
      raw.app_runs_1c?.push(await load(runsUrl, 1, LATENCY_DURATION_S, K));
      for (const [k, v] of Object.entries(raw)) if (v.length > i) checkClean(k, v[i] as LoadResult);
      process.stderr.write(`  repeat ${i + 1}/${REPEATS}: bare ${raw.bare?.[i]?.requests_per_s} req/s, app ${raw.app_runs?.[i]?.requests_per_s} req/s\n`);
    }

    // Auth in process: the service call the hook makes, cached (the steady state) and with the cache emptied before each call (a store lookup).
    const key = K['x-api-key'] as string;
    const auth = rt.services.auth;
    const cached: number[] = [];
    for (let i = 0; i < IN_PROCESS_CALLS; i++) {
      const t = performance.now();
      await auth.authenticateOrgKey(key);
      cached.push(performance.now() - t);
    }
    const cold: number[] = [];
    for (let i = 0; i < COLD_CALLS; i++) {
      auth.clear();
      const t = performance.now();
      await auth.authenticateOrgKey(key);
      cold.push(performance.now() - t);
    }
    await Promise.all([bare.close(), probe.close()]);

    const series = (k: string, f: (r: LoadResult) => number, unit: string, note?: string): Measurement => measure((raw[k] ?? []).map(f), unit, note === undefined ? {} : { note });
    const rps = (r: LoadResult): number => r.requests_per_s;
    const p99 = (r: LoadResult): number => r.latency_ms.p99;
    const p50 = (r: LoadResult): number => r.latency_ms.p50;
    const diffs = (a: string, b: string, f: (r: LoadResult) => number): number[] => (raw[a] ?? []).map((r, i) => f(r) - f((raw[b] ?? [])[i] as LoadResult));

    const bareRps = median((raw.bare ?? []).map(rps));
    const appRps = median((raw.app_runs ?? []).map(rps));
    const authP99 = median(diffs('probe_authed', 'probe_open', p99));
    const c = `${CONNECTIONS} connections`;
    const measurements: Record<string, Measurement> = {
      bare_route_throughput: series('bare', rps, 'req/s', c),
      runs_list_throughput: series('app_runs', rps, 'req/s', `authenticated GET /api/v1/pipelines/runs?limit=20, ${c}`),
      bare_route_p50: series('bare', p50, 'ms', c),
      bare_route_p99: series('bare', p99, 'ms', c),
      runs_list_p50: series('app_runs', p50, 'ms', c),
      runs_list_p99: series('app_runs', p99, 'ms', c),
      bare_route_p99_1conn: series('bare_1c', p99, 'ms', '1 connection'),
      runs_list_p50_1conn: series('app_runs_1c', p50, 'ms', '1 connection'),
      runs_list_p99_1conn: series('app_runs_1c', p99, 'ms', '1 connection'),
      auth_probe_open_p99: series('probe_open', p99, 'ms', "probe route without auth, 1 connection"),
      auth_probe_authed_p99: series('probe_authed', p99, 'ms', "same route with the app's auth hook (org key), 1 connection"),
      auth_added_p99: measure(diffs('probe_authed', 'probe_open', p99), 'ms', { note: 'authed − open p99, per repeat' }),
      auth_added_p50: measure(diffs('probe_authed', 'probe_open', p50), 'ms', { note: 'authed − open p50, per repeat' }),
      health_p99: series('health', p99, 'ms', 'GET /health (no auth), 1 connection'),
      org_get_p99: series('org_get', p99, 'ms', 'authenticated GET /api/v1/organizations/{org} (auth + one profile read), 1 connection'),
      org_get_minus_health_p99: measure(diffs('org_get', 'health', p99), 'ms', { note: 'upper bound of auth: includes the route\'s store read' }),
      auth_service_cached_p99: measure([percentile(cached, 0.99)], 'ms', { note: `AuthService.authenticateOrgKey in process, key cached, ${IN_PROCESS_CALLS} calls` }),
      auth_service_cached_p50: measure([percentile(cached, 0.5)], 'ms', { note: 'same calls' }),
      auth_service_uncached_p99: measure([percentile(cold, 0.99)], 'ms', { note: `cache emptied before each call (hash + store lookup), ${COLD_CALLS} calls` }),
      auth_service_uncached_p50: measure([percentile(cold, 0.5)], 'ms', { note: 'same calls' }),
    };
    const runsP99 = median((raw.app_runs ?? []).map(p99));
    const bareP99 = median((raw.bare ?? []).map(p99));
    writeResults({
      id: 'b1-api',
      title: 'B1 API',
      description:
        `The real app (embedded runtime, bootstrapped, one SCALE org with ${DEMO_RUNS} finished runs) on a loopback port vs a bare Fastify route in the same process ` +
        'answering the same JSON body (a captured runs page) with no auth, no rate limit, no store. Load by autocannon in a separate process, warm-up first, bare and app alternating. ' +
        "Auth cost measured directly: the app's own auth hook (registerAuth with the runtime's AuthService) on a trivial route vs the same route without auth.",
      parameters: {
        connections_throughput: CONNECTIONS,
        duration_s: DURATION_S,
        connections_latency: 1,
        latency_duration_s: LATENCY_DURATION_S,
        warmup_s: WARMUP_S,
        repeats: REPEATS,
        demo_runs: DEMO_RUNS,
        runs_page_bytes: pageBytes,
        rate_limits: 'RATE_LIMIT_PER_KEY=RATE_LIMIT_PER_ADDRESS=1000000/min (raised, still active)',
        api_key_cache_ttl_ms: 'default (10000)',
        log_level: 'silent',
      },
      measurements,
      targets: [
        {
          name: 'runs list throughput',
          measured: { value: appRps, unit: 'req/s' },
          detail: `p99 ${round(runsP99)} ms vs ${round(bareP99)} ms`,
          baseline: { value: bareRps, unit: 'req/s', what: 'bare Fastify route, same body' },
          ratio: round(appRps / bareRps),
          target: '≥ 0.5× the bare route',
          met: appRps / bareRps >= 0.5,
        },
        {
          name: 'auth added at p99',
          measured: { value: round(authP99), unit: 'ms' },
          detail: `route p99 ${measurements.auth_probe_authed_p99?.median} vs ${measurements.auth_probe_open_p99?.median} ms`,
          baseline: { value: measurements.auth_probe_open_p99?.median ?? Number.NaN, unit: 'ms', what: 'same route without auth, p99' },
          ratio: round((measurements.auth_probe_authed_p99?.median ?? Number.NaN) / (measurements.auth_probe_open_p99?.median ?? Number.NaN)),
          target: '≤ 1 ms at p99',
          met: authP99 <= 1,
        },
      ],
      notes: [
        'Rate limits raised to 1,000,000 requests/min per key and per address (RATE_LIMIT_PER_KEY, RATE_LIMIT_PER_ADDRESS) so the bench measures the service, not the limiter; the limiter still runs on every request and its bookkeeping is part of the measured cost.',
        'autocannon runs in a child process (bench/lib/load-client.ts) on the same 2-core machine, so the load generator competes with the server for CPU on both sides alike; every 2xx response time is kept (autocannon\'s histogram has 1 ms resolution).',
        "Auth at p99 is the difference between two routes of one Fastify instance with the app's auth hook registered: `auth: 'org'` vs `auth: 'none'`, same handler, one connection, per repeat. " +
          `Whole-route numbers for context: GET /api/v1/organizations/{org} p99 ${measurements.org_get_p99?.median} ms vs /health ${measurements.health_p99?.median} ms (that difference also holds a store read). ` +
          `In process, authenticateOrgKey takes p99 ${measurements.auth_service_cached_p99?.median} ms with the key cached and ${measurements.auth_service_uncached_p99?.median} ms on a cache miss (once per key per API_KEY_CACHE_TTL_MS).`,
        `The runs list answers a ${pageBytes}-byte page of 20 runs, serialized with the route's response schema; the bare route sends the same object with Fastify's default serializer.`,
      ],
      details: { raw },
    });
  } finally {
    await bench.close();
  }
}

await main();
