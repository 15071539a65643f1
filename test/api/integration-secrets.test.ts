import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import type { LightMyRequestResponse } from 'fastify';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createLogger, createRuntime, type Runtime } from '../../src/compose.js';
import { loadConfig } from '../../src/config/config.js';
import { presentedKey, startCannedServer, type CannedServer } from '../helpers/canned-server.js';
import { exportRow, serviceAccount } from '../helpers/gcp.js';
import { startAnthropicServer, type AnthropicServer } from '../helpers/providers/anthropic-server.js';
import { balanceInfo, startDeepSeekServer, type DeepSeekServer } from '../helpers/providers/deepseek-server.js';
import { startOpenAiServer, type OpenAiServer } from '../helpers/providers/openai-server.js';
import { expectProblem, ROOT_KEY } from '../helpers/runtime.js';
import { byteNeedles, findBytes, findLeaks, pemBodyLines, randomBase62, type SecretSpec } from '../helpers/secret-scan.js';

/**
 * Provider credentials never leave in the clear (DESIGN §8): not in any API answer, not in the
 * DuckDB file or its WAL, not in the logs (even at trace level, even when the provider echoes the
 * key back), and a tampered or foreign envelope never decrypts — in particular never to another
 * org's key. Each test runs its own runtime on a fresh data dir, restarted on the same dir where
 * the test is about restarts.
 */

const OPENAI_ACME = `sk-admin-${randomBase62(48)}`;
const OPENAI_BETA = `sk-admin-${randomBase62(48)}`;
const ANTHROPIC_KEY = `sk-ant-admin01-${randomBase62(48)}`;
const DEEPSEEK_KEY = `sk-${randomBase62(32)}`;
const GCP_PEM = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
const GCP_SA = serviceAccount({ private_key: GCP_PEM, private_key_id: 'f00dfeed00112233445566778899aabbccddeeff' });

const SECRETS: readonly SecretSpec[] = [
  { label: 'openai (acme)', parts: [OPENAI_ACME], publicPrefix: 'sk-admin-' },
  { label: 'openai (beta)', parts: [OPENAI_BETA], publicPrefix: 'sk-admin-' },
  { label: 'anthropic', parts: [ANTHROPIC_KEY], publicPrefix: 'sk-ant-admin01-' },
  { label: 'deepseek', parts: [DEEPSEEK_KEY], publicPrefix: 'sk-' },
  { label: 'gcp private key', parts: pemBodyLines(GCP_PEM) },
];
/** The raw forms the secrets could take on disk (UTF-8, base64 at each alignment, the DER of the key). */
const NEEDLES = [
  ...SECRETS.flatMap(byteNeedles),
  ...byteNeedles({ label: 'gcp key json', parts: [JSON.stringify(GCP_SA)] }),
  { label: 'gcp key DER', bytes: Buffer.from(pemBodyLines(GCP_PEM).join(''), 'base64').subarray(200, 248) },
];

let openai: OpenAiServer;
let anthropic: AnthropicServer;
let deepseek: DeepSeekServer;
const canned: CannedServer[] = [];

beforeAll(async () => {
  openai = await startOpenAiServer({ adminKeys: [OPENAI_ACME, OPENAI_BETA] });
  anthropic = await startAnthropicServer({ adminKeys: [ANTHROPIC_KEY] });
  deepseek = await startDeepSeekServer({ keys: [DEEPSEEK_KEY], balances: [balanceInfo('USD', '0', '42')] });
});
afterAll(async () => {
  await Promise.all([openai.close(), anthropic.close(), deepseek.close()]);
});

// ---- a runtime whose logs are captured and whose data dir outlives it (for restarts) ----------

interface Booted {
  readonly dir: string;
  readonly runtime: Runtime;
  /** Every log line written so far, as text. */
  readonly lines: string[];
  /** Every response body and header block received so far. */
  readonly seen: string[];
  org(key: string, method: string, url: string, body?: unknown): Promise<LightMyRequestResponse>;
  root(method: string, url: string, body?: unknown): Promise<LightMyRequestResponse>;
  close(): Promise<void>;
}

const running: Booted[] = [];
const dirs: string[] = [];

function freshDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'convergence-secrets-'));
  dirs.push(dir);
  fs.mkdirSync(path.join(dir, 'import', 'gcp'), { recursive: true });
  fs.writeFileSync(path.join(dir, 'import', 'gcp', 'export-1.ndjson'), `${JSON.stringify(exportRow())}\n`);
  return dir;
}

async function boot(dir: string, env: Record<string, string> = {}): Promise<Booted> {
  const lines: string[] = [];
  const seen: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(...chunk.toString().split('\n').filter((l) => l !== ''));
      done();
    },
  });
  const config = loadConfig(
    {
      CONVERGENCE_DATA_DIR: dir,
      LOG_LEVEL: 'trace',
      CA_ROOT_API_KEY: ROOT_KEY,
      SHUTDOWN_GRACE_MS: '0',
      IMPORT_DIR: path.join(dir, 'import'),
      OPENAI_BASE_URL: openai.url,
      ANTHROPIC_BASE_URL: anthropic.url,
      DEEPSEEK_BASE_URL: deepseek.url,
      ...env,
    },
    dir,
  );
  const runtime = await createRuntime(config, ROOT_KEY, createLogger(config, sink));
  const inject = async (headers: Record<string, string>, method: string, url: string, body?: unknown): Promise<LightMyRequestResponse> => {
    const res = await runtime.app.inject({
      method: method as 'GET',
      url,
      headers: { ...headers, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { payload: JSON.stringify(body) }),
    });
    seen.push(`${method} ${url} → ${res.statusCode} ${JSON.stringify(res.headers)}\n${res.body}`);
    return res;
  };
  let closed = false;
  const b: Booted = {
    dir,
    runtime,
    lines,
    seen,
    org: (key, method, url, body) => inject({ 'x-api-key': key }, method, url, body),
    root: (method, url, body) => inject({ 'x-ca-root-key': ROOT_KEY }, method, url, body),
    async close() {
      if (closed) return;
      closed = true;
      await runtime.close();
    },
  };
  running.push(b);
  return b;
}

async function onboard(b: Booted, slug: string): Promise<string> {
  const res = await b.root('POST', '/api/v1/organizations/onboard', { org_slug: slug, company_name: `${slug} Inc`, admin_email: `admin@${slug}.example.com` });
  expect(res.statusCode, res.body).toBe(201);
  return res.json<{ api_key: string }>().api_key;
}

async function bootWithOrgs(dir = freshDir(), env: Record<string, string> = {}): Promise<{ b: Booted; acme: string; beta: string }> {
  const b = await boot(dir, env);
  expect((await b.root('POST', '/api/v1/admin/bootstrap', {})).statusCode).toBe(200);
  return { b, acme: await onboard(b, 'acme'), beta: await onboard(b, 'beta') };
}

const CANARY = `canary-name-${randomBase62(12)}`;

/** Sets up all four providers for acme (and openai for beta), each answer checked. */
async function setupAll(b: Booted, acme: string, beta: string): Promise<void> {
  const cases: [string, string, Record<string, unknown>][] = [
    [acme, 'openai', { credential: OPENAI_ACME, credential_name: CANARY }],
    [acme, 'anthropic', { credential: ANTHROPIC_KEY }],
    [acme, 'deepseek', { credential: DEEPSEEK_KEY }],
    [acme, 'gcp', { credential: GCP_SA, config: { billing_export_path: 'gcp/*.ndjson' } }],
    [beta, 'openai', { credential: OPENAI_BETA }],
  ];
  for (const [key, provider, body] of cases) {
    const org = key === acme ? 'acme' : 'beta';
    const res = await b.org(key, 'POST', `/api/v1/integrations/${org}/${provider}/setup`, body);
    expect(res.statusCode, res.body).toBe(201);
    expect(res.json()).toMatchObject({ validation_status: 'VALID' });
  }
}

/** Every file under `dir` (recursively), read now. */
function readAll(dir: string): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  for (const e of fs.readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (!e.isFile()) continue;
    const p = path.join(e.parentPath, e.name);
    out.set(path.relative(dir, p), fs.readFileSync(p));
  }
  return out;
}

const rowOf = async (b: Booted, org: string, provider: string): Promise<{ credential_id: string; encrypted_credential: string; key_version: string; validation_status: string }> => {
  const rows = await b.runtime.warehouse.query<{ credential_id: string; encrypted_credential: string; key_version: string; validation_status: string }>(
    `SELECT credential_id, encrypted_credential, key_version, validation_status FROM organizations.org_integration_credentials WHERE org_slug = $1 AND provider = $2`,
    [org, provider],
  );
  expect(rows).toHaveLength(1);
  return rows[0] as (typeof rows)[number];
};
const setEnvelope = async (b: Booted, credentialId: string, envelope: string): Promise<void> => {
  await b.runtime.warehouse.query(`UPDATE organizations.org_integration_credentials SET encrypted_credential = $1 WHERE credential_id = $2`, [envelope, credentialId]);
};

/** A refused decryption: an error answer (5xx without internals, or a clear 4xx), never a validation. */
function expectCleanFailure(res: LightMyRequestResponse): void {
  expect(res.statusCode, res.body).toBeGreaterThanOrEqual(400);
  expect(res.statusCode).not.toBe(404);
  expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
  const body = res.json<Record<string, unknown>>();
  expect(body).toMatchObject({ status: res.statusCode, code: expect.any(String), request_id: res.headers['x-request-id'] });
  expect(body.validation_status).toBeUndefined();
  if (res.statusCode >= 500) {
    expect(res.body).not.toMatch(/envelope|cipher|decrypt|unwrap|aes|gcm|\bkek\b|stack|\.ts:\d|node:internal|DecryptionError|KeyringError/i);
  }
  expect(findLeaks(res.body, SECRETS)).toEqual([]);
}

beforeEach(() => {
  for (const f of [openai, anthropic, deepseek]) {
    f.clearFaults();
    f.requests.splice(0);
  }
});
afterEach(async () => {
  await Promise.all(running.splice(0).map((b) => b.close()));
  await Promise.all(canned.splice(0).map((s) => s.close()));
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

// ---------------------------------------------------------------------------------------------

describe('API answers', () => {
  it('no answer of any integrations route holds a secret or a 6-character fragment of one', async () => {
    const { b, acme, beta } = await bootWithOrgs();
    await setupAll(b, acme, beta);
    const base = '/api/v1/integrations/acme';
    expect((await b.org(acme, 'GET', base)).statusCode).toBe(200);
    for (const p of ['openai', 'anthropic', 'deepseek', 'gcp']) {
      expect((await b.org(acme, 'GET', `${base}/${p}`)).statusCode).toBe(200);
      const v = await b.org(acme, 'POST', `${base}/${p}/validate`);
      expect(v.statusCode, v.body).toBe(200);
      expect(v.json()).toMatchObject({ validation_status: 'VALID' });
    }
    for (const p of ['openai', 'anthropic', 'deepseek']) expect((await b.org(acme, 'GET', `${base}/${p}/pricing`)).statusCode).toBe(200);
    expect((await b.org(acme, 'PUT', `${base}/openai/pricing`, { prices: [{ model: 'gpt-4o', input: '1', output: '2' }] })).statusCode).toBe(200);
    expect((await b.org(beta, 'GET', '/api/v1/integrations/beta')).statusCode).toBe(200);
    // Failure answers too: a rejected key, an unreachable provider, an INVALID re-validation.
    expectProblem(await b.org(acme, 'POST', `${base}/openai/setup`, { credential: OPENAI_BETA.replace(/.$/, (c) => (c === 'x' ? 'y' : 'x')) }), 422, 'INVALID_CREDENTIAL');
    deepseek.failNext({ kind: 'malformed-json' });
    expectProblem(await b.org(acme, 'POST', `${base}/deepseek/validate`), 503, 'PROVIDER_UNAVAILABLE');
    anthropic.failNext({ status: 401 });
    const invalid = await b.org(acme, 'POST', `${base}/anthropic/validate`);
    expect(invalid.json()).toMatchObject({ validation_status: 'INVALID' });
    // A gcp key sent as JSON text with a broken private key is refused without quoting it.
    const broken = JSON.stringify({ ...GCP_SA, private_key: GCP_PEM.replace(/\n[A-Za-z0-9+/]{10}/, '\n!!!!!!!!!!') });
    expectProblem(await b.org(acme, 'POST', `${base}/gcp/setup`, { credential: broken, config: { billing_export_path: 'gcp/*.ndjson' } }), 422, 'INVALID_CREDENTIAL');

    expect(b.seen.length).toBeGreaterThan(20);
    const all = b.seen.join('\n');
    expect(findLeaks(all, SECRETS)).toEqual([]);
    // The positive control: the scan does find what is in the answers.
    expect(findLeaks(all, [{ label: 'canary', parts: [CANARY] }])).not.toEqual([]);
    expect(all).not.toMatch(/PRIVATE KEY|"private_key"|encrypted_credential|"credential"/);
  });
});

describe('at rest', () => {
  it('neither the DuckDB file nor its WAL (nor any other file in the data dir) holds a secret, open or closed', async () => {
    const { b, acme, beta } = await bootWithOrgs();
    await setupAll(b, acme, beta);
    expect((await b.org(acme, 'POST', '/api/v1/integrations/acme/openai/validate')).statusCode).toBe(200);

    const open = readAll(b.dir);
    await b.close();
    const closed = readAll(b.dir);
    expect([...open.keys()]).toEqual(expect.arrayContaining(['convergence.duckdb', 'convergence.duckdb.wal', 'master-keys.json']));
    expect([...closed.keys()]).toContain('convergence.duckdb');

    const hits: string[] = [];
    for (const [when, files] of [['open', open], ['closed', closed]] as const) {
      for (const [name, bytes] of files) for (const label of findBytes(bytes, NEEDLES)) hits.push(`${when} ${name}: ${label}`);
    }
    expect(hits).toEqual([]);
    // The positive control: a non-secret value written in the same row is found in the raw bytes,
    // so the scan would have seen the secrets had they been stored in the clear.
    const canary = Buffer.from(CANARY);
    expect(open.get('convergence.duckdb.wal')?.includes(canary) === true || open.get('convergence.duckdb')?.includes(canary) === true).toBe(true);
    expect(closed.get('convergence.duckdb')?.includes(canary) === true || closed.get('convergence.duckdb.wal')?.includes(canary) === true).toBe(true);
  });

  it('the stored column is a versioned AES-256-GCM envelope bound to the key version', async () => {
    const { b, acme, beta } = await bootWithOrgs();
    await setupAll(b, acme, beta);
    const rows = await b.runtime.warehouse.query<{ provider: string; encrypted_credential: string; key_version: string; fingerprint: string }>(
      `SELECT provider, encrypted_credential, key_version, fingerprint FROM organizations.org_integration_credentials ORDER BY org_slug, provider`,
    );
    expect(rows).toHaveLength(5);
    const keyFile = JSON.parse(fs.readFileSync(path.join(b.dir, 'master-keys.json'), 'utf8')) as { current: string };
    const seenCt = new Set<string>();
    for (const r of rows) {
      const env = JSON.parse(r.encrypted_credential) as Record<string, unknown>;
      expect(Object.keys(env).sort()).toEqual(['alg', 'ct', 'iv', 'kv', 'tag', 'v', 'wk']);
      expect(env).toMatchObject({ v: 1, alg: 'A256GCM', kv: r.key_version });
      expect(r.key_version).toBe(keyFile.current);
      expect(Buffer.from(String(env.iv), 'base64')).toHaveLength(12);
      expect(Buffer.from(String(env.tag), 'base64')).toHaveLength(16);
      seenCt.add(String(env.ct));
      expect(findLeaks(`${r.encrypted_credential} ${r.fingerprint}`, SECRETS)).toEqual([]);
    }
    expect(seenCt.size).toBe(5);
  });
});

describe('logs', () => {
  it('at trace level, the whole integrations flow logs no secret', async () => {
    const { b, acme, beta } = await bootWithOrgs();
    await setupAll(b, acme, beta);
    for (const p of ['openai', 'anthropic', 'deepseek', 'gcp']) expect((await b.org(acme, 'POST', `/api/v1/integrations/acme/${p}/validate`)).statusCode).toBe(200);
    openai.failNext({ status: 401 });
    expect((await b.org(acme, 'POST', '/api/v1/integrations/acme/openai/validate')).json()).toMatchObject({ validation_status: 'INVALID' });
    deepseek.failNext({ kind: 'html' });
    expect((await b.org(acme, 'POST', '/api/v1/integrations/acme/deepseek/validate')).statusCode).toBe(503);
    expect((await b.org(acme, 'POST', '/api/v1/integrations/acme/deepseek/setup', { credential: `sk-${randomBase62(32)}` })).statusCode).toBe(422);
    expect((await b.org(acme, 'DELETE', '/api/v1/integrations/acme/anthropic')).statusCode).toBe(200);
    await b.close();

    expect(b.lines.length).toBeGreaterThan(30);
    expect(b.lines.some((l) => l.includes('integration stored'))).toBe(true);
    expect(findLeaks(b.lines.join('\n'), SECRETS)).toEqual([]);
  });

  it('a provider that echoes the key in its 401 message: the 422, the stored last_error and the logs never carry it', async () => {
    const echo = await startCannedServer((req) => ({ status: 401, body: { error: { message: `Incorrect API key provided: ${presentedKey(req)}`, type: 'invalid_request_error', code: 'invalid_api_key' } } }));
    canned.push(echo);
    const { b, acme } = await bootWithOrgs(freshDir(), { OPENAI_BASE_URL: echo.url, ANTHROPIC_BASE_URL: echo.url, DEEPSEEK_BASE_URL: echo.url });
    const keys = { openai: OPENAI_ACME, anthropic: ANTHROPIC_KEY, deepseek: DEEPSEEK_KEY } as const;
    for (const [provider, key] of Object.entries(keys)) {
      const res = await b.org(acme, 'POST', `/api/v1/integrations/acme/${provider}/setup`, { credential: key });
      const body = expectProblem(res, 422, 'INVALID_CREDENTIAL');
      expect(findLeaks(String(body.detail), SECRETS)).toEqual([]);
      // Stored unverified, then re-validated: the rejection is recorded in last_error.
      expect((await b.org(acme, 'POST', `/api/v1/integrations/acme/${provider}/setup`, { credential: key, skip_validation: true })).statusCode).toBe(201);
      const v = await b.org(acme, 'POST', `/api/v1/integrations/acme/${provider}/validate`);
      expect(v.statusCode, v.body).toBe(200);
      expect(v.json()).toMatchObject({ validation_status: 'INVALID', last_error: expect.any(String) });
    }
    // The server did receive the keys, and echoed them.
    expect(echo.requests.map(presentedKey)).toEqual(expect.arrayContaining(Object.values(keys)));
    const stored = await b.runtime.warehouse.query<{ last_error: string }>(`SELECT last_error FROM organizations.org_integration_credentials`);
    expect(stored).toHaveLength(3);
    expect(findLeaks(JSON.stringify(stored), SECRETS)).toEqual([]);
    expect(findLeaks(b.seen.join('\n'), SECRETS)).toEqual([]);
    await b.close();
    expect(findLeaks(b.lines.join('\n'), SECRETS)).toEqual([]);
  });

  // Providers echo masked keys; scrub() in provider-http.ts removes the exact key and tokens that
  // start with sk-/key-/pk-/rk-. A quoted fragment of a key without such a prefix (a proxy's key),
  // or of the key's body without its prefix, passes through into the 422 detail and last_error.
  it.each([
    ['the first 20 characters of a key without a well-known prefix', `proxy-live-${randomBase62(40)}`, (k: string) => `${k.slice(0, 20)}...`],
    ['the key without its sk-admin- prefix', `sk-admin-${randomBase62(40)}`, (k: string) => `...${k.slice(9)}`],
  ])('a provider that quotes %s: no 6-character fragment reaches the answer or the logs', async (_label, key, quote) => {
    const echo = await startCannedServer((req) => ({ status: 401, body: { error: { message: `Invalid API key: ${quote(presentedKey(req))}` } } }));
    canned.push(echo);
    const { b, acme } = await bootWithOrgs(freshDir(), { OPENAI_BASE_URL: echo.url });
    const spec: SecretSpec = { label: 'quoted key', parts: [key], publicPrefix: key.startsWith('sk-admin-') ? 'sk-admin-' : 'proxy-live-' };
    const res = await b.org(acme, 'POST', '/api/v1/integrations/acme/openai/setup', { credential: key });
    expectProblem(res, 422, 'INVALID_CREDENTIAL');
    expect(echo.requests.map(presentedKey)).toEqual([key]);
    expect(findLeaks(res.body, [spec])).toEqual([]);
    await b.close();
    expect(findLeaks(b.lines.join('\n'), [spec])).toEqual([]);
  });
});

describe('tampering', () => {
  it("swapped envelopes between two orgs' rows never decrypt, and the other org's key is never sent", async () => {
    const { b, acme, beta } = await bootWithOrgs();
    await setupAll(b, acme, beta);
    const a = await rowOf(b, 'acme', 'openai');
    const z = await rowOf(b, 'beta', 'openai');
    await setEnvelope(b, a.credential_id, z.encrypted_credential);
    await setEnvelope(b, z.credential_id, a.encrypted_credential);
    const before = (await b.org(acme, 'GET', '/api/v1/integrations/acme/openai')).json<unknown>();
    openai.requests.splice(0);

    expectCleanFailure(await b.org(acme, 'POST', '/api/v1/integrations/acme/openai/validate'));
    expectCleanFailure(await b.org(beta, 'POST', '/api/v1/integrations/beta/openai/validate'));
    expect(openai.requests.map((r) => r.headers.authorization)).toEqual([]);
    // The stored view is not touched by the failed attempt.
    expect((await b.org(acme, 'GET', '/api/v1/integrations/acme/openai')).json()).toEqual(before);
    // The operator gets the reason in the log.
    expect(b.lines.some((l) => /DecryptionError|could not be unwrapped|failed authentication/.test(l))).toBe(true);
  });

  it("moving a whole row (envelope and credential_id) to another org still does not decrypt", async () => {
    const { b, acme, beta } = await bootWithOrgs();
    await setupAll(b, acme, beta);
    const a = await rowOf(b, 'acme', 'openai');
    const z = await rowOf(b, 'beta', 'openai');
    await b.runtime.warehouse.query(`DELETE FROM organizations.org_integration_credentials WHERE credential_id = $1`, [a.credential_id]);
    await b.runtime.warehouse.query(`UPDATE organizations.org_integration_credentials SET org_slug = 'acme' WHERE credential_id = $1`, [z.credential_id]);
    openai.requests.splice(0);
    expectCleanFailure(await b.org(acme, 'POST', '/api/v1/integrations/acme/openai/validate'));
    expect(openai.requests).toHaveLength(0);
  });

  it.each([
    ['one character of ct flipped', (e: Record<string, string>) => ({ ...e, ct: flipChar(e.ct ?? '') })],
    ['one character of tag flipped', (e: Record<string, string>) => ({ ...e, tag: flipChar(e.tag ?? '') })],
    ['one character of wk flipped', (e: Record<string, string>) => ({ ...e, wk: flipChar(e.wk ?? '') })],
    ['another iv', (e: Record<string, string>) => ({ ...e, iv: crypto.randomBytes(12).toString('base64') })],
    ['an unknown key version', (e: Record<string, string>) => ({ ...e, kv: 'local:000000000000' })],
    ['version 2', (e: Record<string, string>) => ({ ...e, v: 2 })],
    ['not JSON', () => 'not an envelope'],
  ])('an envelope with %s fails cleanly and sends nothing', async (_label, tamper) => {
    const { b, acme, beta } = await bootWithOrgs();
    await setupAll(b, acme, beta);
    const a = await rowOf(b, 'acme', 'openai');
    const changed = tamper(JSON.parse(a.encrypted_credential) as Record<string, string>);
    await setEnvelope(b, a.credential_id, typeof changed === 'string' ? changed : JSON.stringify(changed));
    openai.requests.splice(0);
    expectCleanFailure(await b.org(acme, 'POST', '/api/v1/integrations/acme/openai/validate'));
    expect(openai.requests).toHaveLength(0);
    expect((await rowOf(b, 'acme', 'openai')).validation_status).toBe('VALID');
    // Other credentials are unaffected.
    expect((await b.org(beta, 'POST', '/api/v1/integrations/beta/openai/validate')).json()).toMatchObject({ validation_status: 'VALID' });
    expect(openai.requests.map((r) => r.headers.authorization)).toEqual([`Bearer ${OPENAI_BETA}`]);
  });

  it('an older envelope of the same org and provider (replaced by a new setup) cannot be replayed', async () => {
    const { b, acme, beta } = await bootWithOrgs();
    await setupAll(b, acme, beta);
    const old = await rowOf(b, 'acme', 'openai');
    expect((await b.org(acme, 'POST', '/api/v1/integrations/acme/openai/setup', { credential: OPENAI_BETA })).statusCode).toBe(201);
    const current = await rowOf(b, 'acme', 'openai');
    expect(current.credential_id).not.toBe(old.credential_id);
    await setEnvelope(b, current.credential_id, old.encrypted_credential);
    openai.requests.splice(0);
    expectCleanFailure(await b.org(acme, 'POST', '/api/v1/integrations/acme/openai/validate'));
    expect(openai.requests).toHaveLength(0);
  });
});

describe('master key', () => {
  it('the key file is created with mode 0600 and a restart on the same data dir still decrypts', async () => {
    const dir = freshDir();
    const first = await bootWithOrgs(dir);
    const file = path.join(dir, 'master-keys.json');
    expect(fs.existsSync(file)).toBe(true);
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    await setupAll(first.b, first.acme, first.beta);
    await first.b.close();

    const again = await boot(dir);
    openai.requests.splice(0);
    for (const p of ['openai', 'anthropic', 'deepseek', 'gcp']) {
      const res = await again.org(first.acme, 'POST', `/api/v1/integrations/acme/${p}/validate`);
      expect(res.statusCode, res.body).toBe(200);
      expect(res.json()).toMatchObject({ validation_status: 'VALID', last_error: null });
    }
    expect(openai.requests.map((r) => r.headers.authorization)).toEqual([`Bearer ${OPENAI_ACME}`]);
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
  });

  it('a restart with a different CONVERGENCE_MASTER_KEY cannot decrypt: a clear failure, no plaintext fallback, nothing destroyed', async () => {
    const dir = freshDir();
    const first = await bootWithOrgs(dir);
    await setupAll(first.b, first.acme, first.beta);
    const before = (await first.b.org(first.acme, 'GET', '/api/v1/integrations/acme')).json<unknown>();
    await first.b.close();

    const other = await boot(dir, { CONVERGENCE_MASTER_KEY: crypto.randomBytes(32).toString('base64') });
    openai.requests.splice(0);
    expectCleanFailure(await other.org(first.acme, 'POST', '/api/v1/integrations/acme/openai/validate'));
    expectCleanFailure(await other.org(first.acme, 'POST', '/api/v1/integrations/acme/gcp/validate'));
    expect(openai.requests).toHaveLength(0);
    expect(other.lines.some((l) => /DecryptionError|could not be unwrapped|unknown or retired/.test(l))).toBe(true);
    // Statuses are readable without the key, and unchanged by the failed attempts.
    expect((await other.org(first.acme, 'GET', '/api/v1/integrations/acme')).json()).toEqual(before);
    await other.close();

    // With the right key back, everything decrypts again.
    const back = await boot(dir);
    const res = await back.org(first.acme, 'POST', '/api/v1/integrations/acme/openai/validate');
    expect(res.statusCode, res.body).toBe(200);
    expect(openai.requests.map((r) => r.headers.authorization)).toEqual([`Bearer ${OPENAI_ACME}`]);
  });

  it('with CONVERGENCE_MASTER_KEY set, no key file is written, and the same key decrypts after a restart', async () => {
    const dir = freshDir();
    const masterKey = crypto.randomBytes(32).toString('base64');
    const first = await bootWithOrgs(dir, { CONVERGENCE_MASTER_KEY: masterKey });
    await setupAll(first.b, first.acme, first.beta);
    expect(fs.existsSync(path.join(dir, 'master-keys.json'))).toBe(false);
    await first.b.close();

    const again = await boot(dir, { CONVERGENCE_MASTER_KEY: masterKey });
    expect((await again.org(first.acme, 'POST', '/api/v1/integrations/acme/deepseek/validate')).json()).toMatchObject({ validation_status: 'VALID' });
    await again.close();

    // Without it, the runtime falls back to a (new) key file, which cannot open these envelopes.
    const without = await boot(dir);
    deepseek.requests.splice(0);
    expectCleanFailure(await without.org(first.acme, 'POST', '/api/v1/integrations/acme/deepseek/validate'));
    expect(deepseek.requests).toHaveLength(0);
  });
});

/** Changes one base64 character in the middle (keeping the text canonical base64). */
function flipChar(b64: string): string {
  const i = Math.floor(b64.replace(/=+$/, '').length / 2);
  const c = b64[i] === 'A' ? 'B' : 'A';
  return `${b64.slice(0, i)}${c}${b64.slice(i + 1)}`;
}
