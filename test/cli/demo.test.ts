import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli, closedPort, hasStackTrace } from './cli-process.js';

/** `convergence demo` on a fresh checkout: nothing answers at CONVERGENCE_URL, so it runs everything in-process. */
let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'convergence-cli-demo-'));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('convergence demo', () => {
  it('starts the embedded service, loads generated GCP billing data, runs the pipeline and prints the cost summary', async () => {
    const dataDir = path.join(dir, 'data');
    const began = Date.now();
    const r = await cli(['demo', '--days', '2', '--rows-per-day', '1000', '--data-dir', dataDir, '--json'], { CONVERGENCE_URL: `http://127.0.0.1:${await closedPort()}` });
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(Date.now() - began).toBeLessThan(60_000);
    expect(hasStackTrace(r.stderr)).toBe(false);
    expect(r.stderr).toMatch(/starting an embedded one/);
    const result = JSON.parse(r.stdout) as {
      mode: string;
      org_slug: string;
      runs: { date: string; status: string }[];
      summary: { date: string; currency: string; net: string; focus_billed_cost: string; reconciled: boolean }[];
      api_key?: string;
    };
    expect(result.mode).toBe('embedded');
    expect(result.api_key).toBeUndefined(); // the embedded service is gone afterwards: no key to show
    expect(result.runs).toHaveLength(2);
    expect(result.runs.every((x) => x.status === 'SUCCESS')).toBe(true);
    expect(new Set(result.summary.map((s) => s.date)).size).toBe(2);
    expect(result.summary.length).toBeGreaterThanOrEqual(2);
    for (const s of result.summary) expect(s).toMatchObject({ reconciled: true });
    // The export was written under the org's folder of the import directory, totals.json beside it.
    const totals = JSON.parse(fs.readFileSync(path.join(dataDir, 'import', result.org_slug, 'gcp', 'totals.json'), 'utf8')) as { days: Record<string, Record<string, { net: string }>> };
    for (const s of result.summary) expect(totals.days[s.date]?.[s.currency]?.net).toBe(s.net);
    // The embedded service let go of its database: a second demo on the same data directory works.
    const again = await cli(['demo', '--days', '1', '--rows-per-day', '100', '--data-dir', dataDir, '--embedded']);
    expect(again.code, again.stdout + again.stderr).toBe(0);
    expect(again.stdout).toMatch(/GCP cost per day and currency/);
    expect(again.stdout).toMatch(/Net cost over 1 day\(s\): /);
    expect(again.stdout).toMatch(/│ yes\s+│/);
    expect(again.stdout).not.toMatch(/_api_/); // no key printed for an embedded run
  }, 120_000);
});
