import fs from 'node:fs';
import path from 'node:path';
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';

/**
 * Table schemas are JSON files in BigQuery schema form (`name`, `type`, `mode`, `description`,
 * nested `fields`). A file is either the bare field array that `bq` writes, or an object with
 * `fields` plus table-level keys that BigQuery's form has no place for: keys and indexes (used by
 * the control-store engines, declared NOT ENFORCED in BigQuery), partitioning and clustering
 * (BigQuery only). The table name is the file name.
 */
export const FIELD_TYPES = [
  'STRING', 'INT64', 'INTEGER', 'FLOAT64', 'FLOAT', 'NUMERIC', 'BIGNUMERIC', 'BOOL', 'BOOLEAN',
  'TIMESTAMP', 'DATE', 'DATETIME', 'TIME', 'JSON', 'BYTES', 'GEOGRAPHY', 'RECORD', 'STRUCT',
] as const;
export type FieldType = (typeof FIELD_TYPES)[number];
export const FIELD_MODES = ['NULLABLE', 'REQUIRED', 'REPEATED'] as const;
export type FieldMode = (typeof FIELD_MODES)[number];

export interface FieldSchema {
  readonly name: string;
  readonly type: FieldType;
  readonly mode: FieldMode;
  readonly description?: string;
  readonly fields?: readonly FieldSchema[];
}

export interface TableSchema {
  readonly name: string;
  readonly description?: string;
  readonly fields: readonly FieldSchema[];
  readonly primaryKey: readonly string[];
  readonly unique: readonly (readonly string[])[];
  readonly indexes: readonly (readonly string[])[];
  readonly partitioning?: { readonly field: string; readonly type: 'HOUR' | 'DAY' | 'MONTH' | 'YEAR' };
  readonly clustering: readonly string[];
}

/** Column and table names every engine accepts unquoted-equivalent, after quoting. */
export const IDENTIFIER_PATTERN = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;

const FieldJson: TSchema = Type.Recursive((Self) =>
  Type.Object(
    {
      name: Type.String({ pattern: IDENTIFIER_PATTERN.source }),
      type: Type.Union(FIELD_TYPES.map((t) => Type.Literal(t))),
      mode: Type.Optional(Type.Union(FIELD_MODES.map((m) => Type.Literal(m)))),
      description: Type.Optional(Type.String()),
      fields: Type.Optional(Type.Array(Self)),
    },
    { additionalProperties: false },
  ),
);
const Columns = Type.Array(Type.String({ pattern: IDENTIFIER_PATTERN.source }), { minItems: 1 });
const TableJson = Type.Object(
  {
    description: Type.Optional(Type.String()),
    primary_key: Type.Optional(Columns),
    unique: Type.Optional(Type.Array(Columns)),
    indexes: Type.Optional(Type.Array(Columns)),
    partitioning: Type.Optional(
      Type.Object(
        {
          field: Type.String(),
          type: Type.Optional(Type.Union([Type.Literal('HOUR'), Type.Literal('DAY'), Type.Literal('MONTH'), Type.Literal('YEAR')])),
        },
        { additionalProperties: false },
      ),
    ),
    clustering: Type.Optional(Type.Array(Type.String(), { maxItems: 4 })),
    fields: Type.Array(FieldJson, { minItems: 1 }),
  },
  { additionalProperties: false },
);
type TableJson = Static<typeof TableJson>;
interface FieldJson {
  name: string;
  type: FieldType;
  mode?: FieldMode;
  description?: string;
  fields?: FieldJson[];
}

export class SchemaFileError extends Error {
  override name = 'SchemaFileError';
}

/** Parse and check one schema document; `source` names the file in error messages. */
export function parseTableSchema(name: string, json: unknown, source = name): TableSchema {
  if (!IDENTIFIER_PATTERN.test(name)) throw new SchemaFileError(`${source}: invalid table name "${name}"`);
  const doc: unknown = Array.isArray(json) ? { fields: json } : json;
  if (!Value.Check(TableJson, doc)) {
    const first = Value.Errors(TableJson, doc).First();
    throw new SchemaFileError(`${source}: ${first?.path || '/'} ${first?.message ?? 'is invalid'}`);
  }
  const t = doc as TableJson;
  const fields = (t.fields as FieldJson[]).map((f) => toField(f, source));
  checkUniqueNames(fields, source);
  const top = new Map(fields.map((f) => [f.name, f]));
  const known = (cols: readonly string[], what: string): void => {
    for (const c of cols) if (!top.has(c)) throw new SchemaFileError(`${source}: ${what} names unknown column "${c}"`);
  };
  known(t.primary_key ?? [], 'primary_key');
  for (const u of t.unique ?? []) known(u, 'unique');
  for (const i of t.indexes ?? []) known(i, 'indexes');
  known(t.clustering ?? [], 'clustering');
  let partitioning: TableSchema['partitioning'];
  if (t.partitioning !== undefined) {
    const f = top.get(t.partitioning.field);
    if (f === undefined || !['DATE', 'TIMESTAMP', 'DATETIME'].includes(f.type) || f.mode === 'REPEATED') {
      throw new SchemaFileError(`${source}: partitioning field "${t.partitioning.field}" must be a DATE, TIMESTAMP or DATETIME column`);
    }
    const type = t.partitioning.type ?? 'DAY';
    if (type === 'HOUR' && f.type === 'DATE') {
      throw new SchemaFileError(`${source}: partitioning field "${f.name}" is a DATE and cannot be partitioned by HOUR`);
    }
    partitioning = { field: f.name, type };
  }
  return {
    name,
    ...(t.description === undefined ? {} : { description: t.description }),
    fields,
    primaryKey: t.primary_key ?? [],
    unique: t.unique ?? [],
    indexes: t.indexes ?? [],
    ...(partitioning === undefined ? {} : { partitioning }),
    clustering: t.clustering ?? [],
  };
}

function toField(f: FieldJson, source: string): FieldSchema {
  const isRecord = f.type === 'RECORD' || f.type === 'STRUCT';
  if (isRecord ? (f.fields?.length ?? 0) === 0 : f.fields !== undefined) {
    throw new SchemaFileError(`${source}: field "${f.name}": RECORD fields need nested "fields", other types must not have them`);
  }
  const nested = f.fields?.map((c) => toField(c, source));
  if (nested !== undefined) checkUniqueNames(nested, source);
  return {
    name: f.name,
    type: f.type,
    mode: f.mode ?? 'NULLABLE',
    ...(f.description === undefined ? {} : { description: f.description }),
    ...(nested === undefined ? {} : { fields: nested }),
  };
}

function checkUniqueNames(fields: readonly FieldSchema[], source: string): void {
  const seen = new Set<string>();
  for (const f of fields) {
    const key = f.name.toLowerCase(); // every engine treats column names case-insensitively
    if (seen.has(key)) throw new SchemaFileError(`${source}: duplicate column "${f.name}"`);
    seen.add(key);
  }
}

export function loadTableSchemaFile(file: string): TableSchema {
  const name = path.basename(file, '.json');
  let json: unknown;
  try {
    json = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    throw new SchemaFileError(`${file}: ${(e as Error).message}`);
  }
  return parseTableSchema(name, json, file);
}

/** Every `*.json` in a directory, sorted by name. */
export function loadTableSchemaDir(dir: string): TableSchema[] {
  return fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => loadTableSchemaFile(path.join(dir, f)));
}
