import { createHash, timingSafeEqual } from 'node:crypto';
import type { OrgSlug } from '../core/org-slug.js';
import { isOrgSlug } from '../core/org-slug.js';
import { randomBase62 } from './random.js';

/**
 * Org API keys look like `{org_slug}_api_{32 base62}`: the prefix tells a human (and a secret
 * scanner) whose key it is; the 190 random bits are the secret. Only the SHA-256 is stored.
 */
export const API_KEY_SECRET_LENGTH = 32;
const API_KEY_PATTERN = /^([a-z0-9][a-z0-9_]{2,49})_api_([0-9A-Za-z]{32})$/;
export const API_KEY_HASH_PATTERN = /^[0-9a-f]{64}$/;

export interface NewApiKey {
  readonly key: string;
  readonly hash: string;
  readonly fingerprint: string;
}

export function generateApiKey(orgSlug: OrgSlug): NewApiKey {
  const key = `${orgSlug}_api_${randomBase62(API_KEY_SECRET_LENGTH)}`;
  return { key, hash: sha256Hex(key), fingerprint: fingerprintOf(key) };
}

/** The org a key claims to belong to, or undefined when it is not shaped like an org key. */
export function orgOfApiKey(key: string): OrgSlug | undefined {
  const m = API_KEY_PATTERN.exec(key);
  const slug = m?.[1];
  return slug !== undefined && isOrgSlug(slug) ? slug : undefined;
}

/** Safe to display: the last four characters. */
export const fingerprintOf = (key: string): string => key.slice(-4);

export const sha256Hex = (value: string): string => createHash('sha256').update(value).digest('hex');

export const sha256 = (value: string): Buffer => createHash('sha256').update(value).digest();

/**
 * Constant-time comparison of a presented secret with a known digest. Comparing digests (fixed
 * length) means neither content nor length of the secret leaks through timing.
 */
export function matchesDigest(presented: string, expectedDigest: Buffer): boolean {
  return timingSafeEqual(sha256(presented), expectedDigest);
}
