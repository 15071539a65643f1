import type { SqlExecutor } from '../../core/sql.js';
import type { IntegrationRepository } from '../control-store.js';
import type { IntegrationRecord, PriceOverrideRecord } from '../records.js';
import { jsonParam, parseJsonColumn, T } from './tables.js';

const row = (r: IntegrationRecord & Record<string, unknown>): IntegrationRecord => ({ ...r, config: parseJsonColumn(r.config) });
const COLUMNS =
  'credential_id, org_slug, provider, credential_name, encrypted_credential, key_version, fingerprint, config, validation_status, last_validated_at, last_error, created_at, updated_at';

export function sqlIntegrationRepository(db: SqlExecutor): IntegrationRepository {
  return {
    async get(orgSlug, provider) {
      const rows = await db.query<IntegrationRecord & Record<string, unknown>>(`SELECT ${COLUMNS} FROM ${T.credentials} WHERE org_slug = $1 AND provider = $2`, [orgSlug, provider]);
      return rows[0] === undefined ? undefined : row(rows[0]);
    },

    async list(orgSlug) {
      const rows = await db.query<IntegrationRecord & Record<string, unknown>>(`SELECT ${COLUMNS} FROM ${T.credentials} WHERE org_slug = $1 ORDER BY provider`, [orgSlug]);
      return rows.map(row);
    },

    async replace(r) {
      // One credential per org and provider: a new setup replaces the old one in the same transaction.
      await db.execute(`DELETE FROM ${T.credentials} WHERE org_slug = $1 AND provider = $2`, [r.org_slug, r.provider]);
      await db.execute(
        `INSERT INTO ${T.credentials} (${COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
        [
          r.credential_id, r.org_slug, r.provider, r.credential_name, r.encrypted_credential, r.key_version, r.fingerprint, jsonParam(r.config),
          r.validation_status, r.last_validated_at, r.last_error, r.created_at, r.updated_at,
        ],
      );
    },

    async recordValidation(credentialId, v) {
      const n = await db.execute(
        `UPDATE ${T.credentials} SET validation_status = $2, last_validated_at = $3, last_error = $4, updated_at = $3 WHERE credential_id = $1`,
        [credentialId, v.status, v.at, v.error],
      );
      return n > 0;
    },

    async delete(orgSlug, provider) {
      return (await db.execute(`DELETE FROM ${T.credentials} WHERE org_slug = $1 AND provider = $2`, [orgSlug, provider])) > 0;
    },

    async listForRewrap(limit, afterId) {
      const rows = await db.query<Pick<IntegrationRecord, 'credential_id' | 'org_slug' | 'provider' | 'encrypted_credential' | 'key_version'>>(
        `SELECT credential_id, org_slug, provider, encrypted_credential, key_version FROM ${T.credentials} WHERE credential_id > $1 ORDER BY credential_id LIMIT $2`,
        [afterId, limit],
      );
      return rows;
    },

    async replaceEnvelope(credentialId, expected, next) {
      // Conditional on the envelope read: a credential replaced meanwhile is left to its new writer.
      const n = await db.execute(
        `UPDATE ${T.credentials} SET encrypted_credential = $3, key_version = $4 WHERE credential_id = $1 AND encrypted_credential = $2`,
        [credentialId, expected, next.envelope, next.keyVersion],
      );
      return n > 0;
    },

    async listPrices(orgSlug, provider) {
      const rows = await db.query<PriceOverrideRecord & Record<string, unknown>>(
        `SELECT org_slug, provider, model, CAST(input AS VARCHAR) AS input, CAST(cached_input AS VARCHAR) AS cached_input,
                CAST(cache_write_5m AS VARCHAR) AS cache_write_5m, CAST(cache_write_1h AS VARCHAR) AS cache_write_1h,
                CAST(output AS VARCHAR) AS output, updated_at
         FROM ${T.prices} WHERE org_slug = $1 AND provider = $2 ORDER BY model`,
        [orgSlug, provider],
      );
      return rows;
    },

    async replacePrices(orgSlug, provider, prices) {
      await db.execute(`DELETE FROM ${T.prices} WHERE org_slug = $1 AND provider = $2`, [orgSlug, provider]);
      for (const p of prices) {
        await db.execute(
          `INSERT INTO ${T.prices} (org_slug, provider, model, input, cached_input, cache_write_5m, cache_write_1h, output, updated_at)
           VALUES ($1, $2, $3, CAST($4 AS DECIMAL(38, 9)), CAST($5 AS DECIMAL(38, 9)), CAST($6 AS DECIMAL(38, 9)), CAST($7 AS DECIMAL(38, 9)), CAST($8 AS DECIMAL(38, 9)), $9)`,
          [orgSlug, provider, p.model, p.input, p.cached_input, p.cache_write_5m, p.cache_write_1h, p.output, p.updated_at],
        );
      }
    },
  };
}
