import type { ControlStore } from '../control-store/control-store.js';
import { AppError } from '../core/errors.js';
import { newId } from '../core/ids.js';
import { isOrgSlug } from '../core/org-slug.js';
import { API_KEY_HASH_PATTERN, generateApiKey } from '../crypto/api-keys.js';
import type { AuthService } from './auth-service.js';
import { orgNotFound } from './organization-service.js';
import { actorOf, type Principal } from './principal.js';

/** Key rotation and revocation. A new key is returned once; the old ones stop working at once. */
export class ApiKeyService {
  constructor(
    private readonly store: ControlStore,
    private readonly auth: AuthService,
    private readonly now: () => Date = () => new Date(),
  ) {}

  async rotate(orgSlug: string, by: Principal): Promise<Record<string, unknown>> {
    const profile = isOrgSlug(orgSlug) ? await this.store.orgs.getProfile(orgSlug) : undefined;
    if (profile === undefined) throw orgNotFound(orgSlug);
    const key = generateApiKey(profile.org_slug as Parameters<typeof generateApiKey>[0]);
    const at = this.now();
    const id = newId();
    const revoked = await this.store.transaction(async (tx) => {
      // Checked inside the transaction: an offboarding that committed meanwhile must win.
      if ((await tx.orgs.getProfile(orgSlug))?.status !== 'ACTIVE') throw new AppError('ORG_DELETED', `organization "${orgSlug}" is deleted`);
      const hashes = await tx.apiKeys.revokeAllForOrg(orgSlug, at, 'rotated');
      await tx.apiKeys.insert({
        api_key_id: id,
        org_slug: orgSlug,
        api_key_hash: key.hash,
        fingerprint: key.fingerprint,
        is_active: true,
        created_at: at,
        created_by: actorOf(by),
        revoked_at: null,
        revoked_reason: null,
        expires_at: null,
        last_used_at: null,
      });
      return hashes;
    });
    this.auth.evict(revoked);
    return {
      org_slug: orgSlug,
      api_key: key.key,
      api_key_id: id,
      api_key_fingerprint: key.fingerprint,
      created_at: at.toISOString(),
      revoked_keys: revoked.length,
      message: 'Save the api_key now: it is shown only once. Previous keys no longer work.',
    };
  }

  async revokeByHash(hash: string): Promise<Record<string, unknown>> {
    if (!API_KEY_HASH_PATTERN.test(hash)) {
      throw new AppError('INVALID_API_KEY_HASH', 'api_key_hash must be the 64-character lowercase hex SHA-256 of the key');
    }
    const at = this.now();
    const revoked = await this.store.apiKeys.revokeByHash(hash, at, 'revoked');
    if (revoked === undefined) {
      const existing = await this.store.apiKeys.findByHash(hash);
      if (existing === undefined) throw new AppError('API_KEY_NOT_FOUND', 'no API key has this hash');
      throw new AppError('API_KEY_REVOKED', `the key was already revoked at ${existing.revoked_at?.toISOString() ?? 'an earlier time'}`);
    }
    this.auth.evict([hash]);
    return { api_key_hash: hash, api_key_id: revoked.api_key_id, org_slug: revoked.org_slug, fingerprint: revoked.fingerprint, revoked_at: at.toISOString() };
  }
}
