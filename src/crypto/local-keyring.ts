import { createCipheriv, createDecipheriv, createHmac, randomBytes, randomFillSync } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { describeVersion, KeyringError, type Keyring } from './keyring.js';

/**
 * A keyring whose key-encryption keys (KEKs) live in this process: from CONVERGENCE_MASTER_KEY
 * (plus previous keys during a rotation) or, outside production, from `{dataDir}/master-keys.json`.
 *
 * A wrapped data key is `iv(12) ‖ tag(16) ‖ AES-256-GCM(kek, iv, aad)(dataKey)`.
 * A KEK's version id is derived from the key (`local:` + 12 hex chars of an HMAC), so the same
 * key always has the same id, and the id reveals nothing about the key.
 */

export const MASTER_KEY_FILE = 'master-keys.json';
export const KEK_BYTES = 32;
const IV_BYTES = 12;
const TAG_BYTES = 16;
const VERSION_PREFIX = 'local:';
const KEK_ID_LABEL = 'convergence-kek-id';
const LOCK_WAIT_MS = 5_000;
const LOCK_POLL_MS = 25;

export type KeyringEnvironment = 'development' | 'staging' | 'production';

export interface LocalKeyringLoadOptions {
  /** Base64 (standard or URL-safe, padding optional) or hex encoding of 32 bytes; from CONVERGENCE_MASTER_KEY. */
  readonly masterKey?: string | undefined;
  /** Earlier master keys, still able to unwrap envelopes written before a rotation. Only with `masterKey`. */
  readonly previousMasterKeys?: readonly string[] | undefined;
  readonly dataDir: string;
  readonly environment: KeyringEnvironment;
}

interface KeyFileEntry {
  readonly version: string;
  readonly key: string;
  readonly created_at: string;
}

interface KeyFile {
  readonly current: string;
  readonly keys: readonly KeyFileEntry[];
}

/** The version id of a KEK: `local:` + the first 12 hex chars of HMAC-SHA256(kek, "convergence-kek-id"). */
export function localKeyVersion(kek: Buffer): string {
  return VERSION_PREFIX + createHmac('sha256', kek).update(KEK_ID_LABEL).digest('hex').slice(0, 12);
}

export class LocalKeyring implements Keyring {
  readonly currentVersion: string;
  readonly versions: readonly string[];
  // ES private: invisible to JSON.stringify, util.inspect and structured logging.
  readonly #keys: ReadonlyMap<string, Buffer>;

  private constructor(current: Buffer, previous: readonly Buffer[]) {
    const keys = new Map<string, Buffer>();
    for (const key of [current, ...previous]) {
      if (!Buffer.isBuffer(key) || key.length !== KEK_BYTES) {
        throw new KeyringError(`a key-encryption key must be exactly ${KEK_BYTES} bytes`);
      }
      const version = localKeyVersion(key);
      // A copy: the caller may zero or reuse its buffer.
      if (!keys.has(version)) keys.set(version, Buffer.from(key));
    }
    this.#keys = keys;
    this.currentVersion = localKeyVersion(current);
    this.versions = Object.freeze([...keys.keys()]);
  }

  /** A keyring that wraps with `current` and can still unwrap with each of `previous`. */
  static fromKeys(current: Buffer, previous: readonly Buffer[] = []): LocalKeyring {
    return new LocalKeyring(current, previous);
  }

  /**
   * With `masterKey`: that key (and `previousMasterKeys`). Without it: refused in production;
   * otherwise `{dataDir}/master-keys.json`, created (mode 0600) on first use.
   */
  static async load(opts: LocalKeyringLoadOptions): Promise<LocalKeyring> {
    const previous = opts.previousMasterKeys ?? [];
    if (opts.masterKey !== undefined) {
      const current = decodeMasterKey(opts.masterKey, 'CONVERGENCE_MASTER_KEY');
      const older = previous.map((k, i) => decodeMasterKey(k, `previous master key #${i + 1}`));
      const keyring = new LocalKeyring(current, older);
      for (const k of [current, ...older]) k.fill(0);
      return keyring;
    }
    if (previous.length > 0) {
      throw new KeyringError('previous master keys were given without CONVERGENCE_MASTER_KEY; set the current master key too');
    }
    if (opts.environment === 'production') {
      throw new KeyringError('ENVIRONMENT=production needs a key-encryption key: set CONVERGENCE_MASTER_KEY or KMS_KEY_NAME');
    }
    const file = keyFilePath(opts.dataDir);
    const existing = await readKeyFile(file);
    const keyFile = existing ?? (await createKeyFile(opts.dataDir, file));
    return fromKeyFile(keyFile, file);
  }

  /**
   * Adds a freshly generated KEK to `{dataDir}/master-keys.json` as the current one, keeping the
   * old ones so existing envelopes still unwrap. Running processes pick it up when they reload.
   */
  static async rotateKeyFile(dataDir: string): Promise<{ previous: string; current: string }> {
    const file = keyFilePath(dataDir);
    return withKeyFileLock(file, async () => {
      const keyFile = await readKeyFile(file);
      if (keyFile === undefined) throw new KeyringError(`${file} does not exist; nothing to rotate`);
      fromKeyFile(keyFile, file); // validates every entry before anything is written
      const entry = newKeyEntry();
      await replaceKeyFile(dataDir, file, { current: entry.version, keys: [...keyFile.keys, entry] });
      return { previous: keyFile.current, current: entry.version };
    });
  }

  /**
   * Removes from `{dataDir}/master-keys.json` every KEK whose version is not in `keep`.
   * Refuses to remove the current KEK, and refuses versions in `keep` that the file does not
   * hold (a typo there would otherwise delete the key that was meant to be kept).
   * Envelopes still wrapped under a removed version can no longer be decrypted: rewrap first.
   */
  static async retireKeys(dataDir: string, keep: readonly string[]): Promise<{ removed: string[]; kept: string[] }> {
    const file = keyFilePath(dataDir);
    return withKeyFileLock(file, async () => {
      const keyFile = await readKeyFile(file);
      if (keyFile === undefined) throw new KeyringError(`${file} does not exist; nothing to retire`);
      fromKeyFile(keyFile, file);
      const known = new Set(keyFile.keys.map((k) => k.version));
      const unknown = keep.filter((v) => !known.has(v));
      if (unknown.length > 0) {
        throw new KeyringError(`${file} holds no key version ${unknown.map(describeVersion).join(', ')}; nothing was removed`);
      }
      if (!keep.includes(keyFile.current)) {
        throw new KeyringError(`refusing to retire the current key version ${describeVersion(keyFile.current)}; rotate first`);
      }
      const kept = keyFile.keys.filter((k) => keep.includes(k.version));
      const removed = keyFile.keys.filter((k) => !keep.includes(k.version)).map((k) => k.version);
      if (removed.length > 0) await replaceKeyFile(dataDir, file, { current: keyFile.current, keys: kept });
      return { removed, kept: kept.map((k) => k.version) };
    });
  }

  async wrap(dataKey: Buffer, aad: Buffer): Promise<{ wrapped: Buffer; keyVersion: string }> {
    if (!Buffer.isBuffer(dataKey) || dataKey.length === 0) throw new KeyringError('the data key to wrap must be a non-empty Buffer');
    const kek = this.#keys.get(this.currentVersion);
    if (kek === undefined) throw new KeyringError('the current key version is missing from the keyring');
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', kek, iv, { authTagLength: TAG_BYTES });
    cipher.setAAD(aad);
    const ct = Buffer.concat([cipher.update(dataKey), cipher.final()]);
    return { wrapped: Buffer.concat([iv, cipher.getAuthTag(), ct]), keyVersion: this.currentVersion };
  }

  async unwrap(wrapped: Buffer, keyVersion: string, aad: Buffer): Promise<Buffer> {
    const kek = this.#keys.get(keyVersion);
    if (kek === undefined) throw new KeyringError(`key version ${describeVersion(keyVersion)} is unknown or retired`);
    if (!Buffer.isBuffer(wrapped) || wrapped.length <= IV_BYTES + TAG_BYTES) {
      throw new KeyringError('the wrapped data key is truncated');
    }
    const iv = wrapped.subarray(0, IV_BYTES);
    const tag = wrapped.subarray(IV_BYTES, IV_BYTES + TAG_BYTES);
    const decipher = createDecipheriv('aes-256-gcm', kek, iv, { authTagLength: TAG_BYTES });
    decipher.setAuthTag(tag);
    decipher.setAAD(aad);
    const out = decipher.update(wrapped.subarray(IV_BYTES + TAG_BYTES));
    try {
      decipher.final();
    } catch {
      out.fill(0);
      throw new KeyringError(`the wrapped data key failed authentication under key version ${describeVersion(keyVersion)} (tampered, or bound to other data)`);
    }
    return out;
  }
}

// ---------------------------------------------------------------------------------------------
// Master keys from the environment

const HEX_KEY = /^[0-9a-fA-F]{64}$/;
const BASE64_KEY = /^[A-Za-z0-9+/]{43}=?$/;
const BASE64URL_KEY = /^[A-Za-z0-9_-]{43}=?$/;

/** Decodes a 32-byte key given as hex or base64/base64url. Error messages never echo the value. */
export function decodeMasterKey(value: string, what = 'CONVERGENCE_MASTER_KEY'): Buffer {
  const v = typeof value === 'string' ? value.trim() : '';
  let key: Buffer | undefined;
  if (HEX_KEY.test(v)) key = Buffer.from(v, 'hex');
  else if (BASE64_KEY.test(v) || BASE64URL_KEY.test(v)) {
    const b64 = v.replace(/=$/, '');
    const decoded = Buffer.from(b64, BASE64_KEY.test(v) ? 'base64' : 'base64url');
    // Canonical only: 43 characters carry 258 bits, the last 2 must be zero.
    const reencoded = decoded.toString(BASE64_KEY.test(v) ? 'base64' : 'base64url').replace(/=$/, '');
    if (decoded.length === KEK_BYTES && reencoded === b64) key = decoded;
  }
  if (key === undefined) {
    throw new KeyringError(
      `${what} must encode exactly ${KEK_BYTES} bytes, as base64 (44 characters, e.g. \`openssl rand -base64 32\`), ` +
        `base64url, or hex (64 characters, e.g. \`openssl rand -hex 32\`)`,
    );
  }
  return key;
}

// ---------------------------------------------------------------------------------------------
// The key file

const keyFilePath = (dataDir: string): string => path.join(dataDir, MASTER_KEY_FILE);

function newKeyEntry(): KeyFileEntry {
  const key = Buffer.alloc(KEK_BYTES);
  randomFillSync(key);
  const entry = { version: localKeyVersion(key), key: key.toString('base64'), created_at: new Date().toISOString() };
  key.fill(0);
  return entry;
}

/** The parsed key file, or undefined when there is none. Refuses files others can read, and malformed ones. */
async function readKeyFile(file: string): Promise<KeyFile | undefined> {
  let handle: fs.FileHandle;
  try {
    handle = await fs.open(file, 'r');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
  let text: string;
  try {
    // Mode of the file actually opened, not of whatever the path points to a moment later.
    const stat = await handle.stat();
    if (!stat.isFile()) throw new KeyringError(`${file} is not a regular file`);
    if (process.platform !== 'win32' && (stat.mode & 0o077) !== 0) {
      throw new KeyringError(
        `${file} is accessible to group/others (mode ${(stat.mode & 0o777).toString(8).padStart(4, '0')}); ` +
          `it holds key-encryption keys: run \`chmod 600 ${file}\``,
      );
    }
    text = await handle.readFile('utf8');
  } finally {
    await handle.close();
  }
  return parseKeyFile(text, file);
}

function parseKeyFile(text: string, file: string): KeyFile {
  const malformed = (why: string): KeyringError => new KeyringError(`${file} is malformed: ${why}`);
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw malformed('not valid JSON');
  }
  if (!isRecord(raw)) throw malformed('expected a JSON object');
  const { current, keys } = raw;
  if (typeof current !== 'string') throw malformed('"current" must be a string');
  if (!Array.isArray(keys) || keys.length === 0) throw malformed('"keys" must be a non-empty array');
  const entries: KeyFileEntry[] = keys.map((k: unknown, i) => {
    if (!isRecord(k) || typeof k.version !== 'string' || typeof k.key !== 'string' || typeof k.created_at !== 'string') {
      throw malformed(`keys[${i}] must have string "version", "key" and "created_at"`);
    }
    return { version: k.version, key: k.key, created_at: k.created_at };
  });
  return { current, keys: entries };
}

/** Validates a parsed key file (key sizes, derived versions, uniqueness, current present) and builds the keyring. */
function fromKeyFile(keyFile: KeyFile, file: string): LocalKeyring {
  const malformed = (why: string): KeyringError => new KeyringError(`${file} is malformed: ${why}`);
  const byVersion = new Map<string, Buffer>();
  keyFile.keys.forEach((entry, i) => {
    const key = Buffer.from(entry.key, 'base64');
    if (key.length !== KEK_BYTES || key.toString('base64') !== entry.key) {
      throw malformed(`keys[${i}].key must be the base64 encoding of ${KEK_BYTES} bytes`);
    }
    if (localKeyVersion(key) !== entry.version) {
      throw malformed(`keys[${i}].version ${describeVersion(entry.version)} does not match its key`);
    }
    if (byVersion.has(entry.version)) throw malformed(`key version ${describeVersion(entry.version)} appears twice`);
    byVersion.set(entry.version, key);
  });
  const current = byVersion.get(keyFile.current);
  if (current === undefined) throw malformed(`"current" ${describeVersion(keyFile.current)} is not among "keys"`);
  const previous = [...byVersion].filter(([v]) => v !== keyFile.current).map(([, k]) => k);
  const keyring = LocalKeyring.fromKeys(current, previous);
  for (const k of byVersion.values()) k.fill(0);
  return keyring;
}

const serialize = (keyFile: KeyFile): string => `${JSON.stringify(keyFile, null, 2)}\n`;

const tempPath = (file: string): string => `${file}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;

/** Writes a complete, fsynced, mode-0600 temp file next to `file`, which must not exist yet. */
async function writeTemp(tmp: string, content: string): Promise<void> {
  const handle = await fs.open(tmp, 'wx', 0o600);
  try {
    await handle.writeFile(content, 'utf8');
    await handle.sync();
  } finally {
    await handle.close();
  }
}

async function syncDir(dir: string): Promise<void> {
  try {
    const handle = await fs.open(dir, 'r');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch {
    // Best effort: not every platform can fsync a directory.
  }
}

/**
 * Creates the key file with one fresh key. The complete file is written under a temp name and
 * then hard-linked into place: unlike rename, link never replaces an existing file, so when two
 * processes race exactly one file wins and the loser reads it — both end with the same key.
 */
async function createKeyFile(dataDir: string, file: string): Promise<KeyFile> {
  await fs.mkdir(dataDir, { recursive: true, mode: 0o700 });
  const entry = newKeyEntry();
  const keyFile: KeyFile = { current: entry.version, keys: [entry] };
  const tmp = tempPath(file);
  try {
    await writeTemp(tmp, serialize(keyFile));
    await fs.link(tmp, file);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    const theirs = await readKeyFile(file);
    if (theirs === undefined) throw new KeyringError(`${file} vanished while it was being created; retry`);
    return theirs;
  } finally {
    await fs.rm(tmp, { force: true });
  }
  await syncDir(dataDir);
  return keyFile;
}

/** Atomically replaces the key file (temp file with mode 0600, then rename). */
async function replaceKeyFile(dataDir: string, file: string, keyFile: KeyFile): Promise<void> {
  const tmp = tempPath(file);
  try {
    await writeTemp(tmp, serialize(keyFile));
    await fs.rename(tmp, file);
  } catch (e) {
    await fs.rm(tmp, { force: true });
    throw e;
  }
  await syncDir(dataDir);
}

/**
 * Serializes read-modify-write operations on the key file across processes, so two concurrent
 * rotations cannot drop each other's key (which would strand every envelope wrapped under it).
 */
async function withKeyFileLock<T>(file: string, fn: () => Promise<T>): Promise<T> {
  const lock = `${file}.lock`;
  const deadline = Date.now() + LOCK_WAIT_MS;
  for (;;) {
    try {
      await fs.writeFile(lock, `${process.pid}\n`, { mode: 0o600, flag: 'wx' });
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new KeyringError(`${file} does not exist`);
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      if (Date.now() > deadline) {
        throw new KeyringError(`${lock} is held by another key-file operation; if none is running, delete the lock file and retry`);
      }
      await new Promise((resolve) => setTimeout(resolve, LOCK_POLL_MS));
    }
  }
  try {
    return await fn();
  } finally {
    await fs.rm(lock, { force: true });
  }
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
