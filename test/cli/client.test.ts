import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serviceAccount } from '../helpers/gcp.js';
import { findLeaks, pemBodyLines, randomBase62, type SecretSpec } from '../helpers/secret-scan.js';
import { call, startServer, type ServerProcess } from '../helpers/server-process.js';
import { cli, hasStackTrace, outputMatches, spawnCli, type CliResult } from './cli-process.js';

/**
 * The client commands against the real server process (as test/e2e starts it): set-up, runs with
 * --wait, Ctrl-C while waiting, schedules, backfills, integrations, JSON output, exit codes, and
 * no secret in any output but the one-time key display.
 */
const ROOT = `cli_root_${randomBase62(32)}`;
const CREDENTIAL = `sk-${randomBase62(40)}`;
let dir: string;
let server: ServerProcess;
let env: Record<string, string>;
let orgKey: string;
/** Every output that must hold no secret (everything but the one-time key displays). */
const outputs: { label: string; result: CliResult }[] = [];

async function run(args: string[], extra: Record<string, string> = {}, input?: string): Promise<CliResult> {
  const result = await cli(args, { ...env, ...extra }, input === undefined ? {} : { input });
  outputs.push({ label: args.join(' '), result });
  return result;
}

const json = <T = Record<string, unknown>>(r: CliResult): T => {
  expect(() => JSON.parse(r.stdout), `not JSON: ${r.stdout}\n${r.stderr}`).not.toThrow();
  return JSON.parse(r.stdout) as T;
};

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'convergence-cli-'));
  server = await startServer({ CONVERGENCE_DATA_DIR: dir, CA_ROOT_API_KEY: ROOT, IMPORT_DIR: path.join(dir, 'import') });
  env = { CONVERGENCE_URL: server.url, CA_ROOT_API_KEY: ROOT };
}, 30_000);
afterAll(async () => {
  if (server?.child.exitCode === null) await server.stop('SIGKILL');
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('convergence against a running service', () => {
  it('bootstraps, dry-runs and onboards; wrong keys exit 4', async () => {
    const boot = await run(['bootstrap', '--json']);
    expect(boot.code, boot.stderr).toBe(0);
    expect(json(boot)).toMatchObject({ status: 'SUCCESS', dataset: 'organizations' });
    const [force, wrongRoot, badDry, dry] = await Promise.all([
      run(['bootstrap', '--force-recreate-tables']),
      run(['bootstrap'], { CA_ROOT_API_KEY: `nope_${randomBase62(30)}` }),
      run(['org', 'dryrun', 'Bad Slug', '--company', 'Acme', '--email', 'not-an-email']),
      run(['org', 'dryrun', 'acmecorp', '--company', 'Acme Corp', '--email', 'admin@acme.com', '--json']),
    ]);
    expect(force.code).toBe(2); // destructive: needs --yes
    expect(wrongRoot.code).toBe(4);
    expect(wrongRoot.stderr).toMatch(/^error: .+ \(INVALID_ROOT_KEY\)$/m);
    expect(badDry.code).toBe(1);
    expect(badDry.stdout).toMatch(/org_slug_format\s+│ NO/);
    expect(dry.code).toBe(0);
    expect(json(dry)).toMatchObject({ valid: true });

    const onboard = await cli(['org', 'onboard', 'acmecorp', '--company', 'Acme Corp', '--email', 'admin@acme.com', '--plan', 'PROFESSIONAL'], env);
    expect(onboard.code, onboard.stderr).toBe(0);
    orgKey = /^\s+(acmecorp_api_\w+)$/m.exec(onboard.stdout)?.[1] ?? '';
    expect(orgKey).toMatch(/^acmecorp_api_[0-9A-Za-z]{32}$/);
    expect(onboard.stdout.split(orgKey)).toHaveLength(2); // displayed exactly once
    expect(onboard.stdout).not.toContain(ROOT);
    env.CONVERGENCE_API_KEY = orgKey;

    const [again, wrongKey, show, viaRoot, quota] = await Promise.all([
      run(['org', 'onboard', 'acmecorp', '--company', 'Acme Corp', '--email', 'admin@acme.com']),
      run(['org', 'show'], { CONVERGENCE_API_KEY: `acmecorp_api_${randomBase62(32)}` }),
      run(['org', 'show', '--json']),
      run(['org', 'show', 'acmecorp'], { CONVERGENCE_API_KEY: '' }),
      run(['org', 'quota', '--json']),
    ]);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/\(ORG_EXISTS\)/);
    expect(wrongKey.code).toBe(4);
    expect(wrongKey.stderr).toMatch(/\(INVALID_API_KEY\)/);
    expect(hasStackTrace(wrongKey.stderr)).toBe(false);
    expect(show.code).toBe(0);
    expect(json(show)).toMatchObject({ org_slug: 'acmecorp', subscription: { plan_name: 'PROFESSIONAL' } });
    expect(viaRoot.code).toBe(0);
    expect(viaRoot.stdout).toMatch(/company:\s+Acme Corp/);
    expect(json(quota)).toMatchObject({ org_slug: 'acmecorp', runs_allowed: true });
  }, 60_000);

  it('runs the demo pipeline with --wait: live progress, the table of steps, exit 0', async () => {
    const [r, j, refused, dry, missing] = await Promise.all([
      run(['run', 'demo/sample/costs', '--date', '2026-01-15', '--param', 'lines=500', '--wait']),
      run(['run', 'demo/sample/costs', '--date', '2026-01-16', '--wait', '--json']),
      run(['run', 'demo/sample/costs', '--param', 'lines=0', '--wait']),
      run(['run', 'demo/sample/costs', '--param', 'lines=0', '--dry-run']),
      run(['run', 'nope/nope/nope']),
    ]);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/demo\/sample\/costs\s+SUCCESS/);
    expect(r.stdout).toMatch(/│ step\s+│ type\s+│ status\s+│ duration\s+│ rows\s+│ error\s+│/);
    expect(r.stdout).toMatch(/│ generate\s+│ gcp\.bq_etl\s+│ SUCCESS\s+│ [\d.]+ m?s\s+│ 500\s+│/);
    for (const step of ['aggregate', 'check']) expect(r.stdout).toMatch(new RegExp(`│ ${step}\\s+│ \\S+\\s+│ SUCCESS`));
    expect(r.stdout).toMatch(/│ notify_failure\s+│ notify_systems\.email_notification\s+│ SKIPPED/);
    expect(r.stdout).toMatch(/data quality: 5 checks, 5 passed/);
    expect(r.stderr).toMatch(/step generate: SUCCESS/); // plain progress lines: stderr is not a terminal

    expect(j.code).toBe(0);
    const detail = json<{ status: string; steps: { step_id: string }[] }>(j);
    expect(detail.status).toBe('SUCCESS');
    expect(detail.steps.map((s) => s.step_id)).toEqual(['generate', 'aggregate', 'check', 'notify_failure']);

    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/^error: .*lines.* \((INVALID_PARAMETER|VALIDATION_FAILED)\)$/m);
    expect(dry.code).toBe(1);
    expect(dry.stdout).toMatch(/parameters_valid\s+│ NO/);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/\(PIPELINE_NOT_FOUND\)/);

    const list = await run(['runs', 'list', '--json', '--pipeline', 'demo/sample/costs']);
    const runs = json<{ runs: { pipeline_logging_id: string; status: string }[] }>(list).runs;
    expect(runs.length).toBeGreaterThanOrEqual(2);
    const [show, none, table] = await Promise.all([run(['runs', 'show', runs[0]?.pipeline_logging_id ?? '']), run(['runs', 'show', 'no-such-run']), run(['runs', 'list'])]);
    expect(show.code).toBe(0);
    expect(show.stdout).toMatch(/│ aggregate/);
    expect(none.code).toBe(1);
    expect(table.stdout).toMatch(/│ run\s+│ pipeline\s+│ status/);
  }, 60_000);

  it('Ctrl-C during run --wait stops waiting (exit 130), says how to follow, and leaves the run running', async () => {
    const K = { 'x-api-key': orgKey };
    const slow = 'pipeline_id: slow\nsteps:\n  - step_id: spin\n    ps_type: gcp.bq_etl\n    source: { query: "SELECT count(*) AS n FROM range(100000000000)" }\n    destination: { table: spin }\n';
    expect((await call(server.url, 'POST', '/api/v1/pipelines/configs', K, { config_id: 'slow', yaml: slow })).status).toBe(201);
    const p = spawnCli(['run', 'custom/configs/slow', '--wait'], env);
    await outputMatches(p, (_out, err) => /step spin: RUNNING/.test(err));
    p.child.kill('SIGINT');
    const r = await p.exited;
    outputs.push({ label: 'run --wait (interrupted)', result: r });
    expect(r.code, r.stderr).toBe(130);
    const id = /^run (\S+) \(custom\/configs\/slow\)/m.exec(r.stderr)?.[1] ?? '';
    expect(id).not.toBe('');
    expect(r.stderr).toContain(`stopped waiting; run ${id} goes on`);
    expect(r.stderr).toContain(`convergence runs show ${id}`);
    expect(hasStackTrace(r.stderr)).toBe(false);
    // The run was left alone: still running on the server.
    const after = await call(server.url, 'GET', `/api/v1/pipelines/runs/${id}`, K);
    expect(after.json.status).toBe('RUNNING');

    const cancel = await run(['runs', 'cancel', id, '--json']);
    expect(cancel.code, cancel.stderr).toBe(0);
    expect(json(cancel)).toMatchObject({ pipeline_logging_id: id, status: 'CANCELLED' });
    const twice = await run(['runs', 'cancel', id]);
    expect(twice.code).toBe(1);
    expect(twice.stderr).toMatch(/\(RUN_FINISHED\)/);
  }, 60_000);

  it('schedules and backfills', async () => {
    const add = await run(['schedule', 'add', 'demo/sample/costs', '--cron', '0 2 * * *', '--timezone', 'Europe/Berlin', '--param', 'lines=300', '--json']);
    expect(add.code, add.stderr).toBe(0);
    const schedule = json<{ schedule_id: string; next_run_at: string; parameters: Record<string, unknown> }>(add);
    expect(schedule.parameters).toEqual({ lines: '300' });
    const [list, badCron, noTo] = await Promise.all([
      run(['schedule', 'list']),
      run(['schedule', 'add', 'demo/sample/costs', '--cron', 'every day']),
      run(['backfill', 'demo/sample/costs', '--from', '2026-02-01']),
    ]);
    expect(list.stdout).toContain(schedule.schedule_id);
    expect(list.stdout).toMatch(/0 2 \* \* \*/);
    expect(badCron.code).toBe(1);
    expect(noTo.code).toBe(2);
    expect((await run(['schedule', 'remove', schedule.schedule_id])).code).toBe(0);
    expect(json<{ schedules: unknown[] }>(await run(['schedule', 'list', '--json'])).schedules).toEqual([]);

    const backfill = await run(['backfill', 'demo/sample/costs', '--from', '2026-02-01', '--to', '2026-02-02', '--param', 'lines=50', '--wait']);
    expect(backfill.code, backfill.stderr).toBe(0);
    expect(backfill.stdout).toMatch(/2026-02-01\s+│ \S+\s+│ SUCCESS/);
    expect(backfill.stdout).toMatch(/2026-02-02\s+│ \S+\s+│ SUCCESS/);
  }, 60_000);

  it('sets up integrations from env, stdin or a file without ever printing the secret', async () => {
    expect((await run(['integration', 'list'])).stdout).toMatch(/no integrations yet/);
    const file = path.join(dir, 'key.txt');
    fs.writeFileSync(file, CREDENTIAL, { mode: 0o600 });
    const [viaEnv, viaStdin, viaFile, unset, asFlag] = await Promise.all([
      run(['integration', 'setup', 'deepseek', '--credential-env', 'DEEPSEEK_KEY', '--skip-validation', '--name', 'ops'], { DEEPSEEK_KEY: CREDENTIAL }),
      run(['integration', 'setup', 'openai', '--skip-validation', '--config', 'organization_id=org-42', '--json'], {}, `${CREDENTIAL}\n`),
      run(['integration', 'setup', 'anthropic', '--credential-file', file, '--skip-validation']),
      run(['integration', 'setup', 'openai', '--credential-env', 'UNSET_VAR']),
      run(['integration', 'setup', 'openai', '--credential', CREDENTIAL]),
    ]);
    expect(viaEnv.code, viaEnv.stderr).toBe(0);
    expect(viaEnv.stdout).toMatch(/deepseek\s+│ ops\s+│ sk-…\w{4}\s+│/);
    expect(viaStdin.code, viaStdin.stderr).toBe(0);
    expect(json(viaStdin)).toMatchObject({ provider: 'openai', validation_status: 'UNVERIFIED', config: { organization_id: 'org-42' } });
    expect(viaFile.code, viaFile.stderr).toBe(0);
    const list = await run(['integration', 'list', '--json']);
    expect(json<{ integrations: { provider: string }[] }>(list).integrations.map((i) => i.provider).sort()).toEqual(['anthropic', 'deepseek', 'openai']);
    expect(unset.code).toBe(2);
    expect(asFlag.code).toBe(2);
    expect((await run(['integration', 'remove', 'anthropic'])).code).toBe(0);

    // GCP: the service-account key file as the README shows it, over an export generated by the CLI.
    const gen = await run(['generate', 'gcp-billing', '--out', path.join(dir, 'import', 'acmecorp', 'gcp'), '--start', '2026-11-01', '--rows-per-day', '20']);
    expect(gen.code, gen.stderr).toBe(0);
    const keyFile = path.join(dir, 'service-account.json');
    fs.writeFileSync(keyFile, JSON.stringify(serviceAccount()), { mode: 0o600 });
    const gcp = await run(['integration', 'setup', 'gcp', '--credential-file', keyFile, '--config', 'billing_export_path=acmecorp/gcp/*.ndjson']);
    expect(gcp.code, gcp.stderr).toBe(0);
    expect(gcp.stdout).toMatch(/gcp\s+│ .*billing_export_path=acmecorp\/gcp\/\*\.ndjson\s+│ VALID/);
    const validated = await run(['integration', 'validate', 'gcp', '--json']);
    expect(json(validated)).toMatchObject({ provider: 'gcp', validation_status: 'VALID' });
    expect((await run(['integration', 'list', 'anthropic'])).code).toBe(1);
  }, 60_000);

  it('runs the demo against this service when CONVERGENCE_URL answers', async () => {
    // Its org key is shown once (the one-time display), so this output is not among those scanned below.
    const r = await cli(['demo', '--days', '1', '--rows-per-day', '200'], { ...env, IMPORT_DIR: path.join(dir, 'import'), CONVERGENCE_API_KEY: '' });
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stderr).toMatch(new RegExp(`Using the service at ${server.url.replace(/\./g, '\\.')}`));
    expect(r.stdout).toMatch(/GCP cost per day and currency/);
    expect(r.stdout).toMatch(/│ USD\s+│ \d+\s+│ [\d.]+\s+│ -?[\d.]+\s+│ [\d.]+\s+│ [\d.]+\s+│ yes\s+│/);
    const key = /^\s+(demo_\w+_api_\w+)$/m.exec(r.stdout)?.[1] ?? '';
    expect(r.stdout.split(key)).toHaveLength(2);
  }, 60_000);

  it('rotates the key (shown once); the old key stops working; no output carries a secret', async () => {
    const rotate = await cli(['org', 'rotate-key', '--json'], env);
    expect(rotate.code, rotate.stderr).toBe(0);
    const fresh = json<{ api_key: string; revoked_keys: number }>(rotate);
    expect(fresh.revoked_keys).toBe(1);
    expect(rotate.stdout).not.toContain(orgKey);
    expect(rotate.stdout).not.toContain(ROOT);
    const old = await run(['runs', 'list']);
    expect(old.code).toBe(4);
    expect((await run(['runs', 'list'], { CONVERGENCE_API_KEY: fresh.api_key })).code).toBe(0);

    const secrets: SecretSpec[] = [
      { label: 'root key', parts: [ROOT], publicPrefix: 'cli_root_' },
      { label: 'org key', parts: [orgKey, fresh.api_key], publicPrefix: 'acmecorp_api_' },
      { label: 'credential', parts: [CREDENTIAL], publicPrefix: 'sk-' },
      { label: 'service-account key', parts: pemBodyLines(String(serviceAccount().private_key)) },
    ];
    expect(outputs.length).toBeGreaterThan(30);
    for (const { label, result } of outputs) expect(findLeaks(result.stdout + result.stderr, secrets), label).toEqual([]);
    expect(findLeaks(server.stdout() + server.stderr(), secrets)).toEqual([]);
  }, 30_000);
});
