import crypto from 'node:crypto';

/**
 * Finding secrets where they must not be: in response bodies and logs (as text, including any
 * window of 6+ characters of the secret), and in raw files (as bytes: UTF-8 and base64 forms).
 */
export interface SecretSpec {
  readonly label: string;
  /** The secret text(s). For a service-account key: the lines of its PEM body. */
  readonly parts: readonly string[];
  /** A well-known, non-secret prefix that may be shown (e.g. `sk-admin-` in a fingerprint). */
  readonly publicPrefix?: string;
}

export const MIN_FRAGMENT = 6;

/** A random base62 string: distinctive enough that a 6-character window of it never occurs by chance. */
export function randomBase62(length: number): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
  const bytes = crypto.randomBytes(length * 2);
  let out = '';
  for (let i = 0; out.length < length; i++) {
    const b = bytes[i % bytes.length] ?? 0;
    if (b < 248) out += alphabet[b % 62];
  }
  return out;
}

/** Every window of `min` characters of the secret that is not wholly inside its public prefix. */
function windows(spec: SecretSpec, min: number): Set<string> {
  const out = new Set<string>();
  const prefix = spec.publicPrefix ?? '';
  for (const part of spec.parts) {
    const start = part.startsWith(prefix) ? Math.max(0, prefix.length - min + 1) : 0;
    for (let i = start; i + min <= part.length; i++) out.add(part.slice(i, i + min));
  }
  return out;
}

/** Descriptions of every secret (or `min`-character fragment of one) found in `text`; empty when clean. */
export function findLeaks(text: string, specs: readonly SecretSpec[], min = MIN_FRAGMENT): string[] {
  const leaks: string[] = [];
  for (const spec of specs) {
    for (const part of spec.parts) if (part.length >= min && text.includes(part)) leaks.push(`${spec.label}: the whole secret`);
    const w = windows(spec, min);
    for (let i = 0; i + min <= text.length; i++) {
      const s = text.slice(i, i + min);
      if (w.has(s)) {
        leaks.push(`${spec.label}: fragment "${s}" at ${i} in …${text.slice(Math.max(0, i - 30), i + 30)}…`);
        break;
      }
    }
  }
  return leaks;
}

/** The base64 text of `s` as it would appear inside a longer base64 string, at each of the 3 alignments. */
export function base64Needles(s: string): string[] {
  const bytes = Buffer.from(s, 'utf8');
  const out: string[] = [];
  for (let k = 0; k < 3; k++) {
    const whole = Math.floor((bytes.length - k) / 3) * 3;
    if (whole >= 12) out.push(bytes.subarray(k, k + whole).toString('base64'));
  }
  return out;
}

/** Labels of the needles found in `haystack` (raw bytes). */
export function findBytes(haystack: Buffer, needles: readonly { label: string; bytes: Buffer }[]): string[] {
  return needles.filter((n) => haystack.includes(n.bytes)).map((n) => n.label);
}

/** The raw forms a secret could take in a file: its UTF-8 bytes and its base64 text at every alignment. */
export function byteNeedles(spec: SecretSpec): { label: string; bytes: Buffer }[] {
  const out: { label: string; bytes: Buffer }[] = [];
  for (const [i, part] of spec.parts.entries()) {
    out.push({ label: `${spec.label}[${i}] utf8`, bytes: Buffer.from(part, 'utf8') });
    for (const [k, b64] of base64Needles(part).entries()) out.push({ label: `${spec.label}[${i}] base64@${k}`, bytes: Buffer.from(b64, 'latin1') });
  }
  return out;
}

/** The secret parts of a PEM private key: its base64 body lines (header and footer are public). */
export function pemBodyLines(pem: string): string[] {
  return pem.split('\n').filter((l) => l !== '' && !l.startsWith('-----'));
}
