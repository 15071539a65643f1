import type { SqlExecutor } from '../../core/sql.js';
import type { AuditRepository } from '../control-store.js';
import type { AuditEntry } from '../records.js';
import { jsonParam, parseJsonColumn, T } from './tables.js';

export function sqlAuditRepository(db: SqlExecutor): AuditRepository {
  return {
    async append(e) {
      await db.execute(
        `INSERT INTO ${T.audit}
           (audit_id, org_slug, actor, user_id, action, resource, request_id, status, status_code, details, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
        [e.audit_id, e.org_slug, e.actor, e.user_id, e.action, e.resource, e.request_id, e.status, e.status_code, jsonParam(e.details), e.created_at],
      );
    },

    async listForOrg(orgSlug, limit) {
      const rows = await db.query<AuditEntry & Record<string, unknown>>(
        `SELECT * FROM ${T.audit} WHERE org_slug = $1 ORDER BY created_at DESC, audit_id DESC LIMIT $2`,
        [orgSlug, limit],
      );
      return rows.map((r) => ({ ...r, details: parseJsonColumn(r.details) }));
    },
  };
}
