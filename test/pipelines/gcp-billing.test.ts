import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { exportRow, serviceAccount } from '../helpers/gcp.js';
import { startRuntime, type TestRuntime } from '../helpers/runtime.js';

let rt: TestRuntime;
let key: string;
const ORG = 'acme';
let importDir: string;

beforeEach(async () => {
  const dir = fs.mkdtempSync(path.join((await import('node:os')).tmpdir(), 'convergence-gcp-'));
  importDir = path.join(dir, 'import');
  fs.mkdirSync(path.join(importDir, 'gcp'), { recursive: true });
  rt = await startRuntime({ IMPORT_DIR: importDir }, dir);
  await rt.bootstrap();
  key = (await rt.onboard(ORG, 'SCALE')).api_key;
});
afterEach(async () => {
  await rt.close();
});

const writeNdjson = (name: string, rows: unknown[]): void => fs.writeFileSync(path.join(importDir, 'gcp', name), rows.map((r) => JSON.stringify(r)).join('\n') + '\n');

describe('gcp/cost/billing', () => {
  it('loads one day of the export, aggregates, maps to FOCUS and reconciles', async () => {
    writeNdjson('export-1.ndjson', [
      exportRow(),
      exportRow({ cost: 0.1, credits: [], usage_start_time: '2026-11-20T05:00:00Z' }),
      exportRow({ cost_type: 'tax', project: null, cost: 0.2, credits: [] }),
      exportRow({ usage_start_time: '2026-11-21 01:00:00 UTC', cost: 99 }),
    ]);
    const setup = await rt.org(key, 'POST', `/api/v1/integrations/${ORG}/gcp/setup`, { credential: serviceAccount(), config: { billing_export_path: 'gcp/*.ndjson' } });
    expect(setup.statusCode, setup.body).toBe(201);
    const res = await rt.org(key, 'POST', `/api/v1/pipelines/run/${ORG}/gcp/cost/billing?wait=true`, { date: '2026-11-20' });
    expect(res.statusCode, res.body).toBe(200);
    const run = res.json();
    expect(run.status, JSON.stringify(run.steps.map((s: Record<string, unknown>) => [s.step_id, s.status, s.error_message]))).toBe('SUCCESS');
    const [total] = await rt.warehouse.query<{ t: string }>(`SELECT CAST(SUM(BilledCost) AS VARCHAR) AS t FROM "${ORG}".cost_focus_daily`);
    expect(Number(total?.t)).toBeCloseTo(1.25 - 0.25 + 0.1 + 0.2, 9);
  });
});
