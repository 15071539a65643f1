/**
 * Organization slugs become dataset/schema names and key prefixes, so their grammar is strict:
 * lowercase ASCII letters, digits and underscores, starting with a letter or digit, 3–50 chars.
 * A value of type `OrgSlug` has passed `parseOrgSlug` and is therefore safe as an identifier
 * and as a SQL string literal.
 */
export type OrgSlug = string & { readonly __brand: 'OrgSlug' };

export const ORG_SLUG_PATTERN = /^[a-z0-9][a-z0-9_]{2,49}$/;

/**
 * Names that would collide with a central dataset or an engine's own schemas
 * (DuckDB: main, temp, system, information_schema, pg_catalog; PostgreSQL reserves `pg_*`).
 */
const RESERVED = new Set([
  'organizations',
  'information_schema',
  'main',
  'temp',
  'system',
  'pg_catalog',
  'public',
  'default',
  'memory',
  'admin',
  'root',
  'custom',
]);

export type SlugProblem = 'format' | 'reserved';

export function checkOrgSlug(value: string): SlugProblem | undefined {
  if (!ORG_SLUG_PATTERN.test(value)) return 'format';
  if (RESERVED.has(value) || value.startsWith('pg_')) return 'reserved';
  return undefined;
}

export function isOrgSlug(value: string): value is OrgSlug {
  return checkOrgSlug(value) === undefined;
}

export const SLUG_RULE =
  'lowercase letters, digits and underscores, starting with a letter or digit, 3–50 characters';
