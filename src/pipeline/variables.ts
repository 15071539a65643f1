/**
 * Typed variables and the templates that use them (DESIGN.md §6.3). `{name}` and `${name}`
 * substitute a variable. Inside SQL text only strict types may be substituted, each validated
 * against its type first; free-form strings reach SQL only as bound parameters (`@name`).
 */
export const VARIABLE_TYPES = ['identifier', 'date', 'timestamp', 'integer', 'enum', 'uuid', 'boolean', 'number', 'string'] as const;
export type VariableType = (typeof VARIABLE_TYPES)[number];

/** Types whose validated text cannot change the meaning of the SQL around it. */
export const SQL_SAFE_TYPES: ReadonlySet<VariableType> = new Set(['identifier', 'date', 'timestamp', 'integer', 'enum', 'uuid']);

export type VariableValue = string | number | boolean;

export interface TypedValue {
  readonly type: VariableType;
  readonly value: VariableValue;
}

/** Safe in SQL text by construction; digits may lead because org slugs may (quote such names in SQL). */
export const IDENTIFIER = /^[A-Za-z0-9_]{1,128}$/;
const ENUM_VALUE = /^[A-Za-z0-9_.-]{1,64}$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
const TIMESTAMP = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?(Z|[+-]\d{2}:\d{2})$/;
export const MAX_STRING_LENGTH = 1000;

export const isEnumValue = (s: string): boolean => ENUM_VALUE.test(s);

/** A calendar date `YYYY-MM-DD` that exists (no 2025-02-30). */
export function isIsoDate(s: string): boolean {
  const m = DATE.exec(s);
  if (m === null) return false;
  const d = new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])));
  return d.toISOString().slice(0, 10) === s;
}

export class VariableError extends Error {
  override name = 'VariableError';
}

/**
 * Checks `raw` against `type` and returns it normalized, or throws VariableError saying why.
 * Relative dates (`today`, `yesterday`) are resolved against `today` (UTC).
 */
export function coerceValue(type: VariableType, raw: unknown, opts: { values?: readonly string[]; today?: string } = {}): VariableValue {
  const fail = (why: string): never => {
    throw new VariableError(`${JSON.stringify(raw)?.slice(0, 80) ?? String(raw)} is not ${why}`);
  };
  switch (type) {
    case 'identifier':
      return typeof raw === 'string' && IDENTIFIER.test(raw) ? raw : fail('an identifier (letters, digits and underscores, at most 128)');
    case 'date': {
      if (typeof raw !== 'string') return fail('a date (YYYY-MM-DD)');
      if ((raw === 'today' || raw === 'yesterday') && opts.today !== undefined) return raw === 'today' ? opts.today : addDays(opts.today, -1);
      return isIsoDate(raw) ? raw : fail('a valid date (YYYY-MM-DD)');
    }
    case 'timestamp':
      return typeof raw === 'string' && TIMESTAMP.test(raw) && isIsoDate(raw.slice(0, 10)) && !Number.isNaN(Date.parse(raw))
        ? new Date(raw).toISOString()
        : fail('an ISO 8601 timestamp with a zone');
    case 'integer':
      if (typeof raw === 'number' && Number.isSafeInteger(raw)) return raw;
      return typeof raw === 'string' && /^-?\d{1,15}$/.test(raw) ? Number(raw) : fail('an integer');
    case 'number':
      if (typeof raw === 'number' && Number.isFinite(raw)) return raw;
      return typeof raw === 'string' && /^-?\d{1,15}(\.\d{1,15})?$/.test(raw) ? Number(raw) : fail('a number');
    case 'boolean':
      return typeof raw === 'boolean' ? raw : fail('a boolean');
    case 'enum':
      return typeof raw === 'string' && (opts.values ?? []).includes(raw) ? raw : fail(`one of ${(opts.values ?? []).join(', ')}`);
    case 'uuid':
      return typeof raw === 'string' && UUID.test(raw) ? raw : fail('a UUID');
    case 'string':
      return typeof raw === 'string' && raw.length <= MAX_STRING_LENGTH ? raw : fail(`a string of at most ${MAX_STRING_LENGTH} characters`);
  }
}

export function addDays(isoDate: string, days: number): string {
  const d = new Date(`${isoDate}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() + days);
  return d.toISOString().slice(0, 10);
}

/** `{name}`, `${name}` and `{steps.<step>.<key>}`; anything else in braces is left alone (e.g. DuckDB struct literals). */
const REFERENCE = /\$?\{((?:steps\.[a-z][a-z0-9_]*\.)?[A-Za-z_][A-Za-z0-9_]*)\}/g;

export function variableReferences(text: string): string[] {
  return [...text.matchAll(REFERENCE)].map((m) => m[1] as string);
}

/**
 * Substitutes variables into `text`. In SQL (`sql: true`) a variable must be of a strict type;
 * the value has been validated against that type when it was bound, so its text is safe there.
 */
export function renderTemplate(text: string, lookup: (name: string) => TypedValue | undefined, opts: { sql: boolean }): string {
  return text.replace(REFERENCE, (_, name: string) => {
    const v = lookup(name);
    if (v === undefined) throw new VariableError(`unknown variable "${name}"`);
    if (opts.sql && !SQL_SAFE_TYPES.has(v.type)) {
      throw new VariableError(`variable "${name}" is of type ${v.type} and cannot be placed in SQL text; bind it as @${name}`);
    }
    return String(v.value);
  });
}

/** Variables every run has (DESIGN.md §6.3), with their types. */
export const BUILTIN_VARIABLES: Readonly<Record<string, VariableType>> = {
  org_slug: 'identifier',
  dataset: 'identifier',
  date: 'date',
  start_date: 'date',
  end_date: 'date',
  pipeline_logging_id: 'uuid',
  admin_email: 'string',
  company_name: 'string',
  project_id: 'string',
  env: 'enum',
};

/** The type a literal in a pipeline's `variables:` block gets. */
export function inferVariableType(value: unknown): VariableType | undefined {
  if (typeof value === 'boolean') return 'boolean';
  if (typeof value === 'number') return Number.isSafeInteger(value) ? 'integer' : Number.isFinite(value) ? 'number' : undefined;
  if (typeof value !== 'string') return undefined;
  if (isIsoDate(value)) return 'date';
  if (IDENTIFIER.test(value)) return 'identifier';
  return 'string';
}
