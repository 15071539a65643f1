import path from 'node:path';

/** A path as the user would type it: relative to the working directory when inside it, else absolute. */
export function shownPath(cwd: string, p: string): string {
  const abs = path.resolve(cwd, p);
  const rel = path.relative(cwd, abs);
  return rel === '' ? '.' : rel.startsWith('..') || path.isAbsolute(rel) ? abs : rel;
}
