import type { SqlExecutor } from '../../core/sql.js';
import type { ScheduleRepository } from '../control-store.js';
import type { ScheduleRecord } from '../records.js';
import { jsonParam, parseJsonColumn, T } from './tables.js';

const row = (r: ScheduleRecord & Record<string, unknown>): ScheduleRecord => ({ ...r, parameters: parseJsonColumn(r.parameters) });

export function sqlScheduleRepository(db: SqlExecutor): ScheduleRepository {
  return {
    async insert(s) {
      await db.execute(
        `INSERT INTO ${T.schedules} (schedule_id, org_slug, pipeline, cron, timezone, parameters, missed_run_policy, is_active, next_run_at, last_run_at, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
        [s.schedule_id, s.org_slug, s.pipeline, s.cron, s.timezone, jsonParam(s.parameters), s.missed_run_policy, s.is_active, s.next_run_at, s.last_run_at, s.created_at, s.updated_at],
      );
    },

    async update(s) {
      const n = await db.execute(
        `UPDATE ${T.schedules} SET pipeline = $3, cron = $4, timezone = $5, parameters = $6, missed_run_policy = $7, is_active = $8, next_run_at = $9, updated_at = $10
         WHERE schedule_id = $1 AND org_slug = $2`,
        [s.schedule_id, s.org_slug, s.pipeline, s.cron, s.timezone, jsonParam(s.parameters), s.missed_run_policy, s.is_active, s.next_run_at, s.updated_at],
      );
      return n > 0;
    },

    async get(orgSlug, id) {
      const rows = await db.query<ScheduleRecord & Record<string, unknown>>(`SELECT * FROM ${T.schedules} WHERE org_slug = $1 AND schedule_id = $2`, [orgSlug, id]);
      return rows[0] === undefined ? undefined : row(rows[0]);
    },

    async list(orgSlug) {
      const rows = await db.query<ScheduleRecord & Record<string, unknown>>(`SELECT * FROM ${T.schedules} WHERE org_slug = $1 ORDER BY created_at, schedule_id`, [orgSlug]);
      return rows.map(row);
    },

    async delete(orgSlug, id) {
      return (await db.execute(`DELETE FROM ${T.schedules} WHERE org_slug = $1 AND schedule_id = $2`, [orgSlug, id])) > 0;
    },

    async due(now, limit) {
      const rows = await db.query<ScheduleRecord & Record<string, unknown>>(
        `SELECT * FROM ${T.schedules} WHERE is_active AND next_run_at <= $1 ORDER BY next_run_at LIMIT $2`,
        [now, limit],
      );
      return rows.map(row);
    },

    async advance(id, expectedNext, next, lastRun, now) {
      // Only the ticker that saw `expectedNext` moves the schedule on; a second ticker finds it moved.
      const n = await db.execute(
        `UPDATE ${T.schedules} SET next_run_at = $3, last_run_at = COALESCE($4, last_run_at), updated_at = $5
         WHERE schedule_id = $1 AND next_run_at = $2`,
        [id, expectedNext, next, lastRun, now],
      );
      return n > 0;
    },
  };
}
