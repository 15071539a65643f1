/**
 * A deliberately plain address check: one `@`, a dotted domain, no spaces or control characters,
 * within RFC 5321 length limits. Deliverability is the mail server's business.
 */
// eslint-disable-next-line no-control-regex
const EMAIL_PATTERN = /^[^\s\u0000-\u001f\u007f@"<>()[\]\\,;:]+@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$/;

export function isEmail(value: string): boolean {
  if (value.length > 254) return false;
  const at = value.lastIndexOf('@');
  if (at < 1 || at > 64) return false;
  return EMAIL_PATTERN.test(value);
}
