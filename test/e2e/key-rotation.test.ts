import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createLogger, createRuntime, type Runtime } from '../../src/compose.js';
import { loadConfig } from '../../src/config/config.js';
import { startOpenAiServer, type OpenAiServer } from '../helpers/providers/openai-server.js';
import { ROOT_KEY } from '../helpers/runtime.js';
import { REPO_ROOT } from '../helpers/server-process.js';

/**
 * `npm run keys:rotate` as an operator runs it (a separate process, service stopped): every data
 * key is re-wrapped under the new KEK, the data ciphertext is untouched, old KEKs are retired, and
 * the credentials still decrypt afterwards.
 */
const exec = promisify(execFile);
const KEYS: Record<string, string> = { acme: 'sk-admin-aaaaaaaaaaaaaaaaaaaa1111', beta: 'sk-admin-bbbbbbbbbbbbbbbbbbbb2222' };

let dir: string;
let fake: OpenAiServer;

beforeEach(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'convergence-rotate-'));
  fake = await startOpenAiServer({ adminKeys: Object.values(KEYS) });
});
afterEach(async () => {
  await fake.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

interface Envelope {
  kv: string;
  wk: string;
  iv: string;
  ct: string;
  tag: string;
}

/** A runtime on `dir` that leaves the data in place when closed. */
async function open(env: Record<string, string>): Promise<Runtime> {
  const config = loadConfig({ CONVERGENCE_DATA_DIR: dir, LOG_LEVEL: 'silent', CA_ROOT_API_KEY: ROOT_KEY, SHUTDOWN_GRACE_MS: '0', OPENAI_BASE_URL: fake.url, ...env }, dir);
  return createRuntime(config, ROOT_KEY, createLogger(config));
}

const inject = async (rt: Runtime, method: string, url: string, headers: Record<string, string>, body?: unknown): Promise<{ status: number; json: Record<string, unknown> }> => {
  const res = await rt.app.inject({ method: method as 'GET', url, headers: { ...headers, ...(body === undefined ? {} : { 'content-type': 'application/json' }) }, ...(body === undefined ? {} : { payload: JSON.stringify(body) }) });
  return { status: res.statusCode, json: res.json() };
};

/** Bootstraps, onboards two orgs and stores an OpenAI key for each; returns their API keys. */
async function seed(env: Record<string, string> = {}): Promise<Record<string, string>> {
  const rt = await open(env);
  const apiKeys: Record<string, string> = {};
  try {
    expect((await inject(rt, 'POST', '/api/v1/admin/bootstrap', { 'x-ca-root-key': ROOT_KEY }, {})).status).toBe(200);
    for (const slug of Object.keys(KEYS)) {
      const onboard = await inject(rt, 'POST', '/api/v1/organizations/onboard', { 'x-ca-root-key': ROOT_KEY }, { org_slug: slug, company_name: slug, admin_email: `a@${slug}.example.com` });
      apiKeys[slug] = onboard.json.api_key as string;
      const setup = await inject(rt, 'POST', `/api/v1/integrations/${slug}/openai/setup`, { 'x-api-key': apiKeys[slug] as string }, { credential: KEYS[slug] });
      expect(setup.status).toBe(201);
    }
  } finally {
    await rt.close();
  }
  return apiKeys;
}

async function envelopes(env: Record<string, string> = {}): Promise<Map<string, Envelope>> {
  const rt = await open(env);
  try {
    const rows = await rt.controlStore.integrations.listForRewrap(100, '');
    return new Map(rows.map((r) => [r.org_slug, JSON.parse(r.encrypted_credential) as Envelope]));
  } finally {
    await rt.close();
  }
}

/** Every stored credential validates again (i.e. decrypts to the key the provider knows). */
async function allValid(apiKeys: Record<string, string>, env: Record<string, string> = {}): Promise<string[]> {
  const rt = await open(env);
  try {
    const statuses: string[] = [];
    for (const [slug, key] of Object.entries(apiKeys)) {
      const res = await inject(rt, 'POST', `/api/v1/integrations/${slug}/openai/validate`, { 'x-api-key': key });
      statuses.push(`${slug}:${res.status}:${String(res.json.validation_status)}`);
    }
    return statuses;
  } finally {
    await rt.close();
  }
}

async function rotate(env: Record<string, string> = {}, args: string[] = []): Promise<{ code: number; out: string }> {
  try {
    const r = await exec(process.execPath, ['--import', 'tsx', path.join(REPO_ROOT, 'src/cli/rotate-keys.ts'), ...args], {
      cwd: REPO_ROOT,
      env: { ...process.env, CONVERGENCE_DATA_DIR: dir, LOG_LEVEL: 'silent', ...env },
    });
    return { code: 0, out: r.stdout };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, out: err.stdout + err.stderr };
  }
}

describe('keys:rotate', () => {
  it('with the key file: re-wraps every data key, leaves the ciphertext as it was, retires the old key', async () => {
    const apiKeys = await seed();
    const before = await envelopes();
    const file = path.join(dir, 'master-keys.json');
    const oldVersion = (JSON.parse(fs.readFileSync(file, 'utf8')) as { current: string }).current;

    const r = await rotate();
    expect(r.code, r.out).toBe(0);
    expect(r.out).toMatch(/2 checked, 2 re-wrapped/);

    const after = await envelopes();
    const keyFile = JSON.parse(fs.readFileSync(file, 'utf8')) as { current: string; keys: { version: string }[] };
    expect(keyFile.current).not.toBe(oldVersion);
    expect(keyFile.keys.map((k) => k.version)).toEqual([keyFile.current]);
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    for (const slug of Object.keys(KEYS)) {
      const [b, a] = [before.get(slug), after.get(slug)];
      expect(a?.kv).toBe(keyFile.current);
      expect(a?.wk).not.toBe(b?.wk);
      expect([a?.iv, a?.ct, a?.tag]).toEqual([b?.iv, b?.ct, b?.tag]);
    }
    expect(await allValid(apiKeys)).toEqual(['acme:200:VALID', 'beta:200:VALID']);
    // A second rotation finds nothing old left over... after adding a new key again.
    expect((await rotate()).out).toMatch(/2 checked, 2 re-wrapped/);
  });

  it('with CONVERGENCE_MASTER_KEY: the new key plus the previous one re-wraps; without the previous one nothing decrypts', async () => {
    const oldKey = Buffer.alloc(32, 1).toString('base64');
    const newKey = Buffer.alloc(32, 2).toString('base64');
    const apiKeys = await seed({ CONVERGENCE_MASTER_KEY: oldKey });
    // The new key alone cannot read what the old one wrapped: a clear failure, never a fallback.
    const stranded = await allValid(apiKeys, { CONVERGENCE_MASTER_KEY: newKey });
    expect(stranded.every((s) => !s.endsWith(':VALID'))).toBe(true);

    const r = await rotate({ CONVERGENCE_MASTER_KEY: newKey, CONVERGENCE_PREVIOUS_MASTER_KEYS: oldKey });
    expect(r.code, r.out).toBe(0);
    expect(r.out).toMatch(/2 re-wrapped/);
    expect(await allValid(apiKeys, { CONVERGENCE_MASTER_KEY: newKey })).toEqual(['acme:200:VALID', 'beta:200:VALID']);
    expect(fs.existsSync(path.join(dir, 'master-keys.json'))).toBe(false);
  });

  it('refuses to run while the service holds the database, and explains', async () => {
    await seed();
    const rt = await open({});
    const keyFile = fs.readFileSync(path.join(dir, 'master-keys.json'), 'utf8');
    try {
      const r = await rotate();
      expect(r.code).not.toBe(0);
      expect(r.out).toMatch(/stop the service first|lock/i);
      expect(fs.readFileSync(path.join(dir, 'master-keys.json'), 'utf8')).toBe(keyFile);
    } finally {
      await rt.close();
    }
  });
});
