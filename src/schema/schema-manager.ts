import type { SqlExecutor } from '../core/sql.js';
import { addColumnStatement, columnType, createTableStatements, qualifiedName, quoteIdent, type Dialect } from './ddl.js';
import type { TableSchema } from './table-schema.js';

/**
 * Creates and upgrades tables from their JSON schemas on a SQL engine with an information_schema
 * (DuckDB and PostgreSQL). Idempotent: existing tables are left alone except for columns that are
 * new in the schema file, which are added (nullable).
 */
export type TableAction = 'created' | 'existing' | 'recreated';

export interface TableReport {
  readonly table: string;
  readonly action: TableAction;
  readonly columns_added: readonly string[];
  /** Columns whose type in the engine differs from the schema file; reported, never altered. */
  readonly type_mismatches: readonly { column: string; expected: string; actual: string }[];
}

export class SqlSchemaManager {
  constructor(
    private readonly db: SqlExecutor,
    private readonly dialect: Extract<Dialect, 'duckdb' | 'postgres'>,
  ) {}

  async schemaExists(schema: string): Promise<boolean> {
    const rows = await this.db.query('SELECT 1 AS x FROM information_schema.schemata WHERE schema_name = $1', [schema]);
    return rows.length > 0;
  }

  /** True when it was created. */
  async createSchema(schema: string): Promise<boolean> {
    if (await this.schemaExists(schema)) return false;
    await this.db.execute(`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(this.dialect, schema)}`);
    return true;
  }

  /** True when it existed. */
  async dropSchema(schema: string): Promise<boolean> {
    if (!(await this.schemaExists(schema))) return false;
    await this.db.execute(`DROP SCHEMA IF EXISTS ${quoteIdent(this.dialect, schema)} CASCADE`);
    return true;
  }

  async existingTables(schema: string): Promise<Set<string>> {
    const rows = await this.db.query<{ table_name: string }>(
      "SELECT table_name FROM information_schema.tables WHERE table_schema = $1 AND table_type = 'BASE TABLE'",
      [schema],
    );
    return new Set(rows.map((r) => r.table_name));
  }

  async ensureTables(schema: string, tables: readonly TableSchema[], opts: { recreate?: boolean } = {}): Promise<TableReport[]> {
    const existing = await this.existingTables(schema);
    const reports: TableReport[] = [];
    for (const table of tables) {
      const ref = { dataset: schema, table: table.name };
      if (existing.has(table.name) && opts.recreate === true) {
        await this.db.execute(`DROP TABLE ${qualifiedName(this.dialect, ref)} CASCADE`);
        await this.create(ref, table);
        reports.push({ table: table.name, action: 'recreated', columns_added: [], type_mismatches: [] });
      } else if (existing.has(table.name)) {
        reports.push({ table: table.name, action: 'existing', ...(await this.upgrade(schema, table)) });
      } else {
        await this.create(ref, table);
        reports.push({ table: table.name, action: 'created', columns_added: [], type_mismatches: [] });
      }
    }
    return reports;
  }

  private async create(ref: { dataset: string; table: string }, table: TableSchema): Promise<void> {
    for (const sql of createTableStatements(this.dialect, ref, table)) await this.db.execute(sql);
  }

  private async upgrade(schema: string, table: TableSchema): Promise<Pick<TableReport, 'columns_added' | 'type_mismatches'>> {
    const rows = await this.db.query<{ column_name: string; data_type: string }>(
      'SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = $1 AND table_name = $2',
      [schema, table.name],
    );
    const actual = new Map(rows.map((r) => [r.column_name.toLowerCase(), r.data_type]));
    const added: string[] = [];
    const mismatches: { column: string; expected: string; actual: string }[] = [];
    for (const field of table.fields) {
      const found = actual.get(field.name.toLowerCase());
      if (found === undefined) {
        await this.db.execute(addColumnStatement(this.dialect, { dataset: schema, table: table.name }, field));
        added.push(field.name);
      } else if (!sameType(this.dialect, columnType(this.dialect, field), found)) {
        mismatches.push({ column: field.name, expected: columnType(this.dialect, field), actual: found });
      }
    }
    return { columns_added: added, type_mismatches: mismatches };
  }
}

/** information_schema spells some types differently from DDL; compare loosely. */
function sameType(dialect: Dialect, expected: string, actual: string): boolean {
  const norm = (t: string): string => {
    const s = t.toUpperCase().replace(/\s+/g, ' ').replace(/"/g, '');
    if (dialect === 'postgres') {
      return (
        {
          TEXT: 'TEXT', BIGINT: 'BIGINT', 'DOUBLE PRECISION': 'DOUBLE PRECISION', BOOLEAN: 'BOOLEAN',
          'TIMESTAMP WITH TIME ZONE': 'TIMESTAMPTZ', 'TIMESTAMP WITHOUT TIME ZONE': 'TIMESTAMP',
          'TIME WITHOUT TIME ZONE': 'TIME', ARRAY: 'ARRAY', NUMERIC: 'NUMERIC',
        }[s] ?? s
      );
    }
    return s.replaceAll('TIMESTAMP WITH TIME ZONE', 'TIMESTAMPTZ');
  };
  const e = norm(expected);
  const a = norm(actual);
  if (dialect === 'postgres' && (e.endsWith('[]') || e.startsWith('NUMERIC'))) return a === 'ARRAY' || a.startsWith('NUMERIC');
  return e === a;
}
