import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  credentialAad,
  credentialFingerprint,
  decryptSecret,
  DecryptionError,
  encryptSecret,
  rewrapEnvelope,
  type CredentialBinding,
} from './envelope.js';
import { KeyringError, type Keyring } from './keyring.js';
import { LocalKeyring } from './local-keyring.js';

const BINDING: CredentialBinding = { orgSlug: 'acme_co', provider: 'openai', credentialId: 'cred_1' };
const OTHER: CredentialBinding = { orgSlug: 'globex', provider: 'openai', credentialId: 'cred_2' };
const SECRET = 'sk-admin-Zq9XwV8uT7sR6qP5oN4mL3kJ2iH1a1b2';

type Field = 'wk' | 'iv' | 'ct' | 'tag';
interface EnvelopeJson {
  v: number;
  alg: string;
  kv: string;
  wk: string;
  iv: string;
  ct: string;
  tag: string;
}
const parse = (envelope: string): EnvelopeJson => JSON.parse(envelope) as EnvelopeJson;
const bytes = (envelope: string, field: Field): Buffer => Buffer.from(parse(envelope)[field], 'base64');

/** The envelope with one bit of one decoded field flipped. */
function flipBit(envelope: string, field: Field, byteIndex = 0, bit = 0): string {
  const env = parse(envelope);
  const b = Buffer.from(env[field], 'base64');
  const i = byteIndex % b.length;
  b[i] = (b[i] ?? 0) ^ (1 << bit);
  return JSON.stringify({ ...env, [field]: b.toString('base64') });
}

const withField = (envelope: string, patch: Record<string, unknown>): string =>
  JSON.stringify({ ...parse(envelope), ...patch });

const freshKeyring = (): LocalKeyring => LocalKeyring.fromKeys(randomBytes(32));

async function expectDecryptionError(p: Promise<unknown>, secret = SECRET): Promise<DecryptionError> {
  const e: unknown = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(DecryptionError);
  const err = e as DecryptionError;
  expect(err.name).toBe('DecryptionError');
  if (secret.length > 0) expect(err.message).not.toContain(secret);
  return err;
}

describe('encryptSecret / decryptSecret', () => {
  it('round-trips ASCII, unicode, empty and 64 KiB secrets', async () => {
    const kr = freshKeyring();
    const big = Array.from({ length: 64 * 1024 }, (_, i) => String.fromCharCode(33 + (i % 90))).join('');
    for (const secret of [SECRET, 'pässwörd — 秘密 🔑👩‍👩‍👧', '', big, '{"type":"service_account","private_key":"-----BEGIN\\n"}']) {
      const { envelope, keyVersion } = await encryptSecret(kr, secret, BINDING);
      expect(keyVersion).toBe(kr.currentVersion);
      expect(await decryptSecret(kr, envelope, BINDING)).toBe(secret);
    }
  });

  it('writes the compact versioned envelope, without the plaintext', async () => {
    const kr = freshKeyring();
    const { envelope, keyVersion } = await encryptSecret(kr, SECRET, BINDING);
    expect(envelope).toMatch(/^\{"v":1,"alg":"A256GCM","kv":"local:[0-9a-f]{12}","wk":"[^"]+","iv":"[^"]+","ct":"[^"]+","tag":"[^"]+"\}$/);
    const env = parse(envelope);
    expect(env.kv).toBe(keyVersion);
    expect(bytes(envelope, 'iv')).toHaveLength(12);
    expect(bytes(envelope, 'tag')).toHaveLength(16);
    expect(bytes(envelope, 'wk')).toHaveLength(12 + 16 + 32);
    expect(bytes(envelope, 'ct')).toHaveLength(Buffer.byteLength(SECRET));
    expect(envelope).not.toContain(SECRET);
    expect(envelope).not.toContain(Buffer.from(SECRET).toString('base64').slice(0, 12));
  });

  it('uses a fresh data key and IV per write: two encryptions of the same secret differ everywhere', async () => {
    const kr = freshKeyring();
    const a = await encryptSecret(kr, SECRET, BINDING);
    const b = await encryptSecret(kr, SECRET, BINDING);
    for (const field of ['wk', 'iv', 'ct', 'tag'] as const) {
      expect(bytes(a.envelope, field).equals(bytes(b.envelope, field)), field).toBe(false);
    }
    // Same plaintext, different data key: the ciphertexts share no position (up to chance).
    const ca = bytes(a.envelope, 'ct');
    const cb = bytes(b.envelope, 'ct');
    const same = [...ca].filter((x, i) => x === cb[i]).length;
    expect(same).toBeLessThan(ca.length / 4);
  });

  it('zeroes the data key after wrapping it', async () => {
    const inner = freshKeyring();
    const seen: Buffer[] = [];
    const spy: Keyring = {
      currentVersion: inner.currentVersion,
      versions: inner.versions,
      wrap: async (dataKey, aad) => {
        seen.push(dataKey);
        expect(dataKey.some((x) => x !== 0)).toBe(true);
        return inner.wrap(dataKey, aad);
      },
      unwrap: (w, v, aad) => inner.unwrap(w, v, aad),
    };
    const { envelope } = await encryptSecret(spy, SECRET, BINDING);
    expect(seen).toHaveLength(1);
    expect(seen[0]?.every((x) => x === 0)).toBe(true);
    expect(await decryptSecret(inner, envelope, BINDING)).toBe(SECRET);
  });

  describe('tampering fails with DecryptionError, never garbage', () => {
    for (const field of ['ct', 'iv', 'tag', 'wk'] as const) {
      it(`one flipped bit in ${field}`, async () => {
        const kr = freshKeyring();
        const { envelope } = await encryptSecret(kr, SECRET, BINDING);
        const len = bytes(envelope, field).length;
        for (const idx of [0, Math.floor(len / 2), len - 1]) {
          for (const bit of [0, 7]) {
            await expectDecryptionError(decryptSecret(kr, flipBit(envelope, field, idx, bit), BINDING));
          }
        }
      });
    }

    it('a changed key version (unknown, or another known version)', async () => {
      const current = randomBytes(32);
      const old = randomBytes(32);
      const kr = LocalKeyring.fromKeys(current, [old]);
      const { envelope } = await encryptSecret(kr, SECRET, BINDING);
      const otherVersion = kr.versions.find((v) => v !== kr.currentVersion);
      expect(otherVersion).toBeDefined();
      await expectDecryptionError(decryptSecret(kr, withField(envelope, { kv: otherVersion }), BINDING));
      const unknown = await expectDecryptionError(decryptSecret(kr, withField(envelope, { kv: 'local:000000000000' }), BINDING));
      expect(unknown.cause).toBeInstanceOf(KeyringError);
    });

    it('another org, provider or credential id', async () => {
      const kr = freshKeyring();
      const { envelope } = await encryptSecret(kr, SECRET, BINDING);
      for (const binding of [
        { ...BINDING, orgSlug: 'acme_cp' },
        { ...BINDING, provider: 'anthropic' },
        { ...BINDING, credentialId: 'cred_10' },
        OTHER,
      ]) {
        await expectDecryptionError(decryptSecret(kr, envelope, binding));
      }
    });

    it('envelopes swapped between two rows', async () => {
      const kr = freshKeyring();
      const a = await encryptSecret(kr, 'secret-of-a-0123456789', BINDING);
      const b = await encryptSecret(kr, 'secret-of-b-0123456789', OTHER);
      await expectDecryptionError(decryptSecret(kr, a.envelope, OTHER), 'secret-of-a-0123456789');
      await expectDecryptionError(decryptSecret(kr, b.envelope, BINDING), 'secret-of-b-0123456789');
      // Splicing parts of one row into the other: the wrapped key of b with the ciphertext of a.
      const spliced = withField(a.envelope, { wk: parse(b.envelope).wk });
      await expectDecryptionError(decryptSecret(kr, spliced, BINDING));
      await expectDecryptionError(decryptSecret(kr, spliced, OTHER));
    });

    it('binding confusion: ("ab","c") and ("a","bc") are different bindings', async () => {
      const kr = freshKeyring();
      const ab = { orgSlug: 'ab', provider: 'c', credentialId: 'x' };
      const a = { orgSlug: 'a', provider: 'bc', credentialId: 'x' };
      expect(credentialAad(ab).equals(credentialAad(a))).toBe(false);
      expect(credentialAad({ orgSlug: 'o', provider: 'p', credentialId: 'ab' }).equals(credentialAad({ orgSlug: 'o', provider: 'pa', credentialId: 'b' }))).toBe(false);
      const { envelope } = await encryptSecret(kr, SECRET, ab);
      await expectDecryptionError(decryptSecret(kr, envelope, a));
      expect(await decryptSecret(kr, envelope, ab)).toBe(SECRET);
    });

    it('a keyring without the KEK (unknown key version)', async () => {
      const { envelope } = await encryptSecret(freshKeyring(), SECRET, BINDING);
      const err = await expectDecryptionError(decryptSecret(freshKeyring(), envelope, BINDING));
      expect(err.message).toMatch(/key version "local:[0-9a-f]{12}"/);
    });

    it('malformed envelopes and unknown versions are refused before any crypto', async () => {
      const kr = freshKeyring();
      const { envelope } = await encryptSecret(kr, SECRET, BINDING);
      const env = parse(envelope);
      const bad: unknown[] = [
        '',
        'null',
        '[]',
        '"x"',
        '{',
        withField(envelope, { v: 2 }),
        withField(envelope, { v: '1' }),
        withField(envelope, { alg: 'A128GCM' }),
        withField(envelope, { kv: '' }),
        withField(envelope, { kv: 7 }),
        withField(envelope, { iv: Buffer.alloc(16).toString('base64') }),
        withField(envelope, { tag: Buffer.alloc(12).toString('base64') }),
        withField(envelope, { wk: '' }),
        withField(envelope, { ct: `${env.ct}!` }),
        withField(envelope, { ct: env.ct.replace(/=*$/, '') + '\n' }),
        withField(envelope, { extra: 1 }),
        JSON.stringify({ v: 1, alg: 'A256GCM', kv: env.kv, wk: env.wk, iv: env.iv, ct: env.ct }),
        42,
        undefined,
      ];
      for (const e of bad) await expectDecryptionError(decryptSecret(kr, e as string, BINDING));
      const unsupported = await expectDecryptionError(decryptSecret(kr, withField(envelope, { v: 2 }), BINDING));
      expect(unsupported.message).toMatch(/version/);
    });

    it('non-canonical base64 (same bytes, other text) is refused', async () => {
      const kr = freshKeyring();
      const { envelope } = await encryptSecret(kr, 'x', BINDING); // 1-byte ct: "xx==" has 4 spare bits
      const ct = parse(envelope).ct;
      expect(ct).toMatch(/^[A-Za-z0-9+/]{2}==$/);
      const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
      const i = alphabet.indexOf(ct[1] ?? 'A');
      const sloppy = `${ct[0]}${alphabet[i ^ 1]}==`;
      expect(Buffer.from(sloppy, 'base64').equals(Buffer.from(ct, 'base64'))).toBe(true);
      await expectDecryptionError(decryptSecret(kr, withField(envelope, { ct: sloppy }), BINDING), '');
    });

    it('keyring failures that are not KeyringErrors propagate as themselves (e.g. a KMS outage)', async () => {
      const inner = freshKeyring();
      const { envelope } = await encryptSecret(inner, SECRET, BINDING);
      const down: Keyring = {
        currentVersion: inner.currentVersion,
        versions: inner.versions,
        wrap: (d, a) => inner.wrap(d, a),
        unwrap: () => Promise.reject(new Error('ECONNRESET')),
      };
      await expect(decryptSecret(down, envelope, BINDING)).rejects.toThrow('ECONNRESET');
    });
  });

  it('refuses invalid bindings and ill-formed secrets when encrypting', async () => {
    const kr = freshKeyring();
    await expect(encryptSecret(kr, SECRET, { ...BINDING, orgSlug: '' })).rejects.toThrow(TypeError);
    await expect(encryptSecret(kr, SECRET, { ...BINDING, provider: 'a\uD800' })).rejects.toThrow(TypeError);
    await expect(encryptSecret(kr, 'lone \uDC00 surrogate', BINDING)).rejects.toThrow(TypeError);
  });

  describe('properties', () => {
    const field = fc.string({ unit: 'grapheme', minLength: 1, maxLength: 20 });
    const binding = fc.record({ orgSlug: field, provider: field, credentialId: field });
    const secret = fc.oneof(fc.string({ unit: 'binary' }), fc.string({ unit: 'grapheme', maxLength: 200 }), fc.string());
    const kr = freshKeyring();

    it('decrypt(encrypt(x)) === x', async () => {
      await fc.assert(
        fc.asyncProperty(secret, binding, async (s, b) => {
          const { envelope } = await encryptSecret(kr, s, b);
          expect(await decryptSecret(kr, envelope, b)).toBe(s);
        }),
        { numRuns: 200 },
      );
    });

    it('any single-byte change of the decoded ciphertext fails', async () => {
      await fc.assert(
        fc.asyncProperty(secret.filter((s) => s.length > 0), binding, fc.nat(), fc.integer({ min: 1, max: 255 }), async (s, b, pos, delta) => {
          const { envelope } = await encryptSecret(kr, s, b);
          const env = parse(envelope);
          const ct = Buffer.from(env.ct, 'base64');
          const i = pos % ct.length;
          ct[i] = ((ct[i] ?? 0) + delta) & 0xff;
          const tampered = JSON.stringify({ ...env, ct: ct.toString('base64') });
          await expectDecryptionError(decryptSecret(kr, tampered, b), '');
        }),
        { numRuns: 200 },
      );
    });

    it('distinct bindings never share additional data', () => {
      fc.assert(
        fc.property(binding, binding, (a, b) => {
          const same = a.orgSlug === b.orgSlug && a.provider === b.provider && a.credentialId === b.credentialId;
          expect(credentialAad(a).equals(credentialAad(b))).toBe(same);
        }),
        { numRuns: 500 },
      );
    });
  });
});

describe('rewrapEnvelope', () => {
  it('moves an envelope to the current KEK keeping iv, ct and tag byte-identical', async () => {
    const oldKey = randomBytes(32);
    const before = LocalKeyring.fromKeys(oldKey);
    const { envelope, keyVersion } = await encryptSecret(before, SECRET, BINDING);
    const newKey = randomBytes(32);
    const after = LocalKeyring.fromKeys(newKey, [oldKey]);
    const r = await rewrapEnvelope(after, envelope, BINDING);
    expect(r.changed).toBe(true);
    expect(r.keyVersion).toBe(after.currentVersion);
    expect(r.keyVersion).not.toBe(keyVersion);
    for (const f of ['iv', 'ct', 'tag'] as const) expect(parse(r.envelope)[f]).toBe(parse(envelope)[f]);
    expect(parse(r.envelope).wk).not.toBe(parse(envelope).wk);
    expect(await decryptSecret(after, r.envelope, BINDING)).toBe(SECRET);
    // Only the new KEK is needed from now on.
    expect(await decryptSecret(LocalKeyring.fromKeys(newKey), r.envelope, BINDING)).toBe(SECRET);
    await expectDecryptionError(decryptSecret(LocalKeyring.fromKeys(newKey), envelope, BINDING));

    const again = await rewrapEnvelope(after, r.envelope, BINDING);
    expect(again).toEqual({ envelope: r.envelope, keyVersion: r.keyVersion, changed: false });
  });

  it('refuses to rewrap a tampered envelope or one bound elsewhere', async () => {
    const oldKey = randomBytes(32);
    const { envelope } = await encryptSecret(LocalKeyring.fromKeys(oldKey), SECRET, BINDING);
    const kr = LocalKeyring.fromKeys(randomBytes(32), [oldKey]);
    await expectDecryptionError(rewrapEnvelope(kr, envelope, OTHER));
    await expectDecryptionError(rewrapEnvelope(kr, flipBit(envelope, 'ct'), BINDING));
    await expectDecryptionError(rewrapEnvelope(kr, flipBit(envelope, 'wk'), BINDING));
    await expectDecryptionError(rewrapEnvelope(kr, withField(envelope, { v: 3 }), BINDING));
  });
});

describe('credentialFingerprint', () => {
  it('shows the provider prefix and the last 4 characters of API-key-like secrets', () => {
    expect(credentialFingerprint('sk-admin-Zq9XwV8uT7sR6qP5oN4mL3kJ2iH1a1b2')).toBe('sk-admin-…a1b2');
    expect(credentialFingerprint('sk-ant-admin01-abcdefghijklmnopqrstuvwxyz0123')).toBe('sk-ant-admin01-…0123');
    expect(credentialFingerprint('sk-proj-abcdefghijklmnopqrstuvwxyzWXYZ')).toBe('sk-proj-…WXYZ');
    expect(credentialFingerprint('AbCdEfGhIjKlMnOpQrStUv9z')).toBe('…Uv9z');
  });

  it('falls back to a hash for short, spaced or structured secrets', () => {
    for (const s of ['short-secret', 'sk-abc', '', 'correct horse battery staple', '{"client_email":"x@y.iam.gserviceaccount.com"}', 'ü'.repeat(30)]) {
      const fp = credentialFingerprint(s);
      expect(fp).toMatch(/^…[0-9a-f]{8}$/);
      expect(credentialFingerprint(s)).toBe(fp);
    }
    expect(credentialFingerprint('short-secret')).not.toBe(credentialFingerprint('short-secreu'));
  });

  it('a prefix is shown only when enough of the secret follows it', () => {
    // 20 characters, but only 5 after the specific prefix: the generic `sk-` is shown instead.
    expect(credentialFingerprint('sk-ant-admin01-abcde')).toBe('sk-…bcde');
    // 20 characters, only 9 after the prefix: no prefix, the last 4 only.
    expect(credentialFingerprint('github_pat_abcdefghi')).toBe('…fghi');
    expect(credentialFingerprint('github_pat_abcdefghijklmnop')).toBe('github_pat_…mnop');
  });

  it('property: never reveals more than 4 characters of the secret beyond a known prefix', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string({ maxLength: 60 }), fc.string({ unit: 'binary', maxLength: 60 }), fc.stringMatching(/^sk-[a-z]{0,6}-?[A-Za-z0-9]{0,40}$/)), (s) => {
        const fp = credentialFingerprint(s);
        const [prefix = '', shown = ''] = fp.split('…');
        expect(s.startsWith(prefix)).toBe(true);
        if (shown.length === 8) {
          // The hash form: no characters of the secret at all.
          expect(prefix).toBe('');
          expect(shown).toMatch(/^[0-9a-f]{8}$/);
          return;
        }
        expect(shown).toHaveLength(4);
        expect(s.endsWith(shown)).toBe(true);
        expect(s.length).toBeGreaterThanOrEqual(20);
        expect(s.length - prefix.length).toBeGreaterThanOrEqual(16);
      }),
      { numRuns: 1000 },
    );
  });
});
