import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli, closedPort, hasStackTrace } from './cli-process.js';

/** The CLI without a server: usage errors, an unreachable server, offline validation and generation. */
let dir: string;
let downUrl: string;
beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'convergence-cli-'));
  downUrl = `http://127.0.0.1:${await closedPort()}`;
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('usage', { timeout: 60_000 }, () => {
  it('shows help for the program and every level, exit 0', async () => {
    const top = await cli(['--help']);
    expect(top.code).toBe(0);
    for (const c of ['serve', 'bootstrap', 'org', 'integration', 'run', 'runs', 'schedule', 'backfill', 'validate', 'generate', 'demo', 'keys']) expect(top.stdout).toMatch(new RegExp(`\\n  ${c}\\b`));
    expect(top.stdout).toMatch(/Exit codes: 0 ok/);
    const run = await cli(['run', '--help']);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/--param <key=value>/);
    expect(run.stdout).toMatch(/--wait/);
    expect(run.stdout).toMatch(/CONVERGENCE_API_KEY/);
    const sub = await cli(['integration', 'setup', '--help']);
    expect(sub.stdout).toMatch(/--credential-file/);
    expect(sub.stdout).not.toMatch(/--credential </); // no flag that would put the secret in shell history
  });

  it('refuses unknown commands and flags with a helpful message, exit 2', async () => {
    const [unknown, typo, flag, missing, bare] = await Promise.all([
      cli(['frobnicate']),
      cli(['scheduel', 'list']),
      cli(['runs', 'list', '--colour']),
      cli(['org', 'onboard', 'acmecorp', '--email', 'a@b.co']),
      cli(['org']),
    ]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/unknown command 'frobnicate'/);
    expect(unknown.stderr).toMatch(/--help/);
    expect(typo.code).toBe(2);
    expect(typo.stderr).toMatch(/Did you mean schedule\?/);
    expect(flag.code).toBe(2);
    expect(flag.stderr).toMatch(/unknown option '--colour'/);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/--company/);
    expect(bare.code).toBe(2);
    expect(bare.stderr).toMatch(/onboard/);
    for (const r of [unknown, typo, flag, missing, bare]) expect(hasStackTrace(r.stderr)).toBe(false);
  });

  it('refuses --param without "=" before contacting anything, exit 2', async () => {
    const r = await cli(['run', 'demo/sample/costs', '--param', 'lines', '--wait'], { CONVERGENCE_URL: downUrl, CONVERGENCE_API_KEY: 'acmecorp_api_0123456789abcdefghijklmnopqrstuv' });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/expected key=value, got "lines"/);
    const empty = await cli(['run', 'demo/sample/costs', '--param', '=5']);
    expect(empty.code).toBe(2);
    const path = await cli(['run', 'demo/costs']);
    expect(path.code).toBe(2);
    expect(path.stderr).toMatch(/provider\/domain\/pipeline/);
  });

  it('says clearly when the server is down: exit 3, no stack trace, JSON when asked', async () => {
    const env = { CONVERGENCE_URL: downUrl, CONVERGENCE_API_KEY: 'acmecorp_api_0123456789abcdefghijklmnopqrstuv' };
    const r = await cli(['runs', 'list'], env);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(new RegExp(`cannot reach the Convergence API at ${downUrl.replace(/\./g, '\\.')} \\(ECONNREFUSED\\)`));
    expect(r.stderr).toMatch(/convergence serve/);
    expect(hasStackTrace(r.stderr)).toBe(false);
    expect(r.stdout).toBe('');
    expect(r.stderr).not.toContain('0123456789abcdefghijklmnopqrstuv');
    const json = await cli(['org', 'show', '--json'], env);
    expect(json.code).toBe(3);
    expect(JSON.parse(json.stdout)).toMatchObject({ error: { exit_code: 3 } });
  });

  it('needs a key before calling: exit 4', async () => {
    const r = await cli(['runs', 'list'], { CONVERGENCE_URL: downUrl });
    expect(r.code).toBe(4);
    expect(r.stderr).toMatch(/no organization API key/);
    expect(r.stderr).toMatch(/CONVERGENCE_API_KEY/);
    const bad = await cli(['runs', 'list', '--url', 'ftp://example.com'], { CONVERGENCE_API_KEY: 'x' });
    expect(bad.code).toBe(2);
  });
});

describe('validate', { timeout: 60_000 }, () => {
  const files: Record<string, string> = {
    'valid.yml': 'pipeline_id: "{org_slug}_ok"\nsteps:\n  - step_id: load\n    ps_type: gcp.bq_etl\n    source: { query: "SELECT 1 AS n" }\n    destination: { table: "{dataset}.ok" }\n',
    'broken-yaml.yml': 'pipeline_id: broken\nsteps:\n  - step_id: a\n    ps_type: [gcp.bq_etl\n  - step_id: b\n',
    'unknown-type.yml':
      'pipeline_id: unknown_type\nsteps:\n  - step_id: first\n    ps_type: gcp.bq_etl\n    source: { query: "SELECT 1 AS n" }\n    destination: { table: "{dataset}.t" }\n  - step_id: second\n    ps_type: gcp.no_such_thing\n',
    'bad-dep.yml': 'pipeline_id: bad_dep\nsteps:\n  - step_id: a\n    ps_type: gcp.bq_etl\n    source: { query: "SELECT 1 AS n" }\n    destination: { table: "{dataset}.t" }\n    depends_on: [nowhere]\n',
    'nested/bad-var.yml': 'pipeline_id: bad_var\nsteps:\n  - step_id: a\n    ps_type: gcp.bq_etl\n    source:\n      query: "SELECT \'{nope}\' AS x"\n    destination: { table: "{dataset}.t" }\n',
    'bad-param.yml': 'pipeline_id: bad_param\nparameters:\n  lines: { type: integer, default: many }\nsteps:\n  - step_id: a\n    ps_type: gcp.bq_etl\n    source: { query: "SELECT 1 AS n" }\n    destination: { table: "{dataset}.t" }\n',
    'platform.yaml': 'pipeline_id: sneaky\nsteps:\n  - step_id: boot\n    ps_type: setup.initial.onetime_bootstrap\n',
    'notes.yml': 'title: not a pipeline\nitems: [1, 2]\n',
  };
  let mixed: string;
  beforeAll(() => {
    mixed = path.join(dir, 'pipelines');
    for (const [name, text] of Object.entries(files)) {
      fs.mkdirSync(path.dirname(path.join(mixed, name)), { recursive: true });
      fs.writeFileSync(path.join(mixed, name), text);
    }
  });

  it('reports every invalid file of a directory with file:line, and exits 1', async () => {
    const r = await cli(['validate', 'pipelines'], {}, { cwd: dir });
    expect(r.code, r.stdout + r.stderr).toBe(1);
    const lines = r.stdout.split('\n');
    const at = (file: string): string | undefined => lines.find((l) => l.startsWith(`${path.join('pipelines', file)}:`));
    expect(at('broken-yaml.yml')).toMatch(/^pipelines\/broken-yaml\.yml:5:\d+: error: invalid YAML/);
    expect(at('unknown-type.yml')).toMatch(/:7:5: error: .*unknown ps_type "gcp\.no_such_thing"/);
    expect(at('bad-dep.yml')).toMatch(/:7:5: error: step "a": depends_on names unknown step "nowhere"/);
    expect(at('nested/bad-var.yml')).toMatch(/:6:7: error: .*unknown variable "nope"/);
    expect(at('bad-param.yml')).toMatch(/:3:\d+: error: parameters\.lines\.default/);
    expect(at('platform.yaml')).toMatch(/:3:5: error: .*reserved to the platform/);
    expect(at('valid.yml')).toMatch(/ok/);
    expect(r.stdout).not.toMatch(/notes\.yml/);
    expect(r.stderr).toMatch(/7 pipeline file\(s\) checked: 1 valid, 6 with problems; 1 other YAML file\(s\) skipped/);

    const json = await cli(['validate', 'pipelines', '--json'], {}, { cwd: dir });
    expect(json.code).toBe(1);
    const report = JSON.parse(json.stdout) as { ok: boolean; files: { file: string; ok: boolean; errors: { line: number }[] }[]; skipped: string[] };
    expect(report.ok).toBe(false);
    expect(report.files.filter((f) => !f.ok)).toHaveLength(6);
    expect(report.skipped).toEqual([path.join('pipelines', 'notes.yml')]);

    // A single valid file passes; an explicitly named non-pipeline does not.
    const [one, notPipeline, nowhere] = await Promise.all(['pipelines/valid.yml', 'pipelines/notes.yml', 'no-such-dir'].map((p) => cli(['validate', p], {}, { cwd: dir })));
    expect(one?.code).toBe(0);
    expect(notPipeline?.code).toBe(1);
    expect(nowhere?.code).toBe(2);
  });

  it('passes on the repository configs/, the default', async () => {
    const r = await cli(['validate']);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/configs\/demo\/sample\/costs\.yml: ok/);
    expect(r.stdout).toMatch(/configs\/gcp\/cost\/billing\.yml: ok/);
  });
});

describe('generate gcp-billing', { timeout: 60_000 }, () => {
  it('writes the export and totals like the script, JSON on request; bad options exit 2', async () => {
    const out = path.join(dir, 'export');
    const r = await cli(['generate', 'gcp-billing', '--out', out, '--start', '2026-11-01', '--days', '2', '--rows-per-day', '50', '--seed', '7', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const result = JSON.parse(r.stdout) as { files: string[]; totals: { days: Record<string, unknown> } };
    expect(result.files.map((f) => path.basename(f))).toEqual(['gcp_billing_export_v1_2026-11-01.ndjson', 'gcp_billing_export_v1_2026-11-02.ndjson']);
    expect(Object.keys(result.totals.days)).toEqual(['2026-11-01', '2026-11-02']);
    expect(JSON.parse(fs.readFileSync(path.join(out, 'totals.json'), 'utf8'))).toEqual(result.totals);
    const human = await cli(['generate', 'gcp-billing', '--out', out, '--start', '2026-11-01', '--rows-per-day', '50']);
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(/2026-11-01 .*USD/);
    const bad = await cli(['generate', 'gcp-billing', '--out', out, '--start', '2026-13-01', '--days', 'x']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--days must be a non-negative integer/);
  });
});
