import type { SqlExecutor, SqlValue } from '../../core/sql.js';
import type { QueueRepository } from '../control-store.js';
import type { QueueCandidate, QueueItem } from '../records.js';
import { T } from './tables.js';

const COLUMNS = [
  'queue_id', 'org_slug', 'pipeline_logging_id', 'priority', 'status', 'available_at', 'lease_owner', 'lease_expires_at', 'attempt',
  'max_attempts', 'dedupe_key', 'schedule_id', 'scheduled_time', 'created_at', 'updated_at',
] as const;

const values = (q: QueueItem): SqlValue[] => [
  q.queue_id, q.org_slug, q.pipeline_logging_id, q.priority, q.status, q.available_at, q.lease_owner, q.lease_expires_at, q.attempt,
  q.max_attempts, q.dedupe_key, q.schedule_id, q.scheduled_time, q.created_at, q.updated_at,
];

/** SQL shared by DuckDB and PostgreSQL. */
export function sqlQueueRepository(db: SqlExecutor): QueueRepository {
  return {
    async enqueue(item) {
      const n = await db.execute(
        `INSERT INTO ${T.queue} (${COLUMNS.join(', ')}) VALUES (${COLUMNS.map((_, i) => `$${i + 1}`).join(', ')}) ON CONFLICT DO NOTHING`,
        values(item),
      );
      return n > 0;
    },

    async candidates(now, limit) {
      // Priority first; then round-robin across orgs: an item's turn is what its org already runs plus
      // its place in the org's line (oldest 1, next 2, …), so one org's backlog cannot starve another's; then age.
      return db.query<QueueCandidate & Record<string, unknown>>(
        `WITH ready AS (
           SELECT q.queue_id, q.org_slug, q.pipeline_logging_id, q.priority, q.created_at,
                  ROW_NUMBER() OVER (PARTITION BY q.org_slug, q.priority ORDER BY q.created_at, q.queue_id) AS org_rank
           FROM ${T.queue} AS q
           WHERE q.status = 'QUEUED' AND q.available_at <= $1
         ),
         running AS (SELECT org_slug, COUNT(*) AS n FROM ${T.queue} WHERE status = 'RUNNING' GROUP BY org_slug)
         SELECT r.queue_id, r.org_slug, r.pipeline_logging_id, r.priority,
                COALESCE(running.n, 0) AS org_running, COALESCE(s.concurrent_limit, 1) AS concurrent_limit
         FROM ready AS r
         LEFT JOIN running ON running.org_slug = r.org_slug
         LEFT JOIN ${T.subscriptions} AS s ON s.org_slug = r.org_slug
         WHERE COALESCE(running.n, 0) < COALESCE(s.concurrent_limit, 1)
         ORDER BY r.priority DESC, COALESCE(running.n, 0) + r.org_rank, r.created_at, r.queue_id
         LIMIT $2`,
        [now, limit],
      );
    },

    async claim(queueId, owner, leaseUntil, now) {
      const rows = await db.query<{ attempt: number }>(
        `UPDATE ${T.queue} SET status = 'RUNNING', lease_owner = $2, lease_expires_at = $3, attempt = attempt + 1, updated_at = $4
         WHERE queue_id = $1 AND status = 'QUEUED' RETURNING attempt`,
        [queueId, owner, leaseUntil, now],
      );
      return rows[0]?.attempt;
    },

    async renew(queueId, owner, attempt, leaseUntil, now) {
      const n = await db.execute(
        `UPDATE ${T.queue} SET lease_expires_at = $4, updated_at = $5
         WHERE queue_id = $1 AND lease_owner = $2 AND attempt = $3 AND status = 'RUNNING'`,
        [queueId, owner, attempt, leaseUntil, now],
      );
      return n > 0;
    },

    async complete(queueId, attempt, now) {
      const n = await db.execute(
        `UPDATE ${T.queue} SET status = 'DONE', lease_owner = NULL, lease_expires_at = NULL, updated_at = $3
         WHERE queue_id = $1 AND attempt = $2 AND status = 'RUNNING'`,
        [queueId, attempt, now],
      );
      return n > 0;
    },

    async cancel(pipelineLoggingId, now) {
      const rows = await db.query<{ status: string }>(
        `UPDATE ${T.queue} SET status = 'CANCELLED', lease_owner = NULL, lease_expires_at = NULL, updated_at = $2
         WHERE pipeline_logging_id = $1 AND status IN ('QUEUED', 'RUNNING') RETURNING status`,
        [pipelineLoggingId, now],
      );
      return rows.length > 0;
    },

    async expired(now, limit) {
      return db.query<QueueItem & Record<string, unknown>>(
        `SELECT * FROM ${T.queue} WHERE status = 'RUNNING' AND lease_expires_at < $1 ORDER BY lease_expires_at LIMIT $2`,
        [now, limit],
      );
    },

    async requeue(queueId, attempt, availableAt, now) {
      const n = await db.execute(
        `UPDATE ${T.queue} SET status = 'QUEUED', lease_owner = NULL, lease_expires_at = NULL, available_at = $3, updated_at = $4
         WHERE queue_id = $1 AND attempt = $2 AND status = 'RUNNING'`,
        [queueId, attempt, availableAt, now],
      );
      return n > 0;
    },

    async expireLeases(now) {
      return db.execute(`UPDATE ${T.queue} SET lease_expires_at = $1 WHERE status = 'RUNNING'`, [now]);
    },

    async get(pipelineLoggingId) {
      const rows = await db.query<QueueItem & Record<string, unknown>>(`SELECT * FROM ${T.queue} WHERE pipeline_logging_id = $1`, [pipelineLoggingId]);
      return rows[0];
    },

    async depth(now) {
      const rows = await db.query<{ n: number; oldest: Date | null }>(
        `SELECT COUNT(*) AS n, MIN(created_at) AS oldest FROM ${T.queue} WHERE status = 'QUEUED' AND available_at <= $1`,
        [now],
      );
      return { queued: Number(rows[0]?.n ?? 0), oldest: rows[0]?.oldest ?? null };
    },
  };
}
