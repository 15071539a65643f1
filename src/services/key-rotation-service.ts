import type { ControlStore } from '../control-store/control-store.js';
import { errorMessage } from '../core/errors.js';
import { rewrapEnvelope } from '../crypto/envelope.js';
import type { Keyring } from '../crypto/keyring.js';

/**
 * KEK rotation: every stored credential's data key is unwrapped with the KEK version it was
 * wrapped with and wrapped again under the keyring's current one. The data ciphertext (IV,
 * ciphertext, tag) is left byte for byte as it was; each swap is conditional on the envelope that
 * was read, so a credential replaced meanwhile is left to its new writer.
 */
export interface RewrapReport {
  readonly current_version: string;
  readonly checked: number;
  readonly rewrapped: number;
  readonly already_current: number;
  readonly changed_meanwhile: number;
  readonly failed: readonly { readonly credential_id: string; readonly org_slug: string; readonly provider: string; readonly error: string }[];
}

const PAGE = 200;

export async function rewrapAllCredentials(store: ControlStore, keyring: Keyring): Promise<RewrapReport> {
  let checked = 0;
  let rewrapped = 0;
  let current = 0;
  let raced = 0;
  const failed: RewrapReport['failed'][number][] = [];
  let after = '';
  for (;;) {
    const page = await store.integrations.listForRewrap(PAGE, after);
    for (const row of page) {
      checked++;
      try {
        const next = await rewrapEnvelope(keyring, row.encrypted_credential, { orgSlug: row.org_slug, provider: row.provider, credentialId: row.credential_id });
        if (!next.changed) {
          current++;
          continue;
        }
        if (await store.integrations.replaceEnvelope(row.credential_id, row.encrypted_credential, next)) rewrapped++;
        else raced++;
      } catch (e) {
        // The message names the problem (unknown key version, tampering), never key material.
        failed.push({ credential_id: row.credential_id, org_slug: row.org_slug, provider: row.provider, error: errorMessage(e) });
      }
    }
    if (page.length < PAGE) break;
    after = page[page.length - 1]?.credential_id ?? after;
  }
  return { current_version: keyring.currentVersion, checked, rewrapped, already_current: current, changed_meanwhile: raced, failed };
}
