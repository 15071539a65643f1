import type { SqlExecutor, SqlValue } from '../../core/sql.js';
import type { RunRepository } from '../control-store.js';
import type { DqResultRecord, RunRecord, StepLogRecord } from '../records.js';
import { jsonParam, parseJsonColumn, T } from './tables.js';

const RUN_COLUMNS = [
  'pipeline_logging_id', 'org_slug', 'pipeline_id', 'pipeline_path', 'status', 'trigger_type', 'trigger_by', 'user_id', 'parameters',
  'attempt', 'created_at', 'start_time', 'end_time', 'duration_ms', 'error_message',
] as const;
const STEP_COLUMNS = [
  'step_logging_id', 'pipeline_logging_id', 'org_slug', 'step_id', 'ps_type', 'status', 'attempt', 'created_at', 'start_time', 'end_time',
  'duration_ms', 'rows_processed', 'error_message', 'metadata',
] as const;
const DQ_COLUMNS = [
  'dq_result_id', 'pipeline_logging_id', 'org_slug', 'step_id', 'check_name', 'check_type', 'target_table', 'status', 'severity',
  'observed_value', 'expected_value', 'row_count', 'failed_row_count', 'message', 'created_at',
] as const;

/** One multi-row INSERT for `rows` (columns fixed by the caller, values bound). */
async function insertRows(db: SqlExecutor, table: string, columns: readonly string[], rows: readonly SqlValue[][]): Promise<void> {
  if (rows.length === 0) return;
  const tuples = rows.map((_, r) => `(${columns.map((__, c) => `$${r * columns.length + c + 1}`).join(', ')})`);
  await db.execute(`INSERT INTO ${table} (${columns.join(', ')}) VALUES ${tuples.join(', ')}`, rows.flat());
}

const runValues = (r: RunRecord): SqlValue[] => [
  r.pipeline_logging_id, r.org_slug, r.pipeline_id, r.pipeline_path, r.status, r.trigger_type, r.trigger_by, r.user_id,
  jsonParam(r.parameters), r.attempt, r.created_at, r.start_time, r.end_time, r.duration_ms, r.error_message,
];
const stepValues = (s: StepLogRecord): SqlValue[] => [
  s.step_logging_id, s.pipeline_logging_id, s.org_slug, s.step_id, s.ps_type, s.status, s.attempt, s.created_at, s.start_time,
  s.end_time, s.duration_ms, s.rows_processed, s.error_message, jsonParam(s.metadata),
];
const dqValues = (d: DqResultRecord): SqlValue[] => [
  d.dq_result_id, d.pipeline_logging_id, d.org_slug, d.step_id, d.check_name, d.check_type, d.target_table, d.status, d.severity,
  d.observed_value, d.expected_value, d.row_count, d.failed_row_count, d.message, d.created_at,
];
const runRow = (r: RunRecord & Record<string, unknown>): RunRecord => ({ ...r, parameters: parseJsonColumn(r.parameters) });

// Rows per INSERT statement: keeps the parameter count well under every engine's limit.
const CHUNK = 200;

export function sqlRunRepository(db: SqlExecutor): RunRepository {
  return {
    async insertCompletedRun(r, steps) {
      await insertRows(db, T.runs, RUN_COLUMNS, [runValues(r)]);
      for (let i = 0; i < steps.length; i += CHUNK) await insertRows(db, T.steps, STEP_COLUMNS, steps.slice(i, i + CHUNK).map(stepValues));
    },

    async insertRun(r) {
      await insertRows(db, T.runs, RUN_COLUMNS, [runValues(r)]);
    },

    async startRun(id, at, attempt) {
      const n = await db.execute(
        `UPDATE ${T.runs} SET status = 'RUNNING', start_time = $2, attempt = $3, end_time = NULL, duration_ms = NULL, error_message = NULL
         WHERE pipeline_logging_id = $1 AND status = 'QUEUED'`,
        [id, at, attempt],
      );
      return n > 0;
    },

    async finishRun(id, f) {
      // With an attempt, only that attempt may finish the run (a worker that lost its lease cannot).
      const n = await db.execute(
        `UPDATE ${T.runs} SET status = $2, end_time = $3, duration_ms = $4, error_message = $5
         WHERE pipeline_logging_id = $1 AND status IN ('QUEUED', 'RUNNING') AND (CAST($6 AS BIGINT) IS NULL OR attempt = $6)`,
        [id, f.status, f.end_time, f.duration_ms, f.error_message, f.attempt ?? null],
      );
      return n > 0;
    },

    async interruptRun(id, attempt, next, message, at) {
      await db.execute(
        `UPDATE ${T.steps} SET status = CASE WHEN status = 'RUNNING' THEN 'FAILED' ELSE 'SKIPPED' END, end_time = $2,
           error_message = CASE WHEN status = 'RUNNING' THEN $3 ELSE error_message END
         WHERE pipeline_logging_id = $1 AND status IN ('PENDING', 'RUNNING')`,
        [id, at, message],
      );
      const n = await db.execute(
        // Requeued, the run moves to the next attempt at once: the lost attempt is fenced off from now on.
        `UPDATE ${T.runs} SET status = $3, error_message = $4, end_time = CASE WHEN $3 = 'QUEUED' THEN NULL ELSE $5 END,
           attempt = CASE WHEN $3 = 'QUEUED' THEN attempt + 1 ELSE attempt END
         WHERE pipeline_logging_id = $1 AND attempt = $2 AND status IN ('QUEUED', 'RUNNING')`,
        [id, attempt, next, message, at],
      );
      return n > 0;
    },

    async insertSteps(steps) {
      for (let i = 0; i < steps.length; i += CHUNK) await insertRows(db, T.steps, STEP_COLUMNS, steps.slice(i, i + CHUNK).map(stepValues));
    },

    async updateStep(id, p) {
      // Fixed statement; absent fields keep their value.
      await db.execute(
        `UPDATE ${T.steps} SET status = $2, attempt = $3,
           start_time = CASE WHEN $4 THEN $5 ELSE start_time END,
           end_time = CASE WHEN $6 THEN $7 ELSE end_time END,
           duration_ms = CASE WHEN $8 THEN $9 ELSE duration_ms END,
           rows_processed = CASE WHEN $10 THEN $11 ELSE rows_processed END,
           error_message = CASE WHEN $12 THEN $13 ELSE error_message END,
           metadata = CASE WHEN $14 THEN CAST($15 AS JSON) ELSE metadata END
         WHERE step_logging_id = $1`,
        [
          id, p.status, p.attempt,
          p.start_time !== undefined, p.start_time ?? null,
          p.end_time !== undefined, p.end_time ?? null,
          p.duration_ms !== undefined, p.duration_ms ?? null,
          p.rows_processed !== undefined, p.rows_processed ?? null,
          p.error_message !== undefined, p.error_message ?? null,
          p.metadata !== undefined, jsonParam(p.metadata),
        ],
      );
    },

    async getRunById(id) {
      const rows = await db.query<RunRecord & Record<string, unknown>>(`SELECT * FROM ${T.runs} WHERE pipeline_logging_id = $1`, [id]);
      return rows[0] === undefined ? undefined : runRow(rows[0]);
    },

    async getRun(orgSlug, id) {
      const rows = await db.query<RunRecord & Record<string, unknown>>(`SELECT * FROM ${T.runs} WHERE org_slug = $1 AND pipeline_logging_id = $2`, [orgSlug, id]);
      return rows[0] === undefined ? undefined : runRow(rows[0]);
    },

    async listRuns(orgSlug, f) {
      // Fixed statement: absent filters are NULL and always true.
      const rows = await db.query<RunRecord & Record<string, unknown>>(
        `SELECT * FROM ${T.runs}
         WHERE org_slug = $1
           AND ($2 IS NULL OR status = $2)
           AND ($3 IS NULL OR pipeline_id = $3)
           AND ($4 IS NULL OR pipeline_path = $4)
           AND (CAST($5 AS TIMESTAMPTZ) IS NULL OR created_at >= $5)
           AND (CAST($6 AS TIMESTAMPTZ) IS NULL OR created_at < $6)
           AND (CAST($7 AS TIMESTAMPTZ) IS NULL OR created_at < $7 OR (created_at = $7 AND pipeline_logging_id < $8))
           AND ($10 IS NULL OR trigger_by = $10)
         ORDER BY created_at DESC, pipeline_logging_id DESC
         LIMIT $9`,
        [orgSlug, f.status ?? null, f.pipelineId ?? null, f.pipelinePath ?? null, f.from ?? null, f.to ?? null, f.before?.createdAt ?? null, f.before?.id ?? null, f.limit, f.triggerBy ?? null],
      );
      return rows.map(runRow);
    },

    async countActive(orgSlug, opts = {}) {
      // Manual admission counts what runs now and what people triggered; scheduled and backfill runs
      // waiting in the queue do not block a person (the queue holds them to the concurrent limit).
      const rows = await db.query<{ n: number }>(
        `SELECT count(*) AS n FROM ${T.runs}
         WHERE org_slug = $1 AND (status = 'RUNNING' OR (status = 'QUEUED' AND ($2 = FALSE OR trigger_type = 'manual')))`,
        [orgSlug, opts.queuedManualOnly === true],
      );
      return Number(rows[0]?.n ?? 0);
    },

    async failInterrupted(message, at) {
      await db.execute(
        `UPDATE ${T.steps} SET status = CASE WHEN status = 'RUNNING' THEN 'FAILED' ELSE 'SKIPPED' END, end_time = $1,
           error_message = CASE WHEN status = 'RUNNING' THEN $2 ELSE error_message END
         WHERE status IN ('PENDING', 'RUNNING')
           AND pipeline_logging_id IN (SELECT pipeline_logging_id FROM ${T.runs} WHERE status IN ('QUEUED', 'RUNNING'))
           AND pipeline_logging_id NOT IN (SELECT pipeline_logging_id FROM ${T.queue} WHERE status IN ('QUEUED', 'RUNNING'))`,
        [at, message],
      );
      const rows = await db.query<{ org_slug: string }>(
        `UPDATE ${T.runs} SET status = 'FAILED', end_time = $1, error_message = $2 WHERE status IN ('QUEUED', 'RUNNING')
           AND pipeline_logging_id NOT IN (SELECT pipeline_logging_id FROM ${T.queue} WHERE status IN ('QUEUED', 'RUNNING')) RETURNING org_slug`,
        [at, message],
      );
      return rows.map((r) => r.org_slug);
    },

    async listSteps(orgSlug, id) {
      const rows = await db.query<StepLogRecord & Record<string, unknown>>(
        `SELECT * FROM ${T.steps} WHERE org_slug = $1 AND pipeline_logging_id = $2 ORDER BY created_at, step_logging_id`,
        [orgSlug, id],
      );
      return rows.map((s) => ({ ...s, metadata: parseJsonColumn(s.metadata) }));
    },

    async insertDqResults(results) {
      for (let i = 0; i < results.length; i += CHUNK) await insertRows(db, T.dq, DQ_COLUMNS, results.slice(i, i + CHUNK).map(dqValues));
    },

    async listDqResults(orgSlug, id) {
      return db.query<DqResultRecord & Record<string, unknown>>(
        `SELECT * FROM ${T.dq} WHERE org_slug = $1 AND pipeline_logging_id = $2 ORDER BY created_at, dq_result_id`,
        [orgSlug, id],
      );
    },
  };
}
