import { describe, expect, it } from 'vitest';
import { parseTableSchema, SchemaFileError } from './table-schema.js';

describe('parseTableSchema', () => {
  const SRC = 'schemas/widgets.json';
  const base = (extra: Record<string, unknown> = {}, fields: unknown[] = [{ name: 'id', type: 'STRING', mode: 'REQUIRED' }]) => ({
    fields: [...fields, { name: 'name', type: 'STRING' }, { name: 'created_at', type: 'TIMESTAMP' }],
    ...extra,
  });
  const parse = (json: unknown, name = 'widgets') => parseTableSchema(name, json, SRC);

  it('fills defaults', () => {
    expect(parse(base())).toEqual({
      name: 'widgets',
      fields: [
        { name: 'id', type: 'STRING', mode: 'REQUIRED' },
        { name: 'name', type: 'STRING', mode: 'NULLABLE' },
        { name: 'created_at', type: 'TIMESTAMP', mode: 'NULLABLE' },
      ],
      primaryKey: [],
      unique: [],
      indexes: [],
      clustering: [],
    });
  });

  it('accepts the bare array form (as written by `bq show --schema`) and equals the object form', () => {
    const fields = [
      { name: 'id', type: 'STRING', mode: 'REQUIRED', description: 'id' },
      { name: 'payload', type: 'RECORD', mode: 'NULLABLE', fields: [{ name: 'k', type: 'STRING' }] },
    ];
    const bare = parseTableSchema('t', fields);
    expect(bare).toEqual(parseTableSchema('t', { fields }));
    expect(bare.fields[1]).toEqual({ name: 'payload', type: 'RECORD', mode: 'NULLABLE', fields: [{ name: 'k', type: 'STRING', mode: 'NULLABLE' }] });
  });

  it('uses the table name as source when none is given', () => {
    expect(() => parseTableSchema('t', { fields: [] })).toThrow(/^t: \/fields /);
  });

  it('rejects an invalid table name', () => {
    for (const bad of ['bad-name', 'a"; DROP TABLE x; --', '', 'café', '1table']) {
      expect(() => parse(base(), bad)).toThrow(SchemaFileError);
      expect(() => parse(base(), bad)).toThrow(new RegExp(`^schemas/widgets\\.json: invalid table name`));
    }
  });

  it('rejects an unknown type', () => {
    expect(() => parse(base({}, [{ name: 'id', type: 'VARCHAR' }]))).toThrow(/^schemas\/widgets\.json: \/fields\/0\/type /);
  });

  it('rejects an unknown mode and an invalid column name', () => {
    expect(() => parse(base({}, [{ name: 'id', type: 'STRING', mode: 'OPTIONAL' }]))).toThrow(/^schemas\/widgets\.json: \/fields\/0\/mode /);
    expect(() => parse(base({}, [{ name: 'a"b', type: 'STRING' }]))).toThrow(/^schemas\/widgets\.json: \/fields\/0\/name .*match/);
  });

  it('rejects a RECORD without fields (missing or empty)', () => {
    expect(() => parse(base({}, [{ name: 'addr', type: 'RECORD' }]))).toThrow(
      /^schemas\/widgets\.json: field "addr": RECORD fields need nested "fields"/,
    );
    expect(() => parse(base({}, [{ name: 'addr', type: 'STRUCT', fields: [] }]))).toThrow(
      /^schemas\/widgets\.json: field "addr": RECORD fields need nested "fields"/,
    );
  });

  it('rejects a non-RECORD with fields', () => {
    expect(() => parse(base({}, [{ name: 'id', type: 'STRING', fields: [{ name: 'x', type: 'STRING' }] }]))).toThrow(
      /^schemas\/widgets\.json: field "id": .*other types must not have them/,
    );
    expect(() => parse(base({}, [{ name: 'id', type: 'STRING', fields: [] }]))).toThrow(/other types must not have them/);
  });

  it('rejects duplicate columns, case-insensitively, also inside records', () => {
    expect(() => parse(base({}, [{ name: 'Name', type: 'STRING' }]))).toThrow(/^schemas\/widgets\.json: duplicate column "name"/);
    expect(() =>
      parse(
        base({}, [
          {
            name: 'addr',
            type: 'RECORD',
            fields: [
              { name: 'zip', type: 'STRING' },
              { name: 'ZIP', type: 'STRING' },
            ],
          },
        ]),
      ),
    ).toThrow(/^schemas\/widgets\.json: duplicate column "ZIP"/);
  });

  it.each([
    ['primary_key', { primary_key: ['nope'] }],
    ['unique', { unique: [['id'], ['name', 'nope']] }],
    ['indexes', { indexes: [['nope']] }],
    ['clustering', { clustering: ['name', 'nope'] }],
  ])('rejects %s naming an unknown column', (key, extra) => {
    expect(() => parse(base(extra))).toThrow(new RegExp(`^schemas/widgets\\.json: ${key} names unknown column "nope"`));
  });

  it('keys name top-level columns only, with exact case', () => {
    const withRecord = base({ primary_key: ['addr'] }, [{ name: 'addr', type: 'RECORD', fields: [{ name: 'zip', type: 'STRING' }] }]);
    expect(parse(withRecord).primaryKey).toEqual(['addr']);
    expect(() => parse(base({ primary_key: ['zip'] }, [{ name: 'addr', type: 'RECORD', fields: [{ name: 'zip', type: 'STRING' }] }]))).toThrow(
      /primary_key names unknown column "zip"/,
    );
    expect(() => parse(base({ primary_key: ['ID'] }))).toThrow(/primary_key names unknown column "ID"/);
  });

  it('rejects partitioning on a STRING, REPEATED or unknown column', () => {
    const msg = (f: string) => new RegExp(`^schemas/widgets\\.json: partitioning field "${f}" must be a DATE, TIMESTAMP or DATETIME column`);
    expect(() => parse(base({ partitioning: { field: 'name', type: 'DAY' } }))).toThrow(msg('name'));
    expect(() => parse(base({ partitioning: { field: 'nope' } }))).toThrow(msg('nope'));
    expect(() => parse(base({ partitioning: { field: 'ts' } }, [{ name: 'ts', type: 'TIMESTAMP', mode: 'REPEATED' }]))).toThrow(msg('ts'));
    expect(() => parse(base({ partitioning: { field: 'created_at', type: 'WEEK' } }))).toThrow(/^schemas\/widgets\.json: \/partitioning\/type /);
  });

  it('accepts partitioning on TIMESTAMP (DAY) and DATE', () => {
    expect(parse(base({ partitioning: { field: 'created_at', type: 'DAY' } })).partitioning).toEqual({ field: 'created_at', type: 'DAY' });
    expect(parse(base({ partitioning: { field: 'd' } }, [{ name: 'd', type: 'DATE' }])).partitioning).toEqual({ field: 'd', type: 'DAY' });
  });

  // Regression: HOUR partitioning of a DATE column is accepted and yields
  // `PARTITION BY DATE_TRUNC(`d`, HOUR)`, which BigQuery rejects (a DATE has no hours).
  it('HOUR partitioning of a DATE column is refused', () => {
    expect(() => parse(base({ partitioning: { field: 'd', type: 'HOUR' } }, [{ name: 'd', type: 'DATE' }]))).toThrow(/partitioning/);
  });

  it('rejects an unknown top-level key', () => {
    expect(() => parse(base({ extra_key: true }))).toThrow(/^schemas\/widgets\.json: \/extra_key Unexpected property/);
    expect(() => parse(base({ primaryKey: ['id'] }))).toThrow(/^schemas\/widgets\.json: \/primaryKey Unexpected property/);
  });

  it('rejects an unknown key on a field and a non-object document', () => {
    expect(() => parse(base({}, [{ name: 'id', type: 'STRING', nullable: true }]))).toThrow(/^schemas\/widgets\.json: \/fields\/0\/nullable /);
    expect(() => parse('nope')).toThrow(/^schemas\/widgets\.json: \/ /);
    expect(() => parse(null)).toThrow(/^schemas\/widgets\.json: /);
    expect(() => parse([])).toThrow(/^schemas\/widgets\.json: \/fields /);
  });

  it('rejects more than four clustering columns', () => {
    const fields = ['a', 'b', 'c', 'd', 'e'].map((name) => ({ name, type: 'STRING' }));
    expect(() => parse({ fields, clustering: ['a', 'b', 'c', 'd', 'e'] })).toThrow(/^schemas\/widgets\.json: \/clustering /);
    expect(parse({ fields, clustering: ['a', 'b', 'c', 'd'] }).clustering).toEqual(['a', 'b', 'c', 'd']);
  });
});
