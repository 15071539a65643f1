import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { call, runUntilExit, startServer, type ServerProcess } from '../helpers/server-process.js';

let dir: string;
let server: ServerProcess | undefined;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'convergence-e2e-'));
});
afterEach(async () => {
  if (server?.child.exitCode === null) await server.stop('SIGKILL');
  server = undefined;
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('the server process', () => {
  it('starts with zero configuration, generates the root key once, and keeps state across restarts', async () => {
    server = await startServer({ CONVERGENCE_DATA_DIR: dir });
    const keyFile = path.join(dir, 'root-api-key');
    const root = fs.readFileSync(keyFile, 'utf8').trim();
    expect(root.length).toBeGreaterThanOrEqual(32);
    expect(fs.statSync(keyFile).mode & 0o777).toBe(0o600);
    expect(server.stdout()).toContain(root); // printed once…
    const R = { 'x-ca-root-key': root };

    expect((await call(server.url, 'POST', '/api/v1/admin/bootstrap', R, {})).status).toBe(200);
    const dry = await call(server.url, 'POST', '/api/v1/organizations/dryrun', R, { org_slug: 'acmecorp', company_name: 'Acme Corp', admin_email: 'admin@acme.com' });
    expect(dry).toMatchObject({ status: 200, json: { valid: true } });
    const onboard = await call(server.url, 'POST', '/api/v1/organizations/onboard', R, { org_slug: 'acmecorp', company_name: 'Acme Corp', admin_email: 'admin@acme.com' });
    expect(onboard.status).toBe(201);
    const key = String(onboard.json.api_key);
    expect(server.stdout()).not.toContain(key); // the org key is never logged

    // Orderly stop, start again: same root key (not printed again), org and key still work.
    expect(await server.stop('SIGTERM')).toMatchObject({ code: 0 });
    server = await startServer({ CONVERGENCE_DATA_DIR: dir });
    expect(server.stdout()).not.toContain(root);
    expect(await call(server.url, 'GET', '/api/v1/organizations/acmecorp', { 'x-api-key': key })).toMatchObject({ status: 200, json: { org_slug: 'acmecorp' } });
    expect((await call(server.url, 'GET', '/api/v1/organizations/acmecorp', R)).status).toBe(200);

    // A kill -9 right after a commit loses nothing either.
    const second = await call(server.url, 'POST', '/api/v1/organizations/onboard', R, { org_slug: 'globex', company_name: 'Globex', admin_email: 'ops@globex.com' });
    expect(second.status).toBe(201);
    await server.stop('SIGKILL');
    server = await startServer({ CONVERGENCE_DATA_DIR: dir });
    expect((await call(server.url, 'GET', '/api/v1/organizations/globex', { 'x-api-key': String(second.json.api_key) })).status).toBe(200);
    expect((await call(server.url, 'GET', '/api/v1/organizations/acmecorp', { 'x-api-key': key })).status).toBe(200);
  });

  it('uses CA_ROOT_API_KEY when set and writes no key file', async () => {
    const root = 'operator_chosen_root_key_0123456789';
    server = await startServer({ CONVERGENCE_DATA_DIR: dir, CA_ROOT_API_KEY: root });
    expect(fs.existsSync(path.join(dir, 'root-api-key'))).toBe(false);
    expect((await call(server.url, 'POST', '/api/v1/admin/bootstrap', { 'x-ca-root-key': root }, {})).status).toBe(200);
  });

  it.each([
    ['production without a root key', { ENVIRONMENT: 'production' }, /at least 32 characters/],
    ['production with a short root key', { ENVIRONMENT: 'production', CA_ROOT_API_KEY: 'x'.repeat(31) }, /at least 32 characters/],
    ['production without a key-encryption key', { ENVIRONMENT: 'production', CA_ROOT_API_KEY: 'x'.repeat(40) }, /KMS_KEY_NAME or CONVERGENCE_MASTER_KEY/],
    ['a port that is not a number', { PORT: 'eighty' }, /PORT must be an integer/],
    ['an unknown environment', { ENVIRONMENT: 'prod' }, /ENVIRONMENT must be one of development, staging, production/],
  ])('refuses to start with %s', async (_label, env, message) => {
    const result = await runUntilExit({ CONVERGENCE_DATA_DIR: dir, ...env });
    expect(result.code).toBe(78);
    expect(result.stderr).toMatch(message);
    expect(fs.existsSync(path.join(dir, 'convergence.duckdb'))).toBe(false);
  });
});
