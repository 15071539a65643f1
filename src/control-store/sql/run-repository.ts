import type { SqlExecutor } from '../../core/sql.js';
import type { RunRepository } from '../control-store.js';
import type { RunRecord, StepLogRecord } from '../records.js';
import { jsonParam, parseJsonColumn, T } from './tables.js';

export function sqlRunRepository(db: SqlExecutor): RunRepository {
  return {
    async insertCompletedRun(r, steps) {
      await db.execute(
        `INSERT INTO ${T.runs}
           (pipeline_logging_id, org_slug, pipeline_id, pipeline_path, status, trigger_type, trigger_by, user_id, parameters,
            attempt, created_at, start_time, end_time, duration_ms, error_message)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)`,
        [
          r.pipeline_logging_id, r.org_slug, r.pipeline_id, r.pipeline_path, r.status, r.trigger_type, r.trigger_by, r.user_id,
          jsonParam(r.parameters), r.attempt, r.created_at, r.start_time, r.end_time, r.duration_ms, r.error_message,
        ],
      );
      for (const s of steps) {
        await db.execute(
          `INSERT INTO ${T.steps}
             (step_logging_id, pipeline_logging_id, org_slug, step_id, ps_type, status, attempt, created_at, start_time, end_time,
              duration_ms, rows_processed, error_message, metadata)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`,
          [
            s.step_logging_id, s.pipeline_logging_id, s.org_slug, s.step_id, s.ps_type, s.status, s.attempt, s.created_at, s.start_time,
            s.end_time, s.duration_ms, s.rows_processed, s.error_message, jsonParam(s.metadata),
          ],
        );
      }
    },

    async getRun(orgSlug, id) {
      const rows = await db.query<RunRecord & Record<string, unknown>>(
        `SELECT * FROM ${T.runs} WHERE org_slug = $1 AND pipeline_logging_id = $2`,
        [orgSlug, id],
      );
      const r = rows[0];
      return r === undefined ? undefined : { ...r, parameters: parseJsonColumn(r.parameters) };
    },

    async listSteps(orgSlug, id) {
      const rows = await db.query<StepLogRecord & Record<string, unknown>>(
        `SELECT * FROM ${T.steps} WHERE org_slug = $1 AND pipeline_logging_id = $2 ORDER BY created_at, step_logging_id`,
        [orgSlug, id],
      );
      return rows.map((s) => ({ ...s, metadata: parseJsonColumn(s.metadata) }));
    },
  };
}
