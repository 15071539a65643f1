import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { checkOrgSlug, isOrgSlug, ORG_SLUG_PATTERN } from './org-slug.js';

describe('org slugs', () => {
  it.each(['acme', 'acme_co', 'a1b', '123', '9lives', 'abc_', 'a__b', 'x'.repeat(50), 'pgx', 'pg1', 'mainframe', 'public_co', 'my_pg_org'])('%j is valid', (s) => {
    expect(isOrgSlug(s)).toBe(true);
    expect(checkOrgSlug(s)).toBeUndefined();
  });

  it.each([
    'Acme',
    'ACME_CO',
    'acme co',
    ' acme',
    'acme ',
    'acme-co',
    "a'; DROP TABLE x; --",
    'a"; DROP TABLE x; --',
    'café_co',
    'acme\u0000',
    'acme\n',
    'ａｃｍｅ', // full-width letters
    'ab',
    'a',
    '',
    'x'.repeat(51),
    '_acme',
    '__',
    'acme.co',
    'acme/co',
  ])('%j is a format error', (s) => {
    expect(isOrgSlug(s)).toBe(false);
    expect(checkOrgSlug(s)).toBe('format');
  });

  it.each([
    'organizations',
    'information_schema',
    'main',
    'pg_catalog',
    'pg_anything',
    'pg_toast',
    'pg_',
    'public',
    'temp',
    'system',
    'default',
    'memory',
    'admin',
    'root',
    'custom',
  ])('%j is reserved', (s) => {
    expect(isOrgSlug(s)).toBe(false);
    expect(checkOrgSlug(s)).toBe('reserved');
  });

  it('the length bounds are 3 and 50', () => {
    expect(isOrgSlug('abc')).toBe(true);
    expect(isOrgSlug('ab')).toBe(false);
    expect(isOrgSlug('a'.repeat(50))).toBe(true);
    expect(isOrgSlug('a'.repeat(51))).toBe(false);
  });

  const interesting = fc.string({
    unit: fc.constantFrom('a', 'z', 'm', 'p', 'g', '0', '9', '_', 'A', 'Z', '-', ' ', '.', "'", '"', ';', 'é', 'ａ', '\n', '\u0000'),
    maxLength: 60,
  });

  it('property: every accepted string matches /^[a-z0-9][a-z0-9_]{2,49}$/ and is not reserved', () => {
    fc.assert(
      fc.property(fc.oneof(interesting, fc.string({ maxLength: 60 }), fc.string({ unit: 'binary', maxLength: 60 })), (s) => {
        if (isOrgSlug(s)) {
          expect(s).toMatch(/^[a-z0-9][a-z0-9_]{2,49}$/);
          expect(s.startsWith('pg_')).toBe(false);
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('property: every string of the grammar is accepted unless reserved', () => {
    fc.assert(
      fc.property(fc.stringMatching(/^[a-z0-9][a-z0-9_]{2,49}$/), (s) => {
        const reserved = s.startsWith('pg_') || ['organizations', 'information_schema', 'main', 'temp', 'system', 'pg_catalog', 'public', 'default', 'memory', 'admin', 'root', 'custom'].includes(s);
        expect(checkOrgSlug(s)).toBe(reserved ? 'reserved' : undefined);
      }),
      { numRuns: 1000 },
    );
  });

  it('the exported pattern is the documented grammar', () => {
    expect(ORG_SLUG_PATTERN.source).toBe('^[a-z0-9][a-z0-9_]{2,49}$');
    expect(ORG_SLUG_PATTERN.flags).toBe('');
  });
});
