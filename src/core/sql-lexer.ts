/**
 * Just enough SQL lexing to find named parameters (`@name`) outside string literals, quoted
 * identifiers and comments. Engines differ in their parameter syntax (BigQuery `@name`, DuckDB
 * `$name`); pipelines write `@name` and each warehouse adapter rewrites it for its engine.
 */
export interface ParameterReference {
  readonly name: string;
  /** Offset of the `@`. */
  readonly start: number;
  readonly end: number;
}

const NAME_START = /[A-Za-z_]/;
const NAME_CHAR = /[A-Za-z0-9_]/;

export function findNamedParameters(sql: string): ParameterReference[] {
  const found: ParameterReference[] = [];
  let i = 0;
  while (i < sql.length) {
    const c = sql[i] as string;
    const next = sql[i + 1];
    if (c === "'" || c === '"' || c === '`') {
      i = skipQuoted(sql, i, c);
    } else if (c === '-' && next === '-') {
      const eol = sql.indexOf('\n', i);
      i = eol === -1 ? sql.length : eol + 1;
    } else if (c === '/' && next === '*') {
      const close = sql.indexOf('*/', i + 2);
      i = close === -1 ? sql.length : close + 2;
    } else if (c === '@' && next !== undefined && NAME_START.test(next) && !NAME_CHAR.test(sql[i - 1] ?? ' ')) {
      let j = i + 1;
      while (j < sql.length && NAME_CHAR.test(sql[j] as string)) j++;
      found.push({ name: sql.slice(i + 1, j), start: i, end: j });
      i = j;
    } else {
      i++;
    }
  }
  return found;
}

/** Position after the literal that starts at `start`; a doubled quote is an escaped quote. */
function skipQuoted(sql: string, start: number, quote: string): number {
  let i = start + 1;
  while (i < sql.length) {
    if (sql[i] === '\\' && quote !== '"') {
      i += 2;
      continue;
    }
    if (sql[i] === quote) {
      if (sql[i + 1] === quote) {
        i += 2;
        continue;
      }
      return i + 1;
    }
    i++;
  }
  return sql.length;
}

/** Rewrites every `@name` with `render(name)`; the rest of the text is kept byte for byte. */
export function rewriteNamedParameters(sql: string, render: (name: string) => string): string {
  let out = '';
  let last = 0;
  for (const ref of findNamedParameters(sql)) {
    out += sql.slice(last, ref.start) + render(ref.name);
    last = ref.end;
  }
  return out + sql.slice(last);
}
