import type { Row, SqlValue } from '../../core/sql.js';
import type { DuckDbDatabase, DuckDbSession } from '../../duckdb/duckdb-database.js';
import { qualifiedName } from '../../schema/ddl.js';
import { SqlSchemaManager } from '../../schema/schema-manager.js';
import { TABLE_REFERENCE, type Warehouse } from '../warehouse.js';

/**
 * The embedded warehouse: one DuckDB schema per dataset, in the same file as the control store
 * but on its own session, so long queries never hold up the control plane.
 */
export class DuckDbWarehouse implements Warehouse {
  readonly kind = 'duckdb' as const;
  private readonly schema: SqlSchemaManager;

  private constructor(private readonly session: DuckDbSession) {
    this.schema = new SqlSchemaManager(session, 'duckdb');
  }

  static async open(db: DuckDbDatabase): Promise<DuckDbWarehouse> {
    return new DuckDbWarehouse(await db.session());
  }

  async ping(): Promise<void> {
    await this.session.query('SELECT 1 AS ok');
  }

  datasetExists(dataset: string): Promise<boolean> {
    return this.schema.schemaExists(dataset);
  }

  // DuckDB schemas carry no labels or descriptions; the options matter to BigQuery.
  createDataset(dataset: string): Promise<boolean> {
    return this.schema.createSchema(dataset);
  }

  dropDataset(dataset: string): Promise<boolean> {
    return this.schema.dropSchema(dataset);
  }

  ensureTables(...args: Parameters<Warehouse['ensureTables']>): ReturnType<Warehouse['ensureTables']> {
    return this.schema.ensureTables(...args);
  }

  async createOrReplaceView(dataset: string, view: string, sql: string): Promise<void> {
    const body = sql.replace(TABLE_REFERENCE, (_, d: string, t: string) => qualifiedName('duckdb', { dataset: d, table: t }));
    await this.session.execute(`CREATE OR REPLACE VIEW ${qualifiedName('duckdb', { dataset, table: view })} AS\n${body}`);
  }

  async listTables(dataset: string): Promise<string[]> {
    return [...(await this.schema.existingTables(dataset))].sort();
  }

  async reservedDatasetNames(): Promise<string[]> {
    // A schema named like an attached catalog (the file's own name, system, temp) makes
    // two-part names ambiguous in DuckDB.
    const rows = await this.session.query<{ database_name: string }>('SELECT database_name FROM duckdb_databases()');
    return rows.map((r) => r.database_name);
  }

  query<T extends Row = Row>(sql: string, params: readonly SqlValue[] = []): Promise<T[]> {
    return this.session.query<T>(sql, params);
  }

  async close(): Promise<void> {
    // Closed with the shared database by the composition root.
  }
}
