import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isOrgSlug, type OrgSlug } from '../core/org-slug.js';
import { API_KEY_HASH_PATTERN, API_KEY_SECRET_LENGTH, fingerprintOf, generateApiKey, matchesDigest, orgOfApiKey, sha256, sha256Hex } from './api-keys.js';

const slug = (s: string): OrgSlug => {
  if (!isOrgSlug(s)) throw new Error(`test fixture is not a valid slug: ${s}`);
  return s;
};
const SECRET = 'Ab3dEf6hIj9lMn2pQr5tUv8xYz1bCd4F'; // 32 base62 characters
const KEY_PATTERN = /^([a-z0-9][a-z0-9_]{2,49})_api_([0-9A-Za-z]{32})$/;

/** Valid, non-reserved slugs; a third of them contain `_api_` and several underscores. */
const validSlug: fc.Arbitrary<OrgSlug> = fc
  .oneof(
    fc.stringMatching(/^[a-z0-9][a-z0-9_]{2,49}$/),
    fc
      .tuple(fc.stringMatching(/^[a-z0-9][a-z0-9_]{0,20}$/), fc.stringMatching(/^[a-z0-9_]{0,20}$/))
      .map(([a, b]) => `${a}_api_${b}`),
    fc.constantFrom('acme_api_', 'a_api_api_', 'x__api__api_y', 'my_api_co', 'abc_', '123', 'a'.repeat(50)),
  )
  .filter((s): s is OrgSlug => isOrgSlug(s));

describe('generateApiKey', () => {
  it('has the form {slug}_api_{32 base62}', () => {
    const { key } = generateApiKey(slug('acme_co'));
    expect(API_KEY_SECRET_LENGTH).toBe(32);
    expect(key).toMatch(/^acme_co_api_[0-9A-Za-z]{32}$/);
    expect(key).toHaveLength('acme_co_api_'.length + 32);
  });

  it('hash is the SHA-256 hex of the key, fingerprint its last four characters', () => {
    const k = generateApiKey(slug('acme_co'));
    expect(k.hash).toBe(createHash('sha256').update(k.key, 'utf8').digest('hex'));
    expect(k.hash).toMatch(API_KEY_HASH_PATTERN);
    expect(k.fingerprint).toBe(k.key.slice(-4));
    expect(k.fingerprint).toHaveLength(4);
    expect(k.key.endsWith(k.fingerprint)).toBe(true);
  });

  it('two keys for the same org differ', () => {
    const keys = new Set(Array.from({ length: 200 }, () => generateApiKey(slug('acme_co')).key));
    expect(keys.size).toBe(200);
  });

  it('property: for every valid slug the key is well formed and round-trips through orgOfApiKey', () => {
    fc.assert(
      fc.property(validSlug, (s) => {
        const k = generateApiKey(s);
        expect(k.key.startsWith(`${s}_api_`)).toBe(true);
        expect(k.key.slice(s.length + 5)).toMatch(/^[0-9A-Za-z]{32}$/);
        expect(k.key).toMatch(KEY_PATTERN);
        expect(orgOfApiKey(k.key)).toBe(s);
        expect(k.hash).toBe(sha256Hex(k.key));
        expect(k.fingerprint).toBe(k.key.slice(-4));
      }),
      { numRuns: 500 },
    );
  });
});

describe('orgOfApiKey', () => {
  it('slugs containing _api_ and underscores', () => {
    expect(orgOfApiKey(`my_api_co_api_${SECRET}`)).toBe('my_api_co');
    expect(orgOfApiKey(`acme_api__api_${SECRET}`)).toBe('acme_api_');
    expect(orgOfApiKey(`a_b_c_api_${SECRET}`)).toBe('a_b_c');
    expect(orgOfApiKey(`abc__api_${SECRET}`)).toBe('abc_');
    expect(orgOfApiKey(`${'a'.repeat(50)}_api_${SECRET}`)).toBe('a'.repeat(50));
  });

  it('property: any 32-char base62 secret after any valid slug round-trips', () => {
    const secret = fc.stringMatching(/^[0-9A-Za-z]{32}$/);
    fc.assert(fc.property(validSlug, secret, (s, sec) => {
        expect(orgOfApiKey(`${s}_api_${sec}`)).toBe(s);
      }),
    );
  });

  it('rejects the root key format', () => {
    expect(orgOfApiKey(`ca_root_${'A1b2C3d4E5'.repeat(4)}`)).toBeUndefined();
    expect(orgOfApiKey('k'.repeat(32))).toBeUndefined();
  });

  it('rejects wrong secret lengths', () => {
    expect(orgOfApiKey(`acme_co_api_${SECRET.slice(1)}`)).toBeUndefined();
    expect(orgOfApiKey(`acme_co_api_${SECRET}x`)).toBeUndefined();
    expect(orgOfApiKey('acme_co_api_')).toBeUndefined();
  });

  it('rejects non-base62 characters in the secret', () => {
    for (const bad of ['-', '_', '+', '/', '=', ' ', 'é', '\n', '.']) {
      const secret = `${bad}${SECRET.slice(1)}`;
      expect(secret).toHaveLength(32);
      expect(orgOfApiKey(`acme_co_api_${secret}`), JSON.stringify(bad)).toBeUndefined();
    }
    expect(orgOfApiKey(`acme_co_api_${SECRET}\n`)).toBeUndefined();
  });

  it('rejects invalid or reserved slugs', () => {
    for (const bad of ['ab', 'Acme', 'acme-co', '_acme', 'a'.repeat(51), 'main', 'organizations', 'pg_x', 'café']) {
      expect(orgOfApiKey(`${bad}_api_${SECRET}`), bad).toBeUndefined();
    }
    expect(orgOfApiKey(`_api_${SECRET}`)).toBeUndefined();
    expect(orgOfApiKey('')).toBeUndefined();
  });

  it('property: whatever it returns is a valid slug that prefixes the key', () => {
    fc.assert(
      fc.property(fc.string({ unit: fc.constantFrom('a', 'b', '1', '_', 'p', 'i', 'A', 'Z', '-', 'é'), maxLength: 90 }), (s) => {
        const org = orgOfApiKey(s);
        if (org === undefined) return;
        expect(isOrgSlug(org)).toBe(true);
        expect(s).toBe(`${org}_api_${s.slice(-32)}`);
      }),
    );
  });
});

describe('sha256 / fingerprintOf / matchesDigest', () => {
  it('sha256Hex of a known value', () => {
    expect(sha256Hex('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    expect(sha256('abc').toString('hex')).toBe(sha256Hex('abc'));
    expect(fingerprintOf('acme_co_api_xyzW')).toBe('xyzW');
  });

  it('matchesDigest is true for the key and false for anything else', () => {
    const { key, hash } = generateApiKey(slug('acme_co'));
    const digest = Buffer.from(hash, 'hex');
    expect(matchesDigest(key, digest)).toBe(true);
    expect(matchesDigest(`${key} `, digest)).toBe(false);
    expect(matchesDigest(key.slice(0, -1), digest)).toBe(false);
    expect(matchesDigest(key.toUpperCase(), digest)).toBe(false);
    expect(matchesDigest('', digest)).toBe(false);
    expect(matchesDigest(generateApiKey(slug('acme_co')).key, digest)).toBe(false);
  });

  it('property: matchesDigest(a, sha256(b)) iff a === b', () => {
    fc.assert(
      fc.property(fc.string(), fc.string(), (a, b) => {
        expect(matchesDigest(a, sha256(b))).toBe(a === b);
      }),
    );
    fc.assert(
      fc.property(fc.string(), (a) => {
        expect(matchesDigest(a, sha256(a))).toBe(true);
      }),
    );
  });
});
