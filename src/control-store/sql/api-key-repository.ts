import type { SqlExecutor } from '../../core/sql.js';
import type { ApiKeyRepository } from '../control-store.js';
import type { ApiKeyRecord } from '../records.js';
import { T } from './tables.js';

export function sqlApiKeyRepository(db: SqlExecutor): ApiKeyRepository {
  return {
    async insert(k) {
      await db.execute(
        `INSERT INTO ${T.apiKeys}
           (api_key_id, org_slug, api_key_hash, fingerprint, is_active, created_at, created_by, revoked_at, revoked_reason, expires_at, last_used_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
        [k.api_key_id, k.org_slug, k.api_key_hash, k.fingerprint, k.is_active, k.created_at, k.created_by, k.revoked_at, k.revoked_reason, k.expires_at, k.last_used_at],
      );
    },

    async findByHash(hash) {
      const rows = await db.query<ApiKeyRecord & Record<string, unknown>>(`SELECT * FROM ${T.apiKeys} WHERE api_key_hash = $1`, [hash]);
      return rows[0];
    },

    async findForAuth(hash) {
      const rows = await db.query<ApiKeyRecord & { org_status: string } & Record<string, unknown>>(
        `SELECT k.*, p.status AS org_status FROM ${T.apiKeys} AS k JOIN ${T.profiles} AS p ON p.org_slug = k.org_slug WHERE k.api_key_hash = $1`,
        [hash],
      );
      return rows[0];
    },

    async revokeAllForOrg(orgSlug, at, reason) {
      const rows = await db.query<{ api_key_hash: string }>(
        `UPDATE ${T.apiKeys} SET is_active = FALSE, revoked_at = $2, revoked_reason = $3
         WHERE org_slug = $1 AND is_active RETURNING api_key_hash`,
        [orgSlug, at, reason],
      );
      return rows.map((r) => r.api_key_hash);
    },

    async revokeByHash(hash, at, reason) {
      const rows = await db.query<ApiKeyRecord & Record<string, unknown>>(
        `UPDATE ${T.apiKeys} SET is_active = FALSE, revoked_at = $2, revoked_reason = $3
         WHERE api_key_hash = $1 AND is_active RETURNING *`,
        [hash, at, reason],
      );
      return rows[0];
    },

    async touchLastUsed(ids, at) {
      if (ids.length === 0) return;
      // One statement per flush; ids are bound, the placeholder list is generated from the count.
      const placeholders = ids.map((_, i) => `$${i + 2}`).join(', ');
      await db.execute(`UPDATE ${T.apiKeys} SET last_used_at = $1 WHERE api_key_id IN (${placeholders})`, [at, ...ids]);
    },
  };
}
