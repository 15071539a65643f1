import { createHmac, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { inspect } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { decryptSecret, DecryptionError, encryptSecret, rewrapEnvelope, type CredentialBinding } from './envelope.js';
import { KeyringError } from './keyring.js';
import { decodeMasterKey, LocalKeyring, localKeyVersion, MASTER_KEY_FILE } from './local-keyring.js';

const AAD = Buffer.from('aad');
const isPosix = process.platform !== 'win32';
const dirs: string[] = [];
const tempDir = (): string => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kr-'));
  dirs.push(dir);
  return dir;
};
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

const dev = (dataDir: string) => ({ dataDir, environment: 'development' as const });
const keyFile = (dir: string): string => path.join(dir, MASTER_KEY_FILE);
interface KeyFileJson {
  current: string;
  keys: { version: string; key: string; created_at: string }[];
}
const readKeyFile = (dir: string): KeyFileJson => JSON.parse(fs.readFileSync(keyFile(dir), 'utf8')) as KeyFileJson;

async function rejection(p: Promise<unknown>): Promise<Error> {
  const e: unknown = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(Error);
  return e as Error;
}

describe('LocalKeyring: wrap / unwrap', () => {
  it('derives the version id from the key: local: + 12 hex of HMAC-SHA256(kek, "convergence-kek-id")', () => {
    const kek = randomBytes(32);
    const expected = `local:${createHmac('sha256', kek).update('convergence-kek-id').digest('hex').slice(0, 12)}`;
    expect(localKeyVersion(kek)).toBe(expected);
    const kr = LocalKeyring.fromKeys(kek);
    expect(kr.currentVersion).toBe(expected);
    expect(kr.versions).toEqual([expected]);
    expect(LocalKeyring.fromKeys(Buffer.from(kek)).currentVersion).toBe(expected);
    expect(expected).not.toContain(kek.toString('hex').slice(0, 12));
  });

  it('wraps as iv(12) ‖ tag(16) ‖ ciphertext(32) and unwraps with the same AAD', async () => {
    const kr = LocalKeyring.fromKeys(randomBytes(32));
    const dataKey = randomBytes(32);
    const { wrapped, keyVersion } = await kr.wrap(dataKey, AAD);
    expect(keyVersion).toBe(kr.currentVersion);
    expect(wrapped).toHaveLength(60);
    expect(wrapped.includes(dataKey)).toBe(false);
    expect((await kr.unwrap(wrapped, keyVersion, AAD)).equals(dataKey)).toBe(true);
  });

  it('refuses another AAD, a tampered wrapped key, and unknown versions with KeyringError', async () => {
    const kr = LocalKeyring.fromKeys(randomBytes(32));
    const { wrapped, keyVersion } = await kr.wrap(randomBytes(32), AAD);
    await expect(kr.unwrap(wrapped, keyVersion, Buffer.from('aae'))).rejects.toThrow(KeyringError);
    for (const i of [0, 12, 28, 59]) {
      const t = Buffer.from(wrapped);
      t[i] = (t[i] ?? 0) ^ 0x80;
      await expect(kr.unwrap(t, keyVersion, AAD)).rejects.toThrow(KeyringError);
    }
    await expect(kr.unwrap(wrapped.subarray(0, 28), keyVersion, AAD)).rejects.toThrow(KeyringError);
    await expect(kr.unwrap(wrapped, 'local:000000000000', AAD)).rejects.toThrow(/unknown or retired/);
  });

  it('keeps previous keys for unwrapping only; copies the keys it is given', async () => {
    const old = randomBytes(32);
    const oldKr = LocalKeyring.fromKeys(old);
    const { wrapped, keyVersion } = await oldKr.wrap(Buffer.alloc(32, 7), AAD);
    const current = randomBytes(32);
    const kr = LocalKeyring.fromKeys(current, [old, old, current]);
    expect(kr.versions).toEqual([localKeyVersion(current), localKeyVersion(old)]);
    old.fill(0);
    current.fill(0);
    expect((await kr.unwrap(wrapped, keyVersion, AAD)).equals(Buffer.alloc(32, 7))).toBe(true);
    expect((await kr.wrap(Buffer.alloc(32, 1), AAD)).keyVersion).toBe(kr.currentVersion);
  });

  it('refuses keys that are not 32 bytes', () => {
    expect(() => LocalKeyring.fromKeys(randomBytes(16))).toThrow(KeyringError);
    expect(() => LocalKeyring.fromKeys(randomBytes(32), [randomBytes(31)])).toThrow(KeyringError);
  });

  it('never shows key material in JSON or inspect output', () => {
    const kek = randomBytes(32);
    const kr = LocalKeyring.fromKeys(kek);
    for (const text of [JSON.stringify(kr), inspect(kr, { showHidden: true, depth: 5 })]) {
      expect(text).not.toContain(kek.toString('hex'));
      expect(text).not.toContain(kek.toString('base64'));
    }
  });
});

describe('LocalKeyring.load with a master key', () => {
  const key = randomBytes(32);

  it('accepts base64, base64url (with or without padding) and hex of 32 bytes', async () => {
    const version = localKeyVersion(key);
    for (const masterKey of [key.toString('base64'), key.toString('base64url'), key.toString('base64').replace(/=$/, ''), key.toString('hex'), key.toString('hex').toUpperCase(), ` ${key.toString('base64')}\n`]) {
      const kr = await LocalKeyring.load({ masterKey, dataDir: tempDir(), environment: 'production' });
      expect(kr.currentVersion).toBe(version);
    }
  });

  it('does not touch the data dir', async () => {
    const dir = tempDir();
    await LocalKeyring.load({ masterKey: key.toString('base64'), dataDir: dir, environment: 'development' });
    expect(fs.readdirSync(dir)).toEqual([]);
  });

  it('refuses values that are not 32 bytes, naming the accepted encodings, never echoing the value', async () => {
    const bad = [
      'correct-horse-battery-staple-but-not-a-key!!',
      randomBytes(16).toString('base64'),
      randomBytes(33).toString('base64'),
      randomBytes(31).toString('hex'),
      `${randomBytes(32).toString('hex')}ab`,
      `${key.toString('base64').slice(0, 42)}B=`, // 43 chars whose spare bits are not zero
      '',
      'zz'.repeat(32),
    ];
    for (const masterKey of bad) {
      const e = await rejection(LocalKeyring.load({ masterKey, dataDir: tempDir(), environment: 'production' }));
      expect(e).toBeInstanceOf(KeyringError);
      expect(e.message).toMatch(/base64/);
      expect(e.message).toMatch(/hex/);
      expect(e.message).toMatch(/32 bytes/);
      if (masterKey.length > 0) expect(e.message).not.toContain(masterKey.slice(0, 8));
    }
  });

  it('previous master keys unwrap what they wrapped; a bad one is refused', async () => {
    const old = randomBytes(32);
    const binding: CredentialBinding = { orgSlug: 'acme_co', provider: 'openai', credentialId: 'c1' };
    const before = await LocalKeyring.load({ masterKey: old.toString('hex'), dataDir: tempDir(), environment: 'production' });
    const { envelope } = await encryptSecret(before, 'sk-secret-value-0123456789', binding);
    const after = await LocalKeyring.load({
      masterKey: key.toString('base64'),
      previousMasterKeys: [old.toString('base64')],
      dataDir: tempDir(),
      environment: 'production',
    });
    expect(after.versions).toEqual([localKeyVersion(key), localKeyVersion(old)]);
    expect(await decryptSecret(after, envelope, binding)).toBe('sk-secret-value-0123456789');
    const e = await rejection(LocalKeyring.load({ masterKey: key.toString('base64'), previousMasterKeys: ['nope'], dataDir: tempDir(), environment: 'production' }));
    expect(e).toBeInstanceOf(KeyringError);
    expect(e.message).toMatch(/previous master key #1/);
  });
});

describe('LocalKeyring.load without a master key', () => {
  it('refuses production, pointing at CONVERGENCE_MASTER_KEY and KMS_KEY_NAME, and writes nothing', async () => {
    const dir = tempDir();
    const e = await rejection(LocalKeyring.load({ dataDir: dir, environment: 'production' }));
    expect(e).toBeInstanceOf(KeyringError);
    expect(e.message).toMatch(/CONVERGENCE_MASTER_KEY/);
    expect(e.message).toMatch(/KMS_KEY_NAME/);
    expect(fs.readdirSync(dir)).toEqual([]);
  });

  it('creates {dataDir}/master-keys.json with mode 0600, and reuses it on the next load', async () => {
    const dir = tempDir();
    const first = await LocalKeyring.load(dev(dir));
    if (isPosix) expect(fs.statSync(keyFile(dir)).mode & 0o777).toBe(0o600);
    const file = readKeyFile(dir);
    expect(file.current).toBe(first.currentVersion);
    expect(file.keys).toHaveLength(1);
    expect(file.keys[0]?.version).toBe(first.currentVersion);
    expect(Buffer.from(file.keys[0]?.key ?? '', 'base64')).toHaveLength(32);
    expect(Number.isNaN(Date.parse(file.keys[0]?.created_at ?? ''))).toBe(false);
    expect(fs.readdirSync(dir)).toEqual([MASTER_KEY_FILE]); // no temp files left behind

    const second = await LocalKeyring.load({ dataDir: dir, environment: 'staging' });
    expect(second.currentVersion).toBe(first.currentVersion);
    expect(readKeyFile(dir)).toEqual(file);
  });

  it('creates a missing data dir', async () => {
    const dir = path.join(tempDir(), 'nested', 'data');
    const kr = await LocalKeyring.load(dev(dir));
    expect(readKeyFile(dir).current).toBe(kr.currentVersion);
  });

  it.runIf(isPosix)('refuses a key file readable by group/others, saying to chmod 600', async () => {
    const dir = tempDir();
    await LocalKeyring.load(dev(dir));
    for (const mode of [0o644, 0o640, 0o604, 0o660]) {
      fs.chmodSync(keyFile(dir), mode);
      const e = await rejection(LocalKeyring.load(dev(dir)));
      expect(e).toBeInstanceOf(KeyringError);
      expect(e.message).toMatch(/chmod 600/);
      expect(e.message).not.toContain(readKeyFile(dir).keys[0]?.key);
    }
    fs.chmodSync(keyFile(dir), 0o600);
    await expect(LocalKeyring.load(dev(dir))).resolves.toBeInstanceOf(LocalKeyring);
  });

  it('refuses a malformed key file without echoing keys', async () => {
    const valid = randomBytes(32);
    const entry = { version: localKeyVersion(valid), key: valid.toString('base64'), created_at: '2025-01-01T00:00:00.000Z' };
    const other = randomBytes(32);
    const cases: unknown[] = [
      'not json',
      [],
      { keys: [entry] },
      { current: entry.version, keys: [] },
      { current: entry.version, keys: [{ ...entry, key: randomBytes(16).toString('base64') }] },
      { current: entry.version, keys: [{ ...entry, version: localKeyVersion(other) }] },
      { current: entry.version, keys: [{ version: entry.version, key: entry.key }] },
      { current: entry.version, keys: [entry, entry] },
      { current: localKeyVersion(other), keys: [entry] },
    ];
    for (const c of cases) {
      const dir = tempDir();
      fs.writeFileSync(keyFile(dir), typeof c === 'string' ? c : JSON.stringify(c), { mode: 0o600 });
      const e = await rejection(LocalKeyring.load(dev(dir)));
      expect(e).toBeInstanceOf(KeyringError);
      expect(e.message).toMatch(/malformed/);
      expect(e.message).not.toContain(valid.toString('base64'));
      // The bad file is left alone for the operator.
      expect(fs.readFileSync(keyFile(dir), 'utf8')).toBe(typeof c === 'string' ? c : JSON.stringify(c));
    }
  });

  it('five concurrent loads on an empty data dir end with one key', async () => {
    for (let round = 0; round < 5; round++) {
      const dir = tempDir();
      const keyrings = await Promise.all(Array.from({ length: 5 }, () => LocalKeyring.load(dev(dir))));
      expect(new Set(keyrings.map((k) => k.currentVersion)).size).toBe(1);
      const file = readKeyFile(dir);
      expect(file.keys).toHaveLength(1);
      expect(file.current).toBe(keyrings[0]?.currentVersion);
      expect(fs.readdirSync(dir)).toEqual([MASTER_KEY_FILE]);
    }
  });
});

describe('key rotation', () => {
  const binding: CredentialBinding = { orgSlug: 'acme_co', provider: 'anthropic', credentialId: 'cred_1' };
  const secrets = ['sk-ant-admin01-first-0123456789abcdef', 'sk-ant-admin01-second-0123456789abcdef', 'third 🔑'];

  it('rotate → old envelopes decrypt → rewrap keeps iv/ct/tag → retire strands only the un-rewrapped', async () => {
    const dir = tempDir();
    const v1 = await LocalKeyring.load(dev(dir));
    const bindings = secrets.map((_, i) => ({ ...binding, credentialId: `cred_${i}` }));
    const old = await Promise.all(secrets.map((s, i) => encryptSecret(v1, s, bindings[i] as CredentialBinding)));

    const rotated = await LocalKeyring.rotateKeyFile(dir);
    expect(rotated.previous).toBe(v1.currentVersion);
    expect(rotated.current).not.toBe(v1.currentVersion);
    if (isPosix) expect(fs.statSync(keyFile(dir)).mode & 0o777).toBe(0o600);
    expect(readKeyFile(dir).keys.map((k) => k.version)).toEqual([v1.currentVersion, rotated.current]);

    const v2 = await LocalKeyring.load(dev(dir));
    expect(v2.currentVersion).toBe(rotated.current);
    expect([...v2.versions].sort()).toEqual([v1.currentVersion, rotated.current].sort());
    for (const [i, s] of secrets.entries()) expect(await decryptSecret(v2, old[i]?.envelope ?? '', bindings[i] as CredentialBinding)).toBe(s);
    // New writes use the new KEK.
    expect((await encryptSecret(v2, 'new', binding)).keyVersion).toBe(rotated.current);

    // Rewrap the first two only.
    const rewrapped = [];
    for (const i of [0, 1]) {
      const r = await rewrapEnvelope(v2, old[i]?.envelope ?? '', bindings[i] as CredentialBinding);
      expect(r.changed).toBe(true);
      expect(r.keyVersion).toBe(rotated.current);
      const before = JSON.parse(old[i]?.envelope ?? '') as Record<string, string>;
      const after = JSON.parse(r.envelope) as Record<string, string>;
      for (const f of ['iv', 'ct', 'tag']) expect(Buffer.from(after[f] ?? '', 'base64').equals(Buffer.from(before[f] ?? '', 'base64'))).toBe(true);
      expect(after.kv).toBe(rotated.current);
      expect(after.wk).not.toBe(before.wk);
      rewrapped.push(r);
    }

    // Retire everything but the new KEK.
    const retired = await LocalKeyring.retireKeys(dir, [rotated.current]);
    expect(retired).toEqual({ removed: [v1.currentVersion], kept: [rotated.current] });
    if (isPosix) expect(fs.statSync(keyFile(dir)).mode & 0o777).toBe(0o600);
    const v3 = await LocalKeyring.load(dev(dir));
    expect(v3.versions).toEqual([rotated.current]);
    for (const [i, r] of rewrapped.entries()) expect(await decryptSecret(v3, r.envelope, bindings[i] as CredentialBinding)).toBe(secrets[i]);
    const stranded = await rejection(decryptSecret(v3, old[2]?.envelope ?? '', bindings[2] as CredentialBinding));
    expect(stranded).toBeInstanceOf(DecryptionError);
    expect(stranded.message).toMatch(/retired/);
    await expect(rewrapEnvelope(v3, old[2]?.envelope ?? '', bindings[2] as CredentialBinding)).rejects.toThrow(DecryptionError);
    expect(fs.readdirSync(dir)).toEqual([MASTER_KEY_FILE]);
  });

  it('retireKeys refuses to remove the current key, and refuses unknown versions in keep', async () => {
    const dir = tempDir();
    const v1 = await LocalKeyring.load(dev(dir));
    const { current } = await LocalKeyring.rotateKeyFile(dir);
    const before = fs.readFileSync(keyFile(dir), 'utf8');
    await expect(LocalKeyring.retireKeys(dir, [v1.currentVersion])).rejects.toThrow(/current/);
    await expect(LocalKeyring.retireKeys(dir, [])).rejects.toThrow(KeyringError);
    await expect(LocalKeyring.retireKeys(dir, [current, 'local:000000000000'])).rejects.toThrow(/no key version/);
    expect(fs.readFileSync(keyFile(dir), 'utf8')).toBe(before);
    expect(await LocalKeyring.retireKeys(dir, [current, v1.currentVersion])).toEqual({ removed: [], kept: [v1.currentVersion, current] });
  });

  it('concurrent rotations keep every key', async () => {
    const dir = tempDir();
    const v1 = await LocalKeyring.load(dev(dir));
    const results = await Promise.all(Array.from({ length: 4 }, () => LocalKeyring.rotateKeyFile(dir)));
    const file = readKeyFile(dir);
    expect(file.keys).toHaveLength(5);
    expect(new Set(file.keys.map((k) => k.version))).toEqual(new Set([v1.currentVersion, ...results.map((r) => r.current)]));
    expect(fs.readdirSync(dir)).toEqual([MASTER_KEY_FILE]);
  });

  it('rotate and retire refuse a missing or insecure key file', async () => {
    const dir = tempDir();
    await expect(LocalKeyring.rotateKeyFile(dir)).rejects.toThrow(KeyringError);
    await expect(LocalKeyring.retireKeys(dir, [])).rejects.toThrow(KeyringError);
    if (isPosix) {
      await LocalKeyring.load(dev(dir));
      fs.chmodSync(keyFile(dir), 0o644);
      await expect(LocalKeyring.rotateKeyFile(dir)).rejects.toThrow(/chmod 600/);
      expect(readKeyFile(dir).keys).toHaveLength(1);
    }
  });
});

describe('decodeMasterKey', () => {
  it('decodes hex and base64 to the same 32 bytes', () => {
    const key = randomBytes(32);
    expect(decodeMasterKey(key.toString('hex')).equals(key)).toBe(true);
    expect(decodeMasterKey(key.toString('base64')).equals(key)).toBe(true);
    expect(decodeMasterKey(key.toString('base64url')).equals(key)).toBe(true);
  });
});
