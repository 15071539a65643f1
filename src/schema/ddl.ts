import { assertNever } from '../core/errors.js';
import type { FieldSchema, FieldType, TableSchema } from './table-schema.js';

/**
 * DDL for the three engines, from one table schema. Identifiers are checked against
 * a safe character set and then quoted, so schema files cannot inject SQL; descriptions are
 * emitted only as BigQuery string literals, escaped.
 */
export const DIALECTS = ['duckdb', 'postgres', 'bigquery'] as const;
export type Dialect = (typeof DIALECTS)[number];

export interface TableRef {
  /** Schema (DuckDB, PostgreSQL) or dataset (BigQuery). */
  readonly dataset: string;
  readonly table: string;
  /** BigQuery project; omitted means the client's default project. */
  readonly project?: string;
}

/** Names that are safe once quoted: dataset names may start with a digit (org slugs can). */
const QUOTABLE = /^[A-Za-z0-9_]{1,128}$/;

export function quoteIdent(dialect: Dialect, name: string): string {
  if (!QUOTABLE.test(name)) throw new Error(`Invalid identifier: ${JSON.stringify(name)}`);
  return dialect === 'bigquery' ? `\`${name}\`` : `"${name}"`;
}

export function qualifiedName(dialect: Dialect, ref: TableRef): string {
  if (dialect === 'bigquery') {
    quoteIdent(dialect, ref.dataset); // validates
    quoteIdent(dialect, ref.table);
    const parts = [ref.project, ref.dataset, ref.table].filter((p): p is string => p !== undefined);
    // Project ids may contain dashes; they are validated by the caller's configuration.
    if (ref.project !== undefined && !/^[a-z][a-z0-9-]{4,61}[a-z0-9]$/.test(ref.project)) {
      throw new Error(`Invalid project id: ${JSON.stringify(ref.project)}`);
    }
    return `\`${parts.join('.')}\``;
  }
  return `${quoteIdent(dialect, ref.dataset)}.${quoteIdent(dialect, ref.table)}`;
}

const SCALAR_TYPES: Record<Dialect, Record<Exclude<FieldType, 'RECORD' | 'STRUCT'>, string>> = {
  duckdb: {
    STRING: 'VARCHAR', INT64: 'BIGINT', INTEGER: 'BIGINT', FLOAT64: 'DOUBLE', FLOAT: 'DOUBLE',
    // DuckDB decimals stop at 38 digits; BIGNUMERIC values beyond that are rare in cost data.
    NUMERIC: 'DECIMAL(38,9)', BIGNUMERIC: 'DECIMAL(38,9)', BOOL: 'BOOLEAN', BOOLEAN: 'BOOLEAN',
    TIMESTAMP: 'TIMESTAMPTZ', DATE: 'DATE', DATETIME: 'TIMESTAMP', TIME: 'TIME', JSON: 'JSON',
    BYTES: 'BLOB', GEOGRAPHY: 'VARCHAR',
  },
  postgres: {
    STRING: 'TEXT', INT64: 'BIGINT', INTEGER: 'BIGINT', FLOAT64: 'DOUBLE PRECISION', FLOAT: 'DOUBLE PRECISION',
    NUMERIC: 'NUMERIC(38,9)', BIGNUMERIC: 'NUMERIC', BOOL: 'BOOLEAN', BOOLEAN: 'BOOLEAN',
    TIMESTAMP: 'TIMESTAMPTZ', DATE: 'DATE', DATETIME: 'TIMESTAMP', TIME: 'TIME', JSON: 'JSONB',
    BYTES: 'BYTEA', GEOGRAPHY: 'TEXT',
  },
  bigquery: {
    STRING: 'STRING', INT64: 'INT64', INTEGER: 'INT64', FLOAT64: 'FLOAT64', FLOAT: 'FLOAT64',
    NUMERIC: 'NUMERIC', BIGNUMERIC: 'BIGNUMERIC', BOOL: 'BOOL', BOOLEAN: 'BOOL',
    TIMESTAMP: 'TIMESTAMP', DATE: 'DATE', DATETIME: 'DATETIME', TIME: 'TIME', JSON: 'JSON',
    BYTES: 'BYTES', GEOGRAPHY: 'GEOGRAPHY',
  },
};

/** The column type of a field, without nullability. */
export function columnType(dialect: Dialect, field: FieldSchema): string {
  const base = baseType(dialect, field);
  if (field.mode !== 'REPEATED') return base;
  switch (dialect) {
    case 'duckdb':
      return `${base}[]`;
    case 'postgres':
      // Arrays of composite values are stored as JSONB documents, scalars as native arrays.
      return base === 'JSONB' ? 'JSONB' : `${base}[]`;
    case 'bigquery':
      return `ARRAY<${base}>`;
    default:
      return assertNever(dialect, 'dialect');
  }
}

function baseType(dialect: Dialect, field: FieldSchema): string {
  if (field.type !== 'RECORD' && field.type !== 'STRUCT') return SCALAR_TYPES[dialect][field.type];
  const children = field.fields ?? [];
  switch (dialect) {
    case 'duckdb':
      return `STRUCT(${children.map((c) => `${quoteIdent(dialect, c.name)} ${columnType(dialect, c)}`).join(', ')})`;
    case 'postgres':
      return 'JSONB';
    case 'bigquery':
      return `STRUCT<${children.map((c) => `${quoteIdent(dialect, c.name)} ${columnType(dialect, c)}${c.mode === 'REQUIRED' ? ' NOT NULL' : ''}`).join(', ')}>`;
    default:
      return assertNever(dialect, 'dialect');
  }
}

/** `name TYPE [NOT NULL]` as it appears in CREATE TABLE and ADD COLUMN. */
export function columnDefinition(dialect: Dialect, field: FieldSchema, opts: { forceNullable?: boolean } = {}): string {
  const notNull = field.mode === 'REQUIRED' && opts.forceNullable !== true ? ' NOT NULL' : '';
  const description =
    dialect === 'bigquery' && field.description !== undefined ? ` OPTIONS(description=${bigQueryString(field.description)})` : '';
  return `${quoteIdent(dialect, field.name)} ${columnType(dialect, field)}${notNull}${description}`;
}

/**
 * CREATE TABLE (IF NOT EXISTS) plus the secondary indexes the engine supports, in order.
 */
export function createTableStatements(dialect: Dialect, ref: TableRef, schema: TableSchema): string[] {
  const name = qualifiedName(dialect, ref);
  const cols = (list: readonly string[]): string => list.map((c) => quoteIdent(dialect, c)).join(', ');
  const lines = schema.fields.map((f) => `  ${columnDefinition(dialect, f)}`);
  if (schema.primaryKey.length > 0) {
    lines.push(`  PRIMARY KEY (${cols(schema.primaryKey)})${dialect === 'bigquery' ? ' NOT ENFORCED' : ''}`);
  }
  // BigQuery has no UNIQUE constraint; uniqueness there is the writer's job (MERGE on the key).
  if (dialect !== 'bigquery') for (const u of schema.unique) lines.push(`  UNIQUE (${cols(u)})`);
  let sql = `CREATE TABLE IF NOT EXISTS ${name} (\n${lines.join(',\n')}\n)`;
  if (dialect !== 'bigquery') {
    return [sql, ...schema.indexes.map((ix) => createIndexStatement(dialect, ref, ix))];
  }
  if (schema.partitioning !== undefined) sql += `\nPARTITION BY ${bigQueryPartition(schema)}`;
  if (schema.clustering.length > 0) sql += `\nCLUSTER BY ${cols(schema.clustering)}`;
  if (schema.description !== undefined) sql += `\nOPTIONS(description=${bigQueryString(schema.description)})`;
  return [sql];
}

export function createIndexStatement(dialect: Exclude<Dialect, 'bigquery'>, ref: TableRef, columns: readonly string[]): string {
  return `CREATE INDEX IF NOT EXISTS ${quoteIdent(dialect, indexName(ref.table, columns))} ON ${qualifiedName(dialect, ref)} (${columns
    .map((c) => quoteIdent(dialect, c))
    .join(', ')})`;
}

/**
 * Index names are unique per schema and PostgreSQL truncates identifiers at 63 bytes. Column names
 * may contain underscores, so a readable prefix is followed by a hash of the exact column list.
 */
export function indexName(table: string, columns: readonly string[]): string {
  const readable = `${table}__${columns.join('_')}`.slice(0, 50);
  return `${readable}_${hash8(JSON.stringify([table, ...columns]))}_idx`;
}

function hash8(s: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193) >>> 0;
  return h.toString(16).padStart(8, '0');
}

/**
 * A column added to an existing table is always nullable: existing rows have no value for it, and
 * every engine refuses NOT NULL without a default there.
 */
export function addColumnStatement(dialect: Dialect, ref: TableRef, field: FieldSchema): string {
  return `ALTER TABLE ${qualifiedName(dialect, ref)} ADD COLUMN IF NOT EXISTS ${columnDefinition(dialect, field, { forceNullable: true })}`;
}

function bigQueryPartition(schema: TableSchema): string {
  const p = schema.partitioning;
  if (p === undefined) throw new Error('no partitioning');
  const field = schema.fields.find((f) => f.name === p.field);
  const col = quoteIdent('bigquery', p.field);
  if (field?.type === 'DATE') return p.type === 'DAY' ? col : `DATE_TRUNC(${col}, ${p.type})`;
  const fn = field?.type === 'DATETIME' ? 'DATETIME_TRUNC' : 'TIMESTAMP_TRUNC';
  return `${fn}(${col}, ${p.type})`;
}

/** A BigQuery string literal (double-quoted, escaped). */
export function bigQueryString(s: string): string {
  return `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n').replace(/\r/g, '\\r')}"`;
}
