/**
 * Which relations and functions a DuckDB SELECT touches, from DuckDB's own parser
 * (`json_serialize_sql`), so the check sees exactly what the engine will run: no regex over SQL.
 */
export interface QueryFootprint {
  /** Table references as written: catalog and schema are '' when not given. */
  readonly tables: readonly { catalog: string; schema: string; table: string }[];
  readonly tableFunctions: readonly string[];
  readonly functions: readonly string[];
  /** Names defined by WITH clauses anywhere in the query. */
  readonly cteNames: ReadonlySet<string>;
  /** Kinds of FROM-clause items other than tables, subqueries, joins, table functions and VALUES (e.g. SHOW). */
  readonly otherRelations: readonly string[];
}

/** FROM-clause items a query may use; SHOW/DESCRIBE (SHOW_REF) and anything newer are refused. */
const ALLOWED_RELATIONS = new Set(['BASE_TABLE', 'SUBQUERY', 'JOIN', 'TABLE_FUNCTION', 'EXPRESSION_LIST', 'EMPTY', 'PIVOT']);

interface Node {
  [key: string]: unknown;
}

export function footprintOf(serialized: Node): QueryFootprint {
  const tables: { catalog: string; schema: string; table: string }[] = [];
  const tableFunctions: string[] = [];
  const functions: string[] = [];
  const cteNames = new Set<string>();
  const otherRelations: string[] = [];
  const walk = (v: unknown): void => {
    if (Array.isArray(v)) {
      for (const x of v) walk(x);
      return;
    }
    if (typeof v !== 'object' || v === null) return;
    const n = v as Node;
    // Table references carry `alias` and `sample`; query nodes have no alias, expressions carry `class`.
    if (typeof n.type === 'string' && 'sample' in n && 'alias' in n && !('class' in n) && !ALLOWED_RELATIONS.has(n.type)) otherRelations.push(n.type);
    // DuckDB resolves names case-insensitively, so every name is compared in lower case.
    if (n.type === 'BASE_TABLE' && typeof n.table_name === 'string') {
      tables.push({ catalog: String(n.catalog_name ?? '').toLowerCase(), schema: String(n.schema_name ?? '').toLowerCase(), table: n.table_name.toLowerCase() });
    }
    if (n.type === 'TABLE_FUNCTION' && typeof n.function === 'object' && n.function !== null) {
      tableFunctions.push(String((n.function as Node).function_name ?? ''));
    } else if ((n.class === 'FUNCTION' || n.class === 'AGGREGATE' || n.class === 'WINDOW') && typeof n.function_name === 'string') {
      functions.push(n.function_name);
    }
    if (typeof n.cte_map === 'object' && n.cte_map !== null) {
      for (const entry of ((n.cte_map as Node).map as Node[] | undefined) ?? []) {
        if (typeof entry.key === 'string') cteNames.add(entry.key.toLowerCase());
      }
    }
    for (const child of Object.values(n)) walk(child);
  };
  walk(serialized);
  return { tables, tableFunctions, functions, cteNames, otherRelations };
}

const PLAIN_NAME = /^[a-z_][a-z0-9_]{0,127}$/;

/** Table functions that only generate values. Everything else (read_csv, glob, duckdb_tables, query…) is refused. */
export const ALLOWED_TABLE_FUNCTIONS: ReadonlySet<string> = new Set(['range', 'generate_series', 'unnest']);

/** Scalar functions that inspect the engine, its settings or the outside world. */
export const REFUSED_FUNCTION = /^(duckdb_|pg_|sqlite_|pragma_|current_setting|getenv|read_|glob|query|sql_|parquet_|sniff_|which_secret|enable_|disable_|checkpoint|force_checkpoint|current_database|current_catalog|current_schema)/i;

/**
 * Problems with `f` for a query that may only use `dataset`. Unqualified names must be tables in
 * `existing` or CTEs; a CTE may not share its name with a catalog object outside the dataset
 * (`shadowing`), because out of the CTE's scope the same name would reach that object.
 */
export function scopeProblems(f: QueryFootprint, datasetName: string, existingTables: ReadonlySet<string>, shadowing: ReadonlySet<string> = new Set()): string[] {
  const dataset = datasetName.toLowerCase();
  const existing = new Set([...existingTables].map((t) => t.toLowerCase()));
  const problems: string[] = [];
  for (const kind of f.otherRelations) problems.push(`${kind === 'SHOW_REF' ? 'SHOW/DESCRIBE' : kind} is not allowed`);
  // Names must be plain identifiers: DuckDB reads a quoted name that looks like a path as a file.
  for (const name of [...f.cteNames, ...f.tables.map((t) => t.table)]) {
    if (!PLAIN_NAME.test(name)) problems.push(`"${name.slice(0, 80)}" is not a plain table name (letters, digits, underscores)`);
  }
  for (const name of f.cteNames) {
    if (shadowing.has(name.toLowerCase())) problems.push(`WITH name "${name}" is the name of a system view or table; choose another name`);
  }
  for (const t of f.tables) {
    const shown = [t.catalog, t.schema, t.table].filter((p) => p !== '').join('.');
    if (t.catalog !== '') problems.push(`table "${shown}": catalog-qualified names are not allowed`);
    else if (t.schema === '') {
      if (!f.cteNames.has(t.table) && !existing.has(t.table)) problems.push(`table "${shown}" does not exist in dataset ${dataset}`);
    } else if (t.schema !== dataset) problems.push(`table "${shown}" is outside dataset ${dataset}`);
  }
  for (const fn of f.tableFunctions) {
    if (!ALLOWED_TABLE_FUNCTIONS.has(fn.toLowerCase())) problems.push(`table function ${fn}() is not allowed`);
  }
  for (const fn of f.functions) {
    if (f.tableFunctions.includes(fn)) continue; // reported above
    if (REFUSED_FUNCTION.test(fn)) problems.push(`function ${fn}() is not allowed`);
  }
  return [...new Set(problems)];
}
