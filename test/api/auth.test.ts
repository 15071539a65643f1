import { afterEach, describe, expect, it } from 'vitest';
import { sha256Hex } from '../../src/crypto/api-keys.js';
import { expectProblem, ROOT_KEY, startRuntime, type TestRuntime } from '../helpers/runtime.js';

let rt: TestRuntime | undefined;
afterEach(async () => {
  await rt?.close();
  rt = undefined;
});

async function twoOrgs(env: Record<string, string> = {}): Promise<{ rt: TestRuntime; a: string; b: string }> {
  rt = await startRuntime(env);
  await rt.bootstrap();
  const a = (await rt.onboard('org_alpha')).api_key;
  const b = (await rt.onboard('org_beta')).api_key;
  return { rt, a, b };
}

describe('root key', () => {
  it.each([
    ['missing', {}, 'ROOT_KEY_REQUIRED'],
    ['empty', { 'x-ca-root-key': '' }, 'ROOT_KEY_REQUIRED'],
    ['wrong', { 'x-ca-root-key': 'not-the-root-key' }, 'INVALID_ROOT_KEY'],
    ['root key with a suffix', { 'x-ca-root-key': `${ROOT_KEY}x` }, 'INVALID_ROOT_KEY'],
    ['only in X-API-Key', { 'x-api-key': ROOT_KEY }, 'ROOT_KEY_REQUIRED'],
  ])('%s → 401', async (_label, headers, code) => {
    rt = await startRuntime();
    expectProblem(await rt.request({ method: 'POST', url: '/api/v1/admin/bootstrap', headers, body: {} }), 401, code);
  });

  it('an org key in the root-key header is refused', async () => {
    const { rt, a } = await twoOrgs();
    expectProblem(await rt.request({ method: 'POST', url: '/api/v1/organizations/dryrun', headers: { 'x-ca-root-key': a }, body: {} }), 401, 'INVALID_ROOT_KEY');
  });

  it('the root key in X-API-Key is refused on org routes', async () => {
    const { rt } = await twoOrgs();
    expectProblem(await rt.org(ROOT_KEY, 'GET', '/api/v1/organizations/org_alpha/quota'), 401, 'INVALID_API_KEY');
    expectProblem(await rt.request({ method: 'GET', url: '/api/v1/organizations/org_alpha/quota', headers: { 'x-ca-root-key': ROOT_KEY } }), 401, 'API_KEY_REQUIRED');
  });
});

describe('org keys', () => {
  it('before bootstrap, org routes answer that bootstrap is needed', async () => {
    rt = await startRuntime();
    expectProblem(await rt.org(`org_alpha_api_${'A'.repeat(32)}`, 'GET', '/api/v1/organizations/org_alpha'), 409, 'NOT_BOOTSTRAPPED');
    expectProblem(await rt.root('GET', '/api/v1/organizations/org_alpha'), 409, 'NOT_BOOTSTRAPPED');
  });

  it.each([
    ['garbage', 'hello'],
    ['right shape, unknown secret', `org_alpha_api_${'A'.repeat(32)}`],
    ['too short', `org_alpha_api_${'A'.repeat(31)}`],
    ['SQL', "org_alpha_api_' OR '1'='1"],
  ])('%s → 401', async (_label, key) => {
    const { rt } = await twoOrgs();
    expectProblem(await rt.org(key, 'GET', '/api/v1/organizations/org_alpha'), 401, 'INVALID_API_KEY');
  });

  it('a rotated key fails on the very next request; the new one works', async () => {
    const { rt, a } = await twoOrgs();
    expect((await rt.org(a, 'GET', '/api/v1/organizations/org_alpha')).statusCode).toBe(200); // cached now
    const rotated = await rt.org(a, 'POST', '/api/v1/organizations/org_alpha/api-keys/rotate');
    expect(rotated.statusCode, rotated.body).toBe(201);
    const fresh = rotated.json().api_key as string;
    expect(fresh).toMatch(/^org_alpha_api_[0-9A-Za-z]{32}$/);
    expect(fresh).not.toBe(a);
    expectProblem(await rt.org(a, 'GET', '/api/v1/organizations/org_alpha'), 401, 'INVALID_API_KEY');
    expect((await rt.org(fresh, 'GET', '/api/v1/organizations/org_alpha')).statusCode).toBe(200);
    const rows = await rt.warehouse.query(`SELECT is_active, revoked_reason FROM organizations.org_api_keys WHERE org_slug = 'org_alpha' ORDER BY created_at`);
    expect(rows).toEqual([{ is_active: false, revoked_reason: 'rotated' }, { is_active: true, revoked_reason: null }]);
  });

  it('a key of an organization that is not ACTIVE never authenticates, even if its own row says active', async () => {
    const { rt, a } = await twoOrgs();
    expect((await rt.org(a, 'GET', '/api/v1/organizations/org_alpha')).statusCode).toBe(200);
    // What a rotate racing an offboarding could leave behind: an active key row of a deleted org.
    await rt.root('DELETE', '/api/v1/organizations/org_alpha');
    await rt.warehouse.query(`UPDATE organizations.org_api_keys SET is_active = TRUE, revoked_at = NULL WHERE org_slug = 'org_alpha'`);
    expectProblem(await rt.org(a, 'GET', '/api/v1/organizations/org_alpha'), 401, 'INVALID_API_KEY');
  });

  it('offboarding and rotation racing each other never leave a working key', async () => {
    const { rt, a } = await twoOrgs();
    const [off, rot] = await Promise.all([rt.root('DELETE', '/api/v1/organizations/org_alpha'), rt.org(a, 'POST', '/api/v1/organizations/org_alpha/api-keys/rotate')]);
    expect(off.statusCode).toBe(200);
    const fresh = rot.statusCode === 201 ? String(rot.json().api_key) : a;
    expectProblem(await rt.org(fresh, 'GET', '/api/v1/organizations/org_alpha'), 401, 'INVALID_API_KEY');
  });

  it('forced re-bootstrap forgets cached keys at once', async () => {
    const { rt, a } = await twoOrgs();
    expect((await rt.org(a, 'GET', '/api/v1/organizations/org_alpha')).statusCode).toBe(200); // cached
    await rt.root('POST', '/api/v1/admin/bootstrap', { force_recreate_tables: true });
    await rt.onboard('org_alpha'); // a new tenant takes the slug
    expectProblem(await rt.org(a, 'GET', '/api/v1/organizations/org_alpha/quota'), 401, 'INVALID_API_KEY');
  });

  it('rotation takes no body fields', async () => {
    const { rt, a } = await twoOrgs();
    expectProblem(await rt.org(a, 'POST', '/api/v1/organizations/org_alpha/api-keys/rotate', { a: 1 }), 400, 'VALIDATION_FAILED');
    expect((await rt.org(a, 'GET', '/api/v1/organizations/org_alpha')).statusCode).toBe(200);
  });

  it('root can rotate any org key', async () => {
    const { rt, b } = await twoOrgs();
    const res = await rt.root('POST', '/api/v1/organizations/org_beta/api-keys/rotate');
    expect(res.statusCode, res.body).toBe(201);
    expectProblem(await rt.org(b, 'GET', '/api/v1/organizations/org_beta'), 401, 'INVALID_API_KEY');
  });

  it('revocation by hash takes effect on the next request', async () => {
    const { rt, a, b } = await twoOrgs();
    expect((await rt.org(a, 'GET', '/api/v1/organizations/org_alpha')).statusCode).toBe(200);
    const res = await rt.root('DELETE', `/api/v1/admin/api-keys/${sha256Hex(a)}`);
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json()).toMatchObject({ org_slug: 'org_alpha', fingerprint: a.slice(-4) });
    expectProblem(await rt.org(a, 'GET', '/api/v1/organizations/org_alpha'), 401, 'INVALID_API_KEY');
    expect((await rt.org(b, 'GET', '/api/v1/organizations/org_beta')).statusCode).toBe(200);
    expectProblem(await rt.root('DELETE', `/api/v1/admin/api-keys/${sha256Hex(a)}`), 409, 'API_KEY_REVOKED');
    expectProblem(await rt.root('DELETE', `/api/v1/admin/api-keys/${sha256Hex('nope')}`), 404, 'API_KEY_NOT_FOUND');
    expectProblem(await rt.root('DELETE', `/api/v1/admin/api-keys/${a}`), 400, 'INVALID_API_KEY_HASH');
    expectProblem(await rt.org(b, 'DELETE', `/api/v1/admin/api-keys/${sha256Hex(b)}`), 401, 'ROOT_KEY_REQUIRED');
  });
});

describe('tenant walls', () => {
  it('every org-scoped route answers another org exactly like a missing org', async () => {
    const { rt, a, b } = await twoOrgs({ ENABLE_API_DOCS: 'true' });
    // The route list comes from the OpenAPI document, so routes added later join the matrix.
    const doc = (await rt.request({ method: 'GET', url: '/docs/json' })).json<{ paths: Record<string, Record<string, { security?: Record<string, unknown>[] }>> }>();
    const scoped = Object.entries(doc.paths).filter(([p]) => p.includes('{org}'));
    expect(scoped.length).toBeGreaterThanOrEqual(4);
    let checked = 0;
    for (const [template, methods] of scoped) {
      for (const [method, op] of Object.entries(methods)) {
        const orgAuth = op.security?.some((s) => 'apiKey' in s) ?? false;
        const foreign = await rt.org(a, method.toUpperCase(), template.replace('{org}', 'org_beta'), method === 'get' || method === 'delete' ? undefined : {});
        const missing = await rt.org(a, method.toUpperCase(), template.replace('{org}', 'no_such_org'), method === 'get' || method === 'delete' ? undefined : {});
        if (orgAuth) {
          const f = expectProblem(foreign, 404, 'ORG_NOT_FOUND');
          const m = expectProblem(missing, 404, 'ORG_NOT_FOUND');
          const strip = (x: Record<string, unknown>): unknown => ({ ...x, request_id: undefined, detail: String(x.detail).replace(/"[^"]+"/, '"…"') });
          expect(strip(f)).toEqual(strip(m));
        } else {
          expectProblem(foreign, 401, 'ROOT_KEY_REQUIRED');
        }
        checked++;
      }
    }
    expect(checked).toBeGreaterThanOrEqual(6);
    // Nothing of org_beta changed: its key still works, and org_alpha's attempts rotated nothing.
    expect((await rt.org(b, 'GET', '/api/v1/organizations/org_beta')).json()).toMatchObject({ status: 'ACTIVE', subscription: { plan_name: 'STARTER' } });
    const betaKeys = await rt.warehouse.query(`SELECT count(*) AS n FROM organizations.org_api_keys WHERE org_slug = 'org_beta'`);
    expect(betaKeys).toEqual([{ n: 1 }]);
  });
});

describe('audit', () => {
  it('records X-User-ID and the actor of every state-changing call, never a key', async () => {
    const { rt, a } = await twoOrgs();
    const rotate = await rt.request({ method: 'POST', url: '/api/v1/organizations/org_alpha/api-keys/rotate', headers: { 'x-api-key': a, 'x-user-id': 'alice@alpha' } });
    expect(rotate.statusCode).toBe(201);
    await rt.request({ method: 'PUT', url: '/api/v1/organizations/org_alpha/subscription', headers: { 'x-ca-root-key': ROOT_KEY, 'x-user-id': 'ops-bob' }, body: { plan: 'PLATINUM' } });
    const rows = await rt.warehouse.query<Record<string, unknown>>(
      `SELECT actor, user_id, action, status, status_code, request_id FROM organizations.org_audit_logs WHERE org_slug = 'org_alpha' ORDER BY created_at`,
    );
    expect(rows).toEqual([
      expect.objectContaining({ action: 'organization.onboard', actor: 'root', status: 'SUCCESS', status_code: 201 }),
      expect.objectContaining({ action: 'api_key.rotate', actor: expect.stringMatching(/^org_key:/), user_id: 'alice@alpha', status: 'SUCCESS', request_id: rotate.headers['x-request-id'] }),
      expect.objectContaining({ action: 'subscription.update', actor: 'root', user_id: 'ops-bob', status: 'FAILURE', status_code: 400 }),
    ]);
    const all = JSON.stringify(await rt.warehouse.query(`SELECT * FROM organizations.org_audit_logs`));
    expect(all).not.toContain(a);
    expect(all).not.toContain(rotate.json().api_key);
    expect(all).not.toContain(ROOT_KEY);
  });

  it('records an org key\'s attempt on another org under the caller\'s own org', async () => {
    const { rt, a } = await twoOrgs();
    await rt.request({ method: 'POST', url: '/api/v1/organizations/org_beta/api-keys/rotate', headers: { 'x-api-key': a, 'x-user-id': 'mallory' } });
    const rows = await rt.warehouse.query(`SELECT org_slug, status_code FROM organizations.org_audit_logs WHERE user_id = 'mallory'`);
    expect(rows).toEqual([{ org_slug: 'org_alpha', status_code: 404 }]);
  });

  it('refuses an unusable X-User-ID', async () => {
    const { rt, a } = await twoOrgs();
    const res = await rt.request({ method: 'GET', url: '/api/v1/organizations/org_alpha', headers: { 'x-api-key': a, 'x-user-id': 'x'.repeat(256) } });
    expectProblem(res, 400, 'VALIDATION_FAILED');
  });
});

describe('rate limits', () => {
  it('limits requests per key with 429 and Retry-After', async () => {
    const { rt, a, b } = await twoOrgs({ RATE_LIMIT_PER_KEY: '3' });
    for (let i = 0; i < 3; i++) expect((await rt.org(a, 'GET', '/api/v1/organizations/org_alpha')).statusCode).toBe(200);
    const limited = await rt.org(a, 'GET', '/api/v1/organizations/org_alpha');
    expectProblem(limited, 429, 'RATE_LIMITED');
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
    // Another key is not affected.
    expect((await rt.org(b, 'GET', '/api/v1/organizations/org_beta')).statusCode).toBe(200);
  });

  it('limits requests per client address whatever key is presented', async () => {
    rt = await startRuntime({ RATE_LIMIT_PER_ADDRESS: '6' });
    await rt.bootstrap();
    const codes: number[] = [];
    for (let i = 0; i < 6; i++) codes.push((await rt.org(`org_x_api_${String(i).padStart(32, 'A')}`, 'GET', '/api/v1/organizations/org_x')).statusCode);
    expect(codes).toEqual([401, 401, 401, 401, 401, 429]);
    expect((await rt.request({ method: 'GET', url: '/health' })).statusCode).toBe(200); // health is exempt
  });
});
