import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  addDays,
  coerceValue,
  inferVariableType,
  isIsoDate,
  MAX_STRING_LENGTH,
  renderTemplate,
  SQL_SAFE_TYPES,
  VARIABLE_TYPES,
  VariableError,
  variableReferences,
  type TypedValue,
  type VariableType,
} from './variables.js';

const refused = (type: VariableType, raw: unknown, opts?: Parameters<typeof coerceValue>[2]): void => {
  expect(() => coerceValue(type, raw, opts), `${type} ${JSON.stringify(raw)}`).toThrow(VariableError);
};

describe('coerceValue', () => {
  describe('date', () => {
    it.each(['2025-01-01', '2024-02-29', '2025-12-31', '1999-06-15', '9999-12-31', '1970-01-01'])('accepts %j', (d) => {
      expect(coerceValue('date', d)).toBe(d);
    });

    it.each([
      '2025-13-40',
      '2025-02-30',
      '2025-02-29', // not a leap year
      '2025-04-31',
      '2025-00-10',
      '2025-01-00',
      "2025-01-01' OR '1'='1",
      '2025-01-01; DROP TABLE x',
      '2025-01-01 --',
      '2025-01-01\n',
      ' 2025-01-01',
      '2025-01-01T00:00:00Z',
      '2025-1-1',
      '20250101',
      '01/01/2025',
      '',
      'today',
      'yesterday',
      'tomorrow',
    ])('refuses %j', (d) => {
      refused('date', d);
    });

    it.each([20250101, null, undefined, true, new Date('2025-01-01'), ['2025-01-01']])('refuses the non-string %j', (d) => {
      refused('date', d);
    });

    it('says why in the message', () => {
      expect(() => coerceValue('date', '2025-02-30')).toThrow('"2025-02-30" is not a valid date (YYYY-MM-DD)');
    });

    it('resolves today and yesterday against opts.today', () => {
      expect(coerceValue('date', 'today', { today: '2025-03-01' })).toBe('2025-03-01');
      expect(coerceValue('date', 'yesterday', { today: '2025-03-01' })).toBe('2025-02-28');
      expect(coerceValue('date', 'yesterday', { today: '2024-03-01' })).toBe('2024-02-29');
      expect(coerceValue('date', 'yesterday', { today: '2025-01-01' })).toBe('2024-12-31');
      expect(coerceValue('date', '2020-05-05', { today: '2025-01-01' })).toBe('2020-05-05');
    });

    it('does not resolve other relative words or other capitalizations', () => {
      refused('date', 'Today', { today: '2025-03-01' });
      refused('date', 'YESTERDAY', { today: '2025-03-01' });
      refused('date', 'tomorrow', { today: '2025-03-01' });
    });

    // Bug: isIsoDate builds the date with Date.UTC, which maps years 0–99 to 1900–1999, so every
    // existing date of years 0000–0099 is refused (variables.ts, isIsoDate).
    it.fails('accepts existing dates of years 0000-0099 (Date.UTC maps them to 19xx)', () => {
      expect(coerceValue('date', '0099-12-31')).toBe('0099-12-31');
    });
  });

  describe('timestamp', () => {
    it('accepts ISO 8601 with a zone and normalizes to UTC', () => {
      expect(coerceValue('timestamp', '2025-01-01T10:00:00Z')).toBe('2025-01-01T10:00:00.000Z');
      expect(coerceValue('timestamp', '2025-01-01T10:00:00.123456Z')).toBe('2025-01-01T10:00:00.123Z');
      expect(coerceValue('timestamp', '2025-01-01T10:00:00+02:00')).toBe('2025-01-01T08:00:00.000Z');
      expect(coerceValue('timestamp', '2025-01-01T00:30:00-01:00')).toBe('2025-01-01T01:30:00.000Z');
    });

    it.each([
      '2025-01-01T10:00:00', // no zone
      '2025-01-01 10:00:00Z',
      '2025-01-01',
      "2025-01-01T10:00:00Z' OR '1'='1",
      '2025-01-01T10:00:00Z; DROP TABLE x',
      '2025-01-01T25:00:00Z',
      '2025-01-01T10:61:00Z',
      '2025-01-01T10:00:00.1234567Z',
      '',
      'now',
    ])('refuses %j', (t) => {
      refused('timestamp', t);
    });

    it('refuses non-strings', () => {
      refused('timestamp', 1_700_000_000_000);
      refused('timestamp', new Date());
    });

    // Regression (fixed): the timestamp check relies on Date.parse, which in V8 accepts day-of-month up to 31 for
    // every month and rolls over, so a day that does not exist is silently turned into another one
    // ('2025-02-30T00:00:00Z' becomes '2025-03-02T00:00:00.000Z') instead of being refused as the
    // date type refuses '2025-02-30' (variables.ts, coerceValue case 'timestamp').
    it('refuses timestamps on days that do not exist', () => {
      refused('timestamp', '2025-02-30T00:00:00Z');
      refused('timestamp', '2025-04-31T12:00:00Z');
    });
  });

  describe('identifier', () => {
    it.each(['acme', 'acme_corp', 'ACME', '_x', '1abc', '123', 'a'.repeat(128)])('accepts %j', (s) => {
      expect(coerceValue('identifier', s)).toBe(s);
    });

    it.each([
      '',
      "ac'me",
      'ac"me',
      'ac`me',
      'ac me',
      ' acme',
      'acme\n',
      'acme\t',
      'acme;',
      'acme;DROP TABLE x',
      'acme.tbl',
      'acme-corp',
      'acme--',
      'acme/*',
      'ac$me',
      'ac{me}',
      'äcme',
      'a'.repeat(129),
    ])('refuses %j', (s) => {
      refused('identifier', s);
    });

    it.each([1, true, null, undefined, ['acme'], { a: 1 }])('refuses the non-string %j', (s) => {
      refused('identifier', s);
    });
  });

  describe('integer', () => {
    it.each([
      [0, 0],
      [42, 42],
      [-7, -7],
      ['42', 42],
      ['-7', -7],
      ['007', 7],
      ['123456789012345', 123456789012345],
      [Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER],
    ])('accepts %j as %d', (raw, n) => {
      expect(coerceValue('integer', raw)).toBe(n);
    });

    it.each([1.5, '1.5', '1e3', '1E3', '0x10', '', ' 1', '1 ', '+1', '--1', '1;', 'abc', '1234567890123456', NaN, Infinity, -Infinity, 2 ** 53, true, null, undefined])(
      'refuses %j',
      (raw) => {
        refused('integer', raw);
      },
    );
  });

  describe('number', () => {
    it.each([
      [1.5, 1.5],
      [-2, -2],
      ['1.5', 1.5],
      ['-2', -2],
      ['10', 10],
    ])('accepts %j as %d', (raw, n) => {
      expect(coerceValue('number', raw)).toBe(n);
    });

    it.each(['1e3', '1.', '.5', 'abc', '', NaN, Infinity, true, null])('refuses %j', (raw) => {
      refused('number', raw);
    });
  });

  describe('boolean', () => {
    it('accepts booleans only', () => {
      expect(coerceValue('boolean', true)).toBe(true);
      expect(coerceValue('boolean', false)).toBe(false);
      for (const raw of ['true', 'false', 1, 0, null, undefined, 'yes']) refused('boolean', raw);
    });
  });

  describe('enum', () => {
    it('accepts one of the values', () => {
      expect(coerceValue('enum', 'prod', { values: ['dev', 'prod'] })).toBe('prod');
    });

    it('refuses anything else, saying which values are allowed', () => {
      expect(() => coerceValue('enum', 'staging', { values: ['dev', 'prod'] })).toThrow('one of dev, prod');
      refused('enum', 'PROD', { values: ['dev', 'prod'] });
      refused('enum', 'prod ', { values: ['dev', 'prod'] });
      refused('enum', 1, { values: ['1'] });
      refused('enum', 'prod');
      refused('enum', 'prod', { values: [] });
    });
  });

  describe('uuid', () => {
    it('accepts lower-case UUIDs', () => {
      const id = '0b6f1c9e-3a5d-4f7e-9b2a-1c3d5e7f9a0b';
      expect(coerceValue('uuid', id)).toBe(id);
    });

    it.each([
      '0B6F1C9E-3A5D-4F7E-9B2A-1C3D5E7F9A0B',
      '0b6f1c9e3a5d4f7e9b2a1c3d5e7f9a0b',
      '{0b6f1c9e-3a5d-4f7e-9b2a-1c3d5e7f9a0b}',
      '0b6f1c9e-3a5d-4f7e-9b2a-1c3d5e7f9a0b ',
      "0b6f1c9e-3a5d-4f7e-9b2a-1c3d5e7f9a0b'",
      '0b6f1c9e-3a5d-4f7e-9b2a-1c3d5e7f9a0',
      'g0000000-0000-0000-0000-000000000000',
      '',
      42,
    ])('refuses %j', (raw) => {
      refused('uuid', raw);
    });
  });

  describe('string', () => {
    it('accepts any string up to the limit, unchanged', () => {
      expect(coerceValue('string', "O'Brien; DROP TABLE x -- ")).toBe("O'Brien; DROP TABLE x -- ");
      expect(coerceValue('string', '')).toBe('');
      expect(coerceValue('string', 'x'.repeat(MAX_STRING_LENGTH))).toHaveLength(MAX_STRING_LENGTH);
    });

    it('refuses longer strings and non-strings', () => {
      refused('string', 'x'.repeat(MAX_STRING_LENGTH + 1));
      refused('string', 1);
      refused('string', null);
      refused('string', { toString: () => 'x' });
    });
  });

  it('covers every variable type', () => {
    const samples: Record<VariableType, unknown> = {
      identifier: 'a',
      date: '2025-01-01',
      timestamp: '2025-01-01T00:00:00Z',
      integer: 1,
      enum: 'a',
      uuid: '00000000-0000-0000-0000-000000000000',
      boolean: true,
      number: 1.5,
      string: 's',
    };
    for (const type of VARIABLE_TYPES) expect(() => coerceValue(type, samples[type], { values: ['a'] })).not.toThrow();
  });

  describe('property: accepted values of strict types are inert in SQL', () => {
    const dangerous = ["'", '"', '`', ';', ' ', '\t', '\n', '\r', '\u00a0', '\u2028', '-', '/', '*', '\\', '.', '(', ')', '='];
    const unit = fc.oneof(fc.constantFrom(...dangerous), fc.constantFrom(...'0123456789'), fc.constantFrom(...'aZ_T:'));
    const candidates = fc.oneof(
      fc.string({ unit, maxLength: 20 }),
      fc.string({ maxLength: 20 }),
      // Valid values with something glued on either side.
      fc
        .tuple(
          fc.oneof(
            fc.date({ min: new Date('1000-01-01'), max: new Date('9999-12-31'), noInvalidDate: true }).map((d) => d.toISOString().slice(0, 10)),
            fc.stringMatching(/^[A-Za-z0-9_]{1,10}$/),
            fc.integer().map(String),
          ),
          fc.string({ unit, maxLength: 4 }),
          fc.string({ unit, maxLength: 4 }),
        )
        .map(([v, before, after]) => before + v + after),
      fc.constantFrom('today', 'yesterday'),
    );
    const inert = (s: string): boolean => !/['"`;\s]/.test(s) && !s.includes('--');

    it.each(['date', 'identifier', 'integer'] as const)('%s', (type) => {
      fc.assert(
        fc.property(candidates, fc.boolean(), (raw, withToday) => {
          let value: unknown;
          try {
            value = coerceValue(type, raw, withToday ? { today: '2025-06-15' } : {});
          } catch (e) {
            expect(e).toBeInstanceOf(VariableError);
            return;
          }
          if (!(withToday && type === 'date' && (raw === 'today' || raw === 'yesterday'))) expect(inert(raw), JSON.stringify(raw)).toBe(true);
          expect(inert(String(value)), JSON.stringify(value)).toBe(true);
        }),
        { numRuns: 3000 },
      );
    });
  });
});

describe('isIsoDate / addDays', () => {
  it('knows the calendar', () => {
    expect(isIsoDate('2000-02-29')).toBe(true);
    expect(isIsoDate('1900-02-29')).toBe(false);
    expect(isIsoDate('2100-02-29')).toBe(false);
  });

  it('adds and subtracts days across months and years', () => {
    expect(addDays('2025-01-31', 1)).toBe('2025-02-01');
    expect(addDays('2025-01-01', -1)).toBe('2024-12-31');
    expect(addDays('2024-02-28', 1)).toBe('2024-02-29');
    expect(addDays('2025-03-30', 0)).toBe('2025-03-30');
    expect(addDays('2025-01-01', 365)).toBe('2026-01-01');
  });
});

describe('variableReferences', () => {
  it('lists {name}, ${name} and {steps.<step>.<key>} references', () => {
    expect(variableReferences("SELECT {a}, ${b}, {steps.load.rows_processed}, {'x': 1}, { c }, {1d}")).toEqual(['a', 'b', 'steps.load.rows_processed']);
  });
});

describe('renderTemplate', () => {
  const vars: Record<string, TypedValue> = {
    dataset: { type: 'identifier', value: 'acme' },
    date: { type: 'date', value: '2025-01-02' },
    limit: { type: 'integer', value: 10 },
    env: { type: 'enum', value: 'prod' },
    run_id: { type: 'uuid', value: '00000000-0000-0000-0000-000000000000' },
    at: { type: 'timestamp', value: '2025-01-01T00:00:00.000Z' },
    admin_email: { type: 'string', value: "o'brien@example.com" },
    company_name: { type: 'string', value: 'Acme; DROP TABLE x' },
    flag: { type: 'boolean', value: true },
    ratio: { type: 'number', value: 0.5 },
    'steps.load.rows_processed': { type: 'integer', value: 42 },
  };
  const lookup = (name: string): TypedValue | undefined => vars[name];

  it('substitutes {x} and ${x}', () => {
    expect(renderTemplate('SELECT * FROM {dataset}.t WHERE d = DATE ${date} LIMIT {limit}', lookup, { sql: true })).toBe(
      'SELECT * FROM acme.t WHERE d = DATE 2025-01-02 LIMIT 10',
    );
    expect(renderTemplate('{dataset}{dataset}', lookup, { sql: false })).toBe('acmeacme');
    expect(renderTemplate('rows: {steps.load.rows_processed}', lookup, { sql: true })).toBe('rows: 42');
  });

  it('leaves DuckDB struct literals and other braces alone', () => {
    for (const text of ["SELECT {'a': 1}", "SELECT {'a': {'b': 2}}", 'SELECT { dataset }', 'SELECT {1a}', 'SELECT {a.b}', 'SELECT {}', 'x ${ dataset }']) {
      expect(renderTemplate(text, lookup, { sql: true })).toBe(text);
    }
    expect(renderTemplate("SELECT {'a': {limit}}", lookup, { sql: true })).toBe("SELECT {'a': 10}");
  });

  it('throws on unknown variables', () => {
    expect(() => renderTemplate('SELECT {nope}', lookup, { sql: true })).toThrow(VariableError);
    expect(() => renderTemplate('hello ${nope}', lookup, { sql: false })).toThrow('unknown variable "nope"');
    expect(() => renderTemplate('{steps.other.rows_processed}', lookup, { sql: false })).toThrow('unknown variable "steps.other.rows_processed"');
  });

  it.each(['admin_email', 'company_name', 'flag', 'ratio'])('refuses the non-SQL-safe variable %s in SQL text, pointing to @%s', (name) => {
    expect(() => renderTemplate(`SELECT '{${name}}'`, lookup, { sql: true })).toThrow(VariableError);
    expect(() => renderTemplate(`SELECT {${name}}`, lookup, { sql: true })).toThrow(`@${name}`);
  });

  it('allows every SQL-safe type in SQL text', () => {
    for (const name of ['dataset', 'date', 'limit', 'env', 'run_id', 'at']) {
      const v = vars[name] as TypedValue;
      expect(SQL_SAFE_TYPES.has(v.type)).toBe(true);
      expect(renderTemplate(`{${name}}`, lookup, { sql: true })).toBe(String(v.value));
    }
  });

  it('allows free-form values outside SQL text', () => {
    expect(renderTemplate('Welcome {company_name}, {admin_email} {flag} {ratio}', lookup, { sql: false })).toBe(
      "Welcome Acme; DROP TABLE x, o'brien@example.com true 0.5",
    );
  });

  it('does not re-expand substituted text', () => {
    const l = (name: string): TypedValue | undefined => (name === 'a' ? { type: 'string', value: '{b}' } : name === 'b' ? { type: 'string', value: 'B' } : undefined);
    expect(renderTemplate('{a}', l, { sql: false })).toBe('{b}');
  });
});

describe('inferVariableType', () => {
  it.each([
    [true, 'boolean'],
    [3, 'integer'],
    [1.5, 'number'],
    [Infinity, undefined],
    ['2025-01-01', 'date'],
    ['us_east', 'identifier'],
    ['two words', 'string'],
    [null, undefined],
  ])('%j → %j', (value, type) => {
    expect(inferVariableType(value)).toBe(type);
  });
});
