import { createCipheriv, createDecipheriv, createHash, randomBytes, randomFillSync } from 'node:crypto';
import { describeVersion, KeyringError, type Keyring } from './keyring.js';

/**
 * Envelope encryption of provider credentials (DESIGN.md §8). Each write draws a fresh 32-byte
 * data key and a 12-byte IV, encrypts the secret with AES-256-GCM and wraps the data key with the
 * keyring's current KEK. Both layers authenticate the same additional data: a canonical encoding
 * of (org, provider, credential id), so an envelope copied to another row does not decrypt.
 *
 * The stored form is a compact JSON string:
 * `{"v":1,"alg":"A256GCM","kv":"<keyVersion>","wk":"<b64>","iv":"<b64>","ct":"<b64>","tag":"<b64>"}`.
 * Rotating the KEK rewraps `wk` only; `iv`, `ct` and `tag` never change.
 */

/** What a ciphertext is bound to. Every field must be a non-empty, well-formed string. */
export interface CredentialBinding {
  readonly orgSlug: string;
  readonly provider: string;
  readonly credentialId: string;
}

export interface EncryptedSecret {
  readonly envelope: string;
  /** The KEK version `envelope` is wrapped under; stored beside it to find envelopes to rewrap. */
  readonly keyVersion: string;
}

/**
 * The envelope is malformed, of an unknown version, tampered with, bound to another
 * org/provider/credential, or wrapped under a KEK this keyring does not hold.
 * Messages never contain the secret or key material.
 */
export class DecryptionError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'DecryptionError';
  }
}

export const ENVELOPE_VERSION = 1;
export const ENVELOPE_ALG = 'A256GCM';
const AAD_LABEL = 'convergence/credential/v1';
const DATA_KEY_BYTES = 32;
const IV_BYTES = 12;
const TAG_BYTES = 16;
const ENVELOPE_FIELDS = ['alg', 'ct', 'iv', 'kv', 'tag', 'v', 'wk'] as const;
const KEY_VERSION_PATTERN = /^[\x21-\x7e]{1,512}$/;

interface ParsedEnvelope {
  readonly kv: string;
  /** Base64 text as stored, so a rewrap can copy it unchanged. */
  readonly text: { readonly wk: string; readonly iv: string; readonly ct: string; readonly tag: string };
  readonly wk: Buffer;
  readonly iv: Buffer;
  readonly ct: Buffer;
  readonly tag: Buffer;
}

/**
 * The additional authenticated data for a binding: the label and each field, every one
 * prefixed with its UTF-8 byte length (uint32 big-endian), so ("ab","c") and ("a","bc") differ.
 */
export function credentialAad(binding: CredentialBinding): Buffer {
  const parts: Buffer[] = [];
  for (const value of [AAD_LABEL, binding.orgSlug, binding.provider, binding.credentialId]) {
    const bytes = Buffer.from(value, 'utf8');
    const len = Buffer.alloc(4);
    len.writeUInt32BE(bytes.length);
    parts.push(len, bytes);
  }
  return Buffer.concat(parts);
}

/** Encrypts `plaintext` under a fresh data key, wrapped by `keyring`'s current KEK, bound to `binding`. */
export async function encryptSecret(keyring: Keyring, plaintext: string, binding: CredentialBinding): Promise<EncryptedSecret> {
  checkBinding(binding);
  if (typeof plaintext !== 'string' || !isWellFormed(plaintext)) {
    // Lone surrogates would not survive UTF-8 and decrypt to something else.
    throw new TypeError('the secret must be a well-formed string');
  }
  const aad = credentialAad(binding);
  const dataKey = Buffer.alloc(DATA_KEY_BYTES);
  const message = Buffer.from(plaintext, 'utf8');
  try {
    randomFillSync(dataKey);
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', dataKey, iv, { authTagLength: TAG_BYTES });
    cipher.setAAD(aad);
    const ct = Buffer.concat([cipher.update(message), cipher.final()]);
    const tag = cipher.getAuthTag();
    const { wrapped, keyVersion } = await keyring.wrap(dataKey, aad);
    const envelope = serialize(keyVersion, {
      wk: wrapped.toString('base64'),
      iv: iv.toString('base64'),
      ct: ct.toString('base64'),
      tag: tag.toString('base64'),
    });
    return { envelope, keyVersion };
  } finally {
    dataKey.fill(0);
    message.fill(0);
  }
}

/**
 * Decrypts an envelope written by `encryptSecret` for the same binding. Anything else — a
 * malformed or tampered envelope, another binding, a retired KEK — throws DecryptionError.
 * Failures of the keyring that are not KeyringErrors (e.g. a KMS outage) propagate unchanged.
 */
export async function decryptSecret(keyring: Keyring, envelope: string, binding: CredentialBinding): Promise<string> {
  checkBinding(binding);
  const env = parseEnvelope(envelope);
  const aad = credentialAad(binding);
  const dataKey = await unwrapDataKey(keyring, env, aad);
  let message: Buffer | undefined;
  try {
    message = openCiphertext(dataKey, env, aad);
    try {
      return new TextDecoder('utf-8', { fatal: true }).decode(message);
    } catch {
      throw new DecryptionError('the decrypted credential is not valid UTF-8');
    }
  } finally {
    dataKey.fill(0);
    message?.fill(0);
  }
}

/**
 * Moves an envelope to `keyring.currentVersion`: unwraps the data key with its old KEK and
 * wraps it with the current one. `iv`, `ct` and `tag` stay byte-identical. The ciphertext is
 * authenticated first, so a tampered envelope is refused rather than re-sealed.
 */
export async function rewrapEnvelope(
  keyring: Keyring,
  envelope: string,
  binding: CredentialBinding,
): Promise<EncryptedSecret & { readonly changed: boolean }> {
  checkBinding(binding);
  const env = parseEnvelope(envelope);
  if (env.kv === keyring.currentVersion) return { envelope, keyVersion: env.kv, changed: false };
  const aad = credentialAad(binding);
  const dataKey = await unwrapDataKey(keyring, env, aad);
  try {
    openCiphertext(dataKey, env, aad).fill(0);
    const { wrapped, keyVersion } = await keyring.wrap(dataKey, aad);
    const rewrapped = serialize(keyVersion, { ...env.text, wk: wrapped.toString('base64') });
    return { envelope: rewrapped, keyVersion, changed: keyVersion !== env.kv };
  } finally {
    dataKey.fill(0);
  }
}

// ---------------------------------------------------------------------------------------------
// Display fingerprints

/** Well-known, non-secret key prefixes; longest first so the most specific wins. */
const KNOWN_PREFIXES = [
  'sk-ant-admin01-',
  'sk-ant-api03-',
  'sk-ant-oat01-',
  'sk-ant-',
  'sk-svcacct-',
  'sk-admin-',
  'sk-proj-',
  'sk-',
  'github_pat_',
  'nvapi-',
  'glpat-',
  'pplx-',
  'xai-',
  'gsk_',
  'ghp_',
  'AIza',
  'hf_',
  'r8_',
].sort((a, b) => b.length - a.length);
const MIN_KEY_LENGTH = 20;
/** With a prefix shown, at least this much of the secret remains hidden-but-for-4. */
const MIN_BODY_LENGTH = 16;
/** One token of the characters API keys are made of (no quotes, braces or whitespace: not JSON, not a passphrase). */
const API_KEY_LIKE = /^[A-Za-z0-9._~+/=:-]+$/;
const FINGERPRINT_LABEL = 'convergence/credential-fingerprint/v1\0';

/**
 * A non-secret fingerprint for display. An API-key-like secret (one token of key characters,
 * at least 20 of them) shows its well-known provider prefix, if any, and its last 4
 * characters: `sk-admin-…a1b2`. Anything else (short, multi-line, JSON) shows `…` and 8 hex
 * characters of a domain-separated SHA-256. Never more than 4 characters of the secret.
 */
export function credentialFingerprint(secret: string): string {
  if (secret.length >= MIN_KEY_LENGTH && API_KEY_LIKE.test(secret)) {
    const prefix = KNOWN_PREFIXES.find((p) => secret.startsWith(p) && secret.length - p.length >= MIN_BODY_LENGTH) ?? '';
    return `${prefix}…${secret.slice(-4)}`;
  }
  return `…${createHash('sha256').update(FINGERPRINT_LABEL).update(secret, 'utf8').digest('hex').slice(0, 8)}`;
}

// ---------------------------------------------------------------------------------------------
// Internals

function serialize(kv: string, b64: ParsedEnvelope['text']): string {
  return JSON.stringify({ v: ENVELOPE_VERSION, alg: ENVELOPE_ALG, kv, wk: b64.wk, iv: b64.iv, ct: b64.ct, tag: b64.tag });
}

async function unwrapDataKey(keyring: Keyring, env: ParsedEnvelope, aad: Buffer): Promise<Buffer> {
  let dataKey: Buffer;
  try {
    dataKey = await keyring.unwrap(env.wk, env.kv, aad);
  } catch (e) {
    if (e instanceof KeyringError) {
      throw new DecryptionError(
        `the credential's data key could not be unwrapped (key version ${describeVersion(env.kv)}): ` +
          'the envelope was tampered with, belongs to another credential, or its key version is retired',
        { cause: e },
      );
    }
    throw e;
  }
  if (dataKey.length !== DATA_KEY_BYTES) {
    dataKey.fill(0);
    throw new DecryptionError('the unwrapped data key has the wrong length');
  }
  return dataKey;
}

/** Authenticates and decrypts the ciphertext; the caller zeroes the returned buffer. */
function openCiphertext(dataKey: Buffer, env: ParsedEnvelope, aad: Buffer): Buffer {
  const decipher = createDecipheriv('aes-256-gcm', dataKey, env.iv, { authTagLength: TAG_BYTES });
  decipher.setAuthTag(env.tag);
  decipher.setAAD(aad);
  const head = decipher.update(env.ct);
  let tail: Buffer;
  try {
    tail = decipher.final();
  } catch {
    head.fill(0);
    throw new DecryptionError('the credential ciphertext failed authentication (tampered, or bound to another credential)');
  }
  const out = Buffer.concat([head, tail]);
  head.fill(0);
  return out;
}

function parseEnvelope(envelope: unknown): ParsedEnvelope {
  const malformed = (why: string): DecryptionError => new DecryptionError(`malformed credential envelope: ${why}`);
  if (typeof envelope !== 'string') throw malformed('not a string');
  let raw: unknown;
  try {
    raw = JSON.parse(envelope);
  } catch {
    throw malformed('not valid JSON');
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw malformed('not a JSON object');
  const obj = raw as Record<string, unknown>;
  if (obj.v !== ENVELOPE_VERSION) throw new DecryptionError('unsupported credential envelope version');
  const keys = Object.keys(obj).sort();
  if (keys.length !== ENVELOPE_FIELDS.length || keys.some((k, i) => k !== ENVELOPE_FIELDS[i])) {
    throw malformed(`expected exactly the fields ${ENVELOPE_FIELDS.join(', ')}`);
  }
  if (obj.alg !== ENVELOPE_ALG) throw malformed('unsupported algorithm');
  if (typeof obj.kv !== 'string' || !KEY_VERSION_PATTERN.test(obj.kv)) throw malformed('"kv" is not a key version');
  const text = { wk: b64Field(obj, 'wk'), iv: b64Field(obj, 'iv'), ct: b64Field(obj, 'ct'), tag: b64Field(obj, 'tag') };
  const wk = Buffer.from(text.wk, 'base64');
  const iv = Buffer.from(text.iv, 'base64');
  const ct = Buffer.from(text.ct, 'base64');
  const tag = Buffer.from(text.tag, 'base64');
  if (wk.length === 0) throw malformed('"wk" is empty');
  if (iv.length !== IV_BYTES) throw malformed(`"iv" must be ${IV_BYTES} bytes`);
  if (tag.length !== TAG_BYTES) throw malformed(`"tag" must be ${TAG_BYTES} bytes`);
  return { kv: obj.kv, text, wk, iv, ct, tag };
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** A canonical standard-base64 string field: one byte string has exactly one accepted encoding. */
function b64Field(obj: Record<string, unknown>, field: 'wk' | 'iv' | 'ct' | 'tag'): string {
  const v = obj[field];
  if (typeof v !== 'string' || !BASE64.test(v) || Buffer.from(v, 'base64').toString('base64') !== v) {
    throw new DecryptionError(`malformed credential envelope: "${field}" is not canonical base64`);
  }
  return v;
}

function checkBinding(binding: CredentialBinding): void {
  for (const field of ['orgSlug', 'provider', 'credentialId'] as const) {
    const v: unknown = binding?.[field];
    if (typeof v !== 'string' || v.length === 0 || !isWellFormed(v)) {
      throw new TypeError(`binding.${field} must be a non-empty, well-formed string`);
    }
  }
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** No lone UTF-16 surrogates (String.prototype.isWellFormed, which lib ES2023 does not type). */
const isWellFormed = (s: string): boolean => !LONE_SURROGATE.test(s);
