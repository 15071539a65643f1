/**
 * The key-encryption-key port of envelope encryption (DESIGN.md §8): a `Keyring` wraps and
 * unwraps per-secret data keys. The data keys encrypt the secrets (envelope.ts); the keyring
 * only ever sees data keys, never the secrets themselves.
 */

/** Wraps and unwraps data keys with a key-encryption key (KEK). Implementations: local (local-keyring.ts), Cloud KMS (later). */
export interface Keyring {
  /** Version id of the KEK that new wraps use, e.g. "local:3f9a1c2b7d4e" — stored beside each ciphertext. */
  readonly currentVersion: string;
  wrap(dataKey: Buffer, aad: Buffer): Promise<{ wrapped: Buffer; keyVersion: string }>;
  /** Throws KeyringError when the version is unknown/retired or the wrapped key or AAD was tampered with. */
  unwrap(wrapped: Buffer, keyVersion: string, aad: Buffer): Promise<Buffer>;
  /** Versions this keyring can unwrap. */
  readonly versions: readonly string[];
}

/**
 * A keyring refused: bad configuration, unknown or retired key version, or a wrapped key that
 * fails authentication. Messages never contain key material. Transient failures of a remote
 * keyring (network, quota) are deliberately *not* KeyringErrors, so callers can tell
 * "this envelope is bad" from "try again".
 */
export class KeyringError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'KeyringError';
  }
}

const PRINTABLE_VERSION = /^[\x21-\x7e]{1,200}$/;

/** A key version for an error message: version ids are not secret, but they may come from a tampered row. */
export const describeVersion = (version: unknown): string =>
  typeof version === 'string' && PRINTABLE_VERSION.test(version) ? `"${version}"` : '(unprintable)';
