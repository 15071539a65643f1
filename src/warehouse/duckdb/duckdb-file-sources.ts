import { columnType, quoteIdent } from '../../schema/ddl.js';
import type { FileSource } from '../warehouse.js';

/**
 * File sources as DuckDB relations, added to a query as leading CTEs. NDJSON is read with the
 * declared column types (nested records and repeated fields included), except top-level
 * TIMESTAMP columns: BigQuery extracts write them as `2026-11-20 03:00:00[.ffffff] UTC` while
 * other tools write ISO 8601, so they are read as text and parsed strictly — a value neither form
 * parses fails the read instead of becoming NULL.
 */
export function withSources(query: string, sources: Readonly<Record<string, FileSource>>): string {
  const ctes = Object.entries(sources).map(([name, src]) => `${quoteIdent('duckdb', name)} AS (${relation(src)})`);
  if (ctes.length === 0) return query;
  const m = /^\s*WITH(\s+RECURSIVE)?\s/i.exec(query);
  if (m === null) return `WITH ${ctes.join(',\n')}\n${query}`;
  return `WITH${m[1] ?? ''} ${ctes.join(',\n')},\n${query.slice(m[0].length)}`;
}

/** Column naming the file each row came from, for error messages; not part of the relation. */
const FILE_COLUMN = '_convergence_file';

function relation(src: FileSource): string {
  const parts: string[] = [];
  const ndjson = src.files.filter((f) => f.format === 'ndjson').map((f) => literal(f.path));
  const parquet = src.files.filter((f) => f.format === 'parquet').map((f) => literal(f.path));
  const timestamps = src.columns.filter((c) => c.type === 'TIMESTAMP' && c.mode !== 'REPEATED');
  if (ndjson.length > 0) {
    const columns = src.columns.map((c) => `${literal(c.name)}: ${literal(c.type === 'TIMESTAMP' && c.mode !== 'REPEATED' ? 'VARCHAR' : columnType('duckdb', c))}`).join(', ');
    const replace = timestamps.map((c) => `${parseTimestamp(quoteIdent('duckdb', c.name), c.name)} AS ${quoteIdent('duckdb', c.name)}`);
    const read = `read_json([${ndjson.join(', ')}], format = 'newline_delimited', columns = {${columns}}, filename = '${FILE_COLUMN}')`;
    parts.push(requireColumns(src, `SELECT * ${replace.length > 0 ? `REPLACE (${replace.join(', ')}) ` : ''}FROM ${read}`));
  }
  if (parquet.length > 0) {
    // Parquet carries its own types; columns are cast to the declared ones so both kinds union. A
    // declared column the files lack (exports gain columns over time) is NULL: the union by name with
    // an empty relation of the declared shape supplies it.
    const select = src.columns.map((c) => `CAST(${quoteIdent('duckdb', c.name)} AS ${columnType('duckdb', c)}) AS ${quoteIdent('duckdb', c.name)}`).join(', ');
    const files = `SELECT * FROM read_parquet([${parquet.join(', ')}], union_by_name = true, filename = '${FILE_COLUMN}')`;
    const empty = `SELECT ${src.columns.map((c) => `CAST(NULL AS ${columnType('duckdb', c)}) AS ${quoteIdent('duckdb', c.name)}`).join(', ')}, CAST(NULL AS VARCHAR) AS ${FILE_COLUMN} WHERE false`;
    parts.push(requireColumns(src, `SELECT ${select}, ${FILE_COLUMN} FROM (${files} UNION ALL BY NAME ${empty})`));
  }
  if (parts.length === 0) return emptyRelation(src);
  return parts.join(' UNION ALL BY NAME ');
}

/**
 * A row missing a REQUIRED column (a `null` line, `{}`, a row without its time or amount) fails
 * the read, naming its file, instead of silently dropping out of every total.
 */
function requireColumns(src: FileSource, select: string): string {
  const required = src.columns.filter((c) => c.mode === 'REQUIRED').map((c) => c.name);
  const names = required.map((n) => quoteIdent('duckdb', n));
  const check =
    required.length === 0
      ? ''
      : ` WHERE CASE WHEN ${names.map((n) => `${n} IS NULL`).join(' OR ')} THEN error('file "' || ${FILE_COLUMN} || '": a row has no ${required.join(' / ')}') ELSE true END`;
  return `SELECT * EXCLUDE (${FILE_COLUMN}) FROM (${select})${check}`;
}

/** No rows, the declared columns and types. */
function emptyRelation(src: FileSource): string {
  return `SELECT ${src.columns.map((c) => `CAST(NULL AS ${columnType('duckdb', c)}) AS ${quoteIdent('duckdb', c.name)}`).join(', ')} WHERE false`;
}

function parseTimestamp(col: string, name: string): string {
  const parsed = `coalesce(CAST(try_strptime(${col}, ['%Y-%m-%d %H:%M:%S.%f UTC', '%Y-%m-%d %H:%M:%S UTC', '%Y-%m-%d %H:%M:%S.%f', '%Y-%m-%d %H:%M:%S', '%Y-%m-%dT%H:%MZ', '%Y-%m-%d %H:%M UTC']) AS TIMESTAMPTZ), try_cast(${col} AS TIMESTAMPTZ))`;
  return `CASE WHEN ${col} IS NULL THEN NULL::TIMESTAMPTZ ELSE coalesce(${parsed}, error('column ${name}: "' || left(${col}, 40) || '" is not a timestamp')) END`;
}

const literal = (s: string): string => `'${s.replace(/'/g, "''")}'`;

