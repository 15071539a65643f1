import type { SqlExecutor } from '../../core/sql.js';
import type { OrgRepository } from '../control-store.js';
import type { OrgProfile, Subscription, UsageQuota } from '../records.js';
import { T } from './tables.js';

/** SQL shared by DuckDB and PostgreSQL: `$n` parameters, information_schema, standard DML. */
export function sqlOrgRepository(db: SqlExecutor): OrgRepository {
  return {
    async getProfile(orgSlug) {
      const rows = await db.query<OrgProfile & Record<string, unknown>>(`SELECT * FROM ${T.profiles} WHERE org_slug = $1`, [orgSlug]);
      return rows[0];
    },

    async insertProfile(p) {
      await db.execute(
        `INSERT INTO ${T.profiles} (org_slug, company_name, admin_email, status, dataset_id, created_at, updated_at, deleted_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
        [p.org_slug, p.company_name, p.admin_email, p.status, p.dataset_id, p.created_at, p.updated_at, p.deleted_at],
      );
    },

    async markDeleted(orgSlug, at) {
      await db.execute(`UPDATE ${T.profiles} SET status = 'DELETED', deleted_at = $2, updated_at = $2 WHERE org_slug = $1 AND status <> 'DELETED'`, [orgSlug, at]);
    },

    async getSubscription(orgSlug) {
      const rows = await db.query<Subscription & Record<string, unknown>>(`SELECT * FROM ${T.subscriptions} WHERE org_slug = $1`, [orgSlug]);
      return rows[0];
    },

    async insertSubscription(s) {
      await db.execute(
        `INSERT INTO ${T.subscriptions}
           (org_slug, plan_name, status, daily_limit, monthly_limit, concurrent_limit, trial_end_date, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, CAST($7 AS DATE), $8, $9)`,
        [s.org_slug, s.plan_name, s.status, s.daily_limit, s.monthly_limit, s.concurrent_limit, s.trial_end_date, s.created_at, s.updated_at],
      );
    },

    async updateSubscription(orgSlug, patch, at) {
      // A fixed statement: absent fields keep their value (COALESCE), so no SQL is assembled from input.
      await db.execute(
        `UPDATE ${T.subscriptions} SET
           plan_name = COALESCE($2, plan_name),
           status = COALESCE($3, status),
           daily_limit = COALESCE($4, daily_limit),
           monthly_limit = COALESCE($5, monthly_limit),
           concurrent_limit = COALESCE($6, concurrent_limit),
           trial_end_date = CASE WHEN $7 THEN CAST($8 AS DATE) ELSE trial_end_date END,
           updated_at = $9
         WHERE org_slug = $1`,
        [
          orgSlug,
          patch.plan_name ?? null,
          patch.status ?? null,
          patch.daily_limit ?? null,
          patch.monthly_limit ?? null,
          patch.concurrent_limit ?? null,
          patch.trial_end_date !== undefined,
          patch.trial_end_date ?? null,
          at,
        ],
      );
    },

    async insertUsage(u) {
      await db.execute(
        `INSERT INTO ${T.usage}
           (org_slug, usage_date, pipelines_run_today, pipelines_run_month, concurrent_running, pipelines_failed_today, updated_at)
         VALUES ($1, CAST($2 AS DATE), $3, $4, $5, $6, $7)`,
        [u.org_slug, u.usage_date, u.pipelines_run_today, u.pipelines_run_month, u.concurrent_running, u.pipelines_failed_today, u.updated_at],
      );
    },

    async getUsage(orgSlug, usageDate) {
      const rows = await db.query<UsageQuota & Record<string, unknown>>(
        `SELECT * FROM ${T.usage} WHERE org_slug = $1 AND usage_date = CAST($2 AS DATE)`,
        [orgSlug, usageDate],
      );
      return rows[0];
    },

    async monthRuns(orgSlug, usageDate) {
      const rows = await db.query<{ n: number | null }>(
        `SELECT SUM(pipelines_run_today) AS n FROM ${T.usage}
         WHERE org_slug = $1 AND usage_date BETWEEN CAST(date_trunc('month', CAST($2 AS DATE)) AS DATE) AND CAST($2 AS DATE)`,
        [orgSlug, usageDate],
      );
      return Number(rows[0]?.n ?? 0);
    },

    async lockUsage(orgSlug, usageDate, at) {
      // Creates the day's row if needed, then takes its row lock (PostgreSQL) / write intent (DuckDB):
      // admissions for one org serialize here, so counts read after it are exact.
      await db.execute(
        `INSERT INTO ${T.usage} (org_slug, usage_date, pipelines_run_today, pipelines_run_month, concurrent_running, pipelines_failed_today, updated_at)
         VALUES ($1, CAST($2 AS DATE), 0, 0, 0, 0, $3) ON CONFLICT DO NOTHING`,
        [orgSlug, usageDate, at],
      );
      await db.execute(`UPDATE ${T.usage} SET updated_at = $3 WHERE org_slug = $1 AND usage_date = CAST($2 AS DATE)`, [orgSlug, usageDate, at]);
    },

    async recordAdmission(orgSlug, usageDate, monthTotal, concurrent, at) {
      await db.execute(
        `UPDATE ${T.usage} SET pipelines_run_today = pipelines_run_today + 1, pipelines_run_month = $3, concurrent_running = $4, updated_at = $5
         WHERE org_slug = $1 AND usage_date = CAST($2 AS DATE)`,
        [orgSlug, usageDate, monthTotal, concurrent, at],
      );
    },

    async recordRunEnd(orgSlug, usageDate, concurrent, failures, at) {
      const update = (): Promise<number> =>
        db.execute(
          `UPDATE ${T.usage} SET concurrent_running = $3, pipelines_failed_today = COALESCE(pipelines_failed_today, 0) + $4, updated_at = $5
           WHERE org_slug = $1 AND usage_date = CAST($2 AS DATE)`,
          [orgSlug, usageDate, concurrent, failures, at],
        );
      // The day's row exists from the admission; only a run that ends after midnight creates it.
      if ((await update()) > 0) return;
      await db.execute(
        `INSERT INTO ${T.usage} (org_slug, usage_date, pipelines_run_today, pipelines_run_month, concurrent_running, pipelines_failed_today, updated_at)
         VALUES ($1, CAST($2 AS DATE), 0, 0, 0, 0, $3) ON CONFLICT DO NOTHING`,
        [orgSlug, usageDate, at],
      );
      await update();
    },

    async deactivateSchedules(orgSlug, at) {
      return db.execute(`UPDATE ${T.schedules} SET is_active = FALSE, updated_at = $2 WHERE org_slug = $1 AND is_active`, [orgSlug, at]);
    },

    async purge(orgSlug) {
      for (const table of T.everyOrgTable) await db.execute(`DELETE FROM ${table} WHERE org_slug = $1`, [orgSlug]);
    },
  };
}
