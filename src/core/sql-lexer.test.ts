import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { findNamedParameters, rewriteNamedParameters } from './sql-lexer.js';

const names = (sql: string): string[] => findNamedParameters(sql).map((p) => p.name);

describe('findNamedParameters', () => {
  it('finds @name parameters with their offsets', () => {
    const sql = 'SELECT * FROM t WHERE a = @a AND b = @b_2';
    const found = findNamedParameters(sql);
    expect(found.map((p) => p.name)).toEqual(['a', 'b_2']);
    for (const p of found) expect(sql.slice(p.start, p.end)).toBe(`@${p.name}`);
    expect(found[0]?.start).toBe(sql.indexOf('@a'));
  });

  it.each([
    ['@a', ['a']],
    ['(@a)', ['a']],
    ['@a,@b', ['a', 'b']],
    ['x=@_under', ['_under']],
    ['@A1', ['A1']],
    ['@a+@b', ['a', 'b']],
    ['@a\n@b', ['a', 'b']],
    ['f(@start_date, @end_date)', ['start_date', 'end_date']],
    ['@a.b', ['a']],
    ['@1', []], // a name does not start with a digit
    ['@', []],
    ['a @ b', []],
    ['@-a', []],
  ])('%j → %j', (sql, expected) => {
    expect(names(sql)).toEqual(expected);
  });

  it('ignores @ inside single-quoted strings, including doubled-quote escapes', () => {
    expect(names("SELECT '@a'")).toEqual([]);
    expect(names("SELECT 'it''s @a' , @b")).toEqual(['b']);
    expect(names("SELECT '''@a''' , @b")).toEqual(['b']);
    expect(names("SELECT '' , @b")).toEqual(['b']);
    expect(names("SELECT 'a'''")).toEqual([]);
    expect(names("SELECT 'x', @p, 'y@q'")).toEqual(['p']);
  });

  it('ignores @ inside "quoted" identifiers and `backticks`', () => {
    expect(names('SELECT "@a" FROM t WHERE x = @b')).toEqual(['b']);
    expect(names('SELECT "we""ird@a" , @b')).toEqual(['b']);
    expect(names('SELECT * FROM `proj.@a.tbl` WHERE x = @b')).toEqual(['b']);
  });

  it('ignores @ inside -- line comments, up to the end of the line', () => {
    expect(names('SELECT 1 -- @a')).toEqual([]);
    expect(names('SELECT 1 -- @a\nWHERE x = @b')).toEqual(['b']);
    expect(names('SELECT 1 - @a')).toEqual(['a']);
  });

  it('ignores @ inside /* block */ comments', () => {
    expect(names('SELECT /* @a */ @b')).toEqual(['b']);
    expect(names('SELECT /* multi\nline @a\n*/ @b')).toEqual(['b']);
    expect(names('SELECT /* unterminated @a')).toEqual([]);
    expect(names('SELECT 2 / @a')).toEqual(['a']);
  });

  it('does not treat quotes inside comments as opening a string', () => {
    expect(names("SELECT 1 -- it's\n, @a")).toEqual(['a']);
    expect(names("SELECT /* it's */ @a")).toEqual(['a']);
  });

  it('treats an unterminated literal as running to the end', () => {
    expect(names("SELECT 'open @a")).toEqual([]);
    expect(names('SELECT "open @a')).toEqual([]);
  });

  it('does not take the domain of an email-like text for a parameter', () => {
    expect(names('a@b')).toEqual([]);
    expect(names('x = user@example.com')).toEqual([]);
    expect(names('x = 1@b')).toEqual([]);
    expect(names('x = _@b')).toEqual([]);
    expect(names("x = 'user@example.com' AND y = @y")).toEqual(['y']);
  });
});

describe('rewriteNamedParameters', () => {
  it('rewrites every parameter and keeps the rest byte for byte', () => {
    const sql = "SELECT '@a', \"@b\" /* @c */ FROM t -- @d\nWHERE x = @x AND y = @y_1 AND e = 'u@v'";
    expect(rewriteNamedParameters(sql, (n) => `$${n}`)).toBe("SELECT '@a', \"@b\" /* @c */ FROM t -- @d\nWHERE x = $x AND y = $y_1 AND e = 'u@v'");
  });

  it('can render positional placeholders', () => {
    let i = 0;
    expect(rewriteNamedParameters('f(@a, @b, @a)', () => `$${++i}`)).toBe('f($1, $2, $3)');
  });

  it('returns text without parameters unchanged', () => {
    expect(rewriteNamedParameters('', () => 'X')).toBe('');
    expect(rewriteNamedParameters('SELECT 1', () => 'X')).toBe('SELECT 1');
  });

  const sqlish = fc.string({
    unit: fc.constantFrom('@', 'a', 'b', '_', '1', ' ', '\n', "'", '"', '`', '-', '/', '*', '\\', '.', 'é', '😀'),
    maxLength: 60,
  });

  it('with a render that returns "@" + name, any text is unchanged', () => {
    fc.assert(
      fc.property(fc.oneof(sqlish, fc.string(), fc.string({ unit: 'binary' })), (sql) => {
        expect(rewriteNamedParameters(sql, (n) => `@${n}`)).toBe(sql);
      }),
      { numRuns: 1000 },
    );
  });

  it('references are in order, do not overlap, and each spans exactly "@" + name', () => {
    fc.assert(
      fc.property(sqlish, (sql) => {
        let last = 0;
        for (const p of findNamedParameters(sql)) {
          expect(p.start).toBeGreaterThanOrEqual(last);
          expect(sql.slice(p.start, p.end)).toBe(`@${p.name}`);
          expect(p.name).toMatch(/^[A-Za-z_][A-Za-z0-9_]*$/);
          expect(p.end === sql.length || !/[A-Za-z0-9_]/.test(sql[p.end] as string)).toBe(true);
          last = p.end;
        }
      }),
      { numRuns: 1000 },
    );
  });

  it('text outside the references is kept when they are rewritten', () => {
    fc.assert(
      fc.property(sqlish, (sql) => {
        const refs = findNamedParameters(sql);
        const out = rewriteNamedParameters(sql, () => '\u0000');
        const pieces: string[] = [];
        let last = 0;
        for (const r of refs) {
          pieces.push(sql.slice(last, r.start));
          last = r.end;
        }
        pieces.push(sql.slice(last));
        expect(out.split('\u0000')).toEqual(pieces);
      }),
      { numRuns: 2000 },
    );
  });
});
