import type { DuckDbDatabase, DuckDbSession } from '../../duckdb/duckdb-database.js';
import { SqlSchemaManager } from '../../schema/schema-manager.js';
import { CENTRAL_DATASET, type CentralSchemaReport, type ControlStore, type Repositories } from '../control-store.js';
import { sqlRepositories } from '../sql/sql-repositories.js';
import { withDuckDbErrors } from './duckdb-errors.js';

/**
 * The embedded control store: the central tables in schema `organizations` of the shared DuckDB
 * file, on a session of its own. All its statements are short, so one connection (serialized)
 * is enough and keeps transactions free of write-write conflicts.
 */
export class DuckDbControlStore implements ControlStore {
  readonly kind = 'duckdb' as const;
  readonly orgs: Repositories['orgs'];
  readonly apiKeys: Repositories['apiKeys'];
  readonly audit: Repositories['audit'];
  readonly runs: Repositories['runs'];
  readonly configs: Repositories['configs'];
  readonly queue: Repositories['queue'];
  readonly schedules: Repositories['schedules'];
  readonly integrations: Repositories['integrations'];
  private readonly schema: SqlSchemaManager;

  private constructor(private readonly session: DuckDbSession) {
    ({ orgs: this.orgs, apiKeys: this.apiKeys, audit: this.audit, runs: this.runs, configs: this.configs, queue: this.queue, schedules: this.schedules, integrations: this.integrations } = sqlRepositories(withDuckDbErrors(session)));
    this.schema = new SqlSchemaManager(session, 'duckdb');
  }

  static async open(db: DuckDbDatabase): Promise<DuckDbControlStore> {
    return new DuckDbControlStore(await db.session());
  }

  transaction<T>(fn: (repos: Repositories) => Promise<T>): Promise<T> {
    return this.session.transaction((tx) => fn(sqlRepositories(withDuckDbErrors(tx))));
  }

  async ensureCentralSchema(tables: Parameters<ControlStore['ensureCentralSchema']>[0], opts: Parameters<ControlStore['ensureCentralSchema']>[1] = {}): Promise<CentralSchemaReport> {
    // DDL is transactional in DuckDB: a failed bootstrap leaves the previous state intact.
    return this.session.transaction(async (tx) => {
      const schema = new SqlSchemaManager(tx, 'duckdb');
      const recreated = opts.recreateDataset === true && (await schema.dropSchema(CENTRAL_DATASET));
      const created = await schema.createSchema(CENTRAL_DATASET);
      const reports = await schema.ensureTables(CENTRAL_DATASET, tables, { recreate: opts.recreateTables === true });
      return { dataset_created: created && !recreated, dataset_recreated: recreated, tables: reports };
    });
  }

  async missingCentralTables(names: readonly string[]): Promise<string[]> {
    const existing = await this.schema.existingTables(CENTRAL_DATASET);
    return names.filter((n) => !existing.has(n));
  }

  async ping(): Promise<void> {
    await this.session.query('SELECT 1 AS ok');
  }

  async close(): Promise<void> {
    // The session is closed with the database (shared with the warehouse) by the composition root.
  }
}
