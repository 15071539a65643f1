import type { Logger } from 'pino';
import type { ControlStore } from '../control-store/control-store.js';
import { AppError, errorMessage } from '../core/errors.js';
import { matchesDigest, orgOfApiKey, sha256, sha256Hex } from '../crypto/api-keys.js';
import type { Principal } from './principal.js';

type OrgPrincipal = Extract<Principal, { kind: 'org' }>;

interface CachedKey {
  readonly principal: OrgPrincipal;
  readonly expiresAt: number | null;
  readonly cachedUntil: number;
}

export interface AuthServiceOptions {
  /** How long a positive lookup is trusted (see Config.apiKeyCacheTtlMs). */
  readonly cacheTtlMs: number;
  /** (Default: 10000 entries) */
  readonly cacheSize?: number;
  /** last_used_at is written in batches this often. (Default: 15000 ms) */
  readonly touchIntervalMs?: number;
  readonly now?: () => number;
}

/**
 * Authentication on the hot path: the root key is compared in constant time digest-to-digest;
 * an org key is hashed once and looked up, with positive results cached briefly so most requests
 * never touch the store. Revocation through this process evicts at once.
 */
export class AuthService {
  private readonly rootDigest: Buffer;
  private readonly cache = new Map<string, CachedKey>();
  private readonly touched = new Set<string>();
  private readonly timer: NodeJS.Timeout;
  private readonly now: () => number;
  private readonly cacheSize: number;

  constructor(
    rootKey: string,
    private readonly store: ControlStore,
    private readonly logger: Logger,
    private readonly opts: AuthServiceOptions,
  ) {
    this.rootDigest = sha256(rootKey);
    this.now = opts.now ?? Date.now;
    this.cacheSize = opts.cacheSize ?? 10_000;
    this.timer = setInterval(() => void this.flushLastUsed(), opts.touchIntervalMs ?? 15_000);
    this.timer.unref();
  }

  /** Throws unless `presented` is the root key. */
  verifyRoot(presented: string | undefined): void {
    if (presented === undefined || presented === '') throw new AppError('ROOT_KEY_REQUIRED', 'send the root key in the X-CA-Root-Key header');
    if (!matchesDigest(presented, this.rootDigest)) throw new AppError('INVALID_ROOT_KEY', 'the X-CA-Root-Key header does not hold the root key');
  }

  async authenticateOrgKey(presented: string | undefined): Promise<OrgPrincipal> {
    if (presented === undefined || presented === '') throw new AppError('API_KEY_REQUIRED', 'send an organization API key in the X-API-Key header');
    const invalid = new AppError('INVALID_API_KEY', 'the X-API-Key header does not hold a valid, active organization API key');
    // Not shaped like an org key (including the root key sent in the wrong header): no lookup.
    if (orgOfApiKey(presented) === undefined) throw invalid;
    const hash = sha256Hex(presented);
    const now = this.now();
    const cached = this.cache.get(hash);
    if (cached !== undefined && cached.cachedUntil > now && (cached.expiresAt === null || cached.expiresAt > now)) {
      this.touched.add(cached.principal.apiKeyId);
      return cached.principal;
    }
    const record = await this.store.apiKeys.findForAuth(hash);
    // A key works only while its organization is ACTIVE, whatever races left its own flag at.
    if (record === undefined || !record.is_active || record.org_status !== 'ACTIVE' || (record.expires_at !== null && record.expires_at.getTime() <= now)) {
      this.cache.delete(hash);
      throw invalid;
    }
    const principal: OrgPrincipal = { kind: 'org', orgSlug: record.org_slug, apiKeyId: record.api_key_id, fingerprint: record.fingerprint };
    if (this.opts.cacheTtlMs > 0) {
      if (this.cache.size >= this.cacheSize) this.cache.delete(this.cache.keys().next().value as string); // oldest first
      this.cache.set(hash, { principal, expiresAt: record.expires_at?.getTime() ?? null, cachedUntil: now + this.opts.cacheTtlMs });
    }
    this.touched.add(record.api_key_id);
    return principal;
  }

  /** Forget keys that were just revoked so the very next request with them fails. */
  evict(hashes: readonly string[]): void {
    for (const h of hashes) this.cache.delete(h);
  }

  /** Forget every cached key (after the key table itself was recreated or purged). */
  clear(): void {
    this.cache.clear();
  }

  async flushLastUsed(): Promise<void> {
    if (this.touched.size === 0) return;
    const ids = [...this.touched];
    this.touched.clear();
    try {
      await this.store.apiKeys.touchLastUsed(ids, new Date(this.now()));
    } catch (e) {
      this.logger.warn({ err: errorMessage(e) }, 'could not record API key use');
    }
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.flushLastUsed();
  }
}
