import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DuckDbControlStore } from '../control-store/duckdb/duckdb-control-store.js';
import { DuckDbDatabase } from '../duckdb/duckdb-database.js';
import { loadTableSchemaDir } from '../schema/table-schema.js';
import { WriteBatcher } from './write-batcher.js';

let dir: string;
let db: DuckDbDatabase;
let store: DuckDbControlStore;

beforeEach(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'convergence-batcher-'));
  db = await DuckDbDatabase.open(path.join(dir, 'b.duckdb'));
  store = await DuckDbControlStore.open(db);
  await store.ensureCentralSchema(loadTableSchemaDir('configs/setup/bootstrap/schemas'));
});
afterEach(async () => {
  await db.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

const audit = (id: string) => ({
  audit_id: id,
  org_slug: 'acme',
  actor: 'root',
  user_id: null,
  action: 'test',
  resource: null,
  request_id: null,
  status: 'SUCCESS' as const,
  status_code: 200,
  details: null,
  created_at: new Date(),
});

describe('WriteBatcher', () => {
  it('commits writes added together in one transaction, in order, by flush()', async () => {
    const b = new WriteBatcher(store, pino({ level: 'silent' }), 1000);
    for (const id of ['a1', 'a2', 'a3']) b.add((r) => r.audit.append(audit(id)));
    expect(await store.audit.listForOrg('acme', 10)).toHaveLength(0); // still in the window
    await b.flush(); // does not wait for the window
    expect((await store.audit.listForOrg('acme', 10)).map((e) => e.audit_id).sort()).toEqual(['a1', 'a2', 'a3']);
  });

  it('a failing write loses only itself, not the others of its batch', async () => {
    const b = new WriteBatcher(store, pino({ level: 'silent' }), 1000);
    b.add((r) => r.audit.append(audit('ok1')));
    b.add(async () => {
      throw new Error('poisoned write');
    });
    b.add((r) => r.audit.append(audit('ok2')));
    await b.flush();
    expect((await store.audit.listForOrg('acme', 10)).map((e) => e.audit_id).sort()).toEqual(['ok1', 'ok2']);
  });
});
