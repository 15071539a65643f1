import type { SqlExecutor } from '../../core/sql.js';
import type { PipelineConfigRepository } from '../control-store.js';
import type { PipelineConfigRecord } from '../records.js';
import { T } from './tables.js';

export function sqlPipelineConfigRepository(db: SqlExecutor): PipelineConfigRepository {
  return {
    async get(orgSlug, configId) {
      const rows = await db.query<PipelineConfigRecord & Record<string, unknown>>(
        `SELECT * FROM ${T.pipelineConfigs} WHERE org_slug = $1 AND config_id = $2 AND is_active ORDER BY version DESC LIMIT 1`,
        [orgSlug, configId],
      );
      return rows[0];
    },

    async list(orgSlug) {
      return db.query<PipelineConfigRecord & Record<string, unknown>>(
        `SELECT c.* FROM ${T.pipelineConfigs} AS c
         WHERE c.org_slug = $1 AND c.is_active
           AND c.version = (SELECT MAX(v.version) FROM ${T.pipelineConfigs} AS v WHERE v.org_slug = c.org_slug AND v.config_id = c.config_id AND v.is_active)
         ORDER BY c.config_id`,
        [orgSlug],
      );
    },

    async lastVersion(orgSlug, configId) {
      const rows = await db.query<{ v: number | null }>(`SELECT MAX(version) AS v FROM ${T.pipelineConfigs} WHERE org_slug = $1 AND config_id = $2`, [orgSlug, configId]);
      return Number(rows[0]?.v ?? 0);
    },

    async insert(r) {
      await db.execute(`UPDATE ${T.pipelineConfigs} SET is_active = FALSE WHERE org_slug = $1 AND config_id = $2 AND is_active`, [r.org_slug, r.config_id]);
      await db.execute(
        `INSERT INTO ${T.pipelineConfigs} (org_slug, config_id, version, yaml, is_active, created_at, created_by) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
        [r.org_slug, r.config_id, r.version, r.yaml, r.is_active, r.created_at, r.created_by],
      );
    },

    async deactivate(orgSlug, configId) {
      return db.execute(`UPDATE ${T.pipelineConfigs} SET is_active = FALSE WHERE org_slug = $1 AND config_id = $2 AND is_active`, [orgSlug, configId]);
    },
  };
}
