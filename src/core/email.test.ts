import { describe, expect, it } from 'vitest';
import { isEmail } from './email.js';

describe('isEmail', () => {
  it.each([
    'a@b.co',
    'user@example.com',
    'first.last+tag@sub.example.com',
    "o'brien@example.ie",
    'user_name-1@mail-server.example.org',
    'UPPER@EXAMPLE.COM',
    'x@xn--bcher-kva.example',
    '1@2.io',
    `${'l'.repeat(64)}@example.com`,
  ])('%j is valid', (s) => {
    expect(isEmail(s)).toBe(true);
  });

  it.each([
    '',
    'plain',
    '@example.com',
    'user@',
    'user@example',
    'user@@example.com',
    'a@b@example.com',
    'user name@example.com',
    'user@exa mple.com',
    ' user@example.com',
    'user@example.com ',
    'user@example.com\n',
    'user\n@example.com',
    'user\t@example.com',
    'user@-example.com',
    'user@example-.com',
    'user@example..com',
    'user@.example.com',
    'user@example.com.',
    'user@exam_ple.com',
    'user@[127.0.0.1]',
    '"quoted"@example.com',
    'a<b>@example.com',
    'a,b@example.com',
    'a;b@example.com',
    'a:b@example.com',
    'a(b)@example.com',
    'a\\b@example.com',
    'user@exämple.com',
    `user@${'d'.repeat(64)}.com`,
    `${'l'.repeat(65)}@example.com`,
  ])('%j is invalid', (s) => {
    expect(isEmail(s)).toBe(false);
  });

  it('accepts 254 characters and rejects 255', () => {
    // 64 local + '@' + 189 domain = 254, with labels of at most 63 characters.
    const domain = `${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(57)}.com`;
    const at254 = `${'a'.repeat(64)}@${domain}`;
    expect(at254).toHaveLength(254);
    expect(isEmail(at254)).toBe(true);
    const at255 = `${'a'.repeat(64)}@${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(58)}.com`;
    expect(at255).toHaveLength(255);
    expect(isEmail(at255)).toBe(false);
    expect(isEmail(`a@${'e'.repeat(60)}.${'f'.repeat(60)}.${'g'.repeat(60)}.${'h'.repeat(60)}.${'i'.repeat(60)}.com`)).toBe(false);
  });

  // Regression: the doc comment promises "no spaces or control characters", but the local-part
  // class [^\s@"<>()[\]\\,;:] excludes only whitespace, so C0 controls other than \t\n\v\f\r, and DEL,
  // are accepted: isEmail('a\u0000b@example.com') === true, isEmail('a\u007fb@example.com') === true.
  it('control characters in the local part are rejected', () => {
    for (const c of ['\u0000', '\u0001', '\u001b', '\u007f']) expect(isEmail(`a${c}b@example.com`), JSON.stringify(c)).toBe(false);
  });
});
