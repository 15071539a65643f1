import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Big from 'big.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DuckDbDatabase } from '../duckdb/duckdb-database.js';
import { parseCli, runCli, USAGE } from '../../scripts/generate-gcp-billing.js';
import {
  GCP_BILLING_ACCOUNTS,
  GCP_BILLING_PARQUET_COLUMNS,
  GCP_COST_TYPES,
  GCP_CREDIT_TYPES,
  formatMicros,
  gcpBillingRows,
  generateGcpBillingExport,
  serializeGcpBillingRow,
  type GcpBillingExportOptions,
  type GcpBillingTotals,
} from './gcp-billing-export.js';

const REPO = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..', '..');
const COLUMNS = GCP_BILLING_PARQUET_COLUMNS.map(([name]) => name);

const dirs: string[] = [];
function tempDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gcp-billing-'));
  dirs.push(dir);
  return dir;
}
afterAll(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

async function generate(overrides: Partial<GcpBillingExportOptions> = {}) {
  const opts: GcpBillingExportOptions = { outDir: tempDir(), start: '2026-11-30', days: 2, rowsPerDay: 3000, seed: 7, format: 'ndjson', ...overrides };
  return { opts, result: await generateGcpBillingExport(opts) };
}

/** File name → SHA-256 (comparing multi-megabyte Buffers with toEqual is very slow). */
const readTree = (dir: string): Record<string, string> =>
  Object.fromEntries(
    fs
      .readdirSync(dir)
      .sort()
      .map((f) => [f, createHash('sha256').update(fs.readFileSync(path.join(dir, f))).digest('hex')]),
  );

// --- A JSON reader that keeps each number's source text, so money is summed from the file's
// decimals rather than from the doubles JSON.parse would make of them.
class RawNumber {
  constructor(readonly text: string) {}
}
function parseLossless(text: string): unknown {
  let i = 0;
  const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
  const STRING = /"(?:[^"\\]|\\.)*"/y;
  const fail = (): never => {
    throw new SyntaxError(`bad JSON at ${i}: ${text.slice(i, i + 20)}`);
  };
  const match = (re: RegExp): string => {
    re.lastIndex = i;
    const m = re.exec(text);
    if (m === null) return fail();
    i = re.lastIndex;
    return m[0];
  };
  const value = (): unknown => {
    const c = text[i];
    if (c === '{') {
      i++;
      const o: Record<string, unknown> = {};
      if (text[i] === '}') return i++, o;
      for (;;) {
        const key = JSON.parse(match(STRING)) as string;
        if (text[i++] !== ':') fail();
        o[key] = value();
        if (text[i] === ',') i++;
        else if (text[i++] === '}') return o;
        else fail();
      }
    }
    if (c === '[') {
      i++;
      const a: unknown[] = [];
      if (text[i] === ']') return i++, a;
      for (;;) {
        a.push(value());
        if (text[i] === ',') i++;
        else if (text[i++] === ']') return a;
        else fail();
      }
    }
    if (c === '"') return JSON.parse(match(STRING)) as string;
    for (const [word, v] of [['true', true], ['false', false], ['null', null]] as const) {
      if (text.startsWith(word, i)) return (i += word.length), v;
    }
    return new RawNumber(match(NUMBER));
  };
  const v = value();
  if (i !== text.length) fail();
  return v;
}

type Raw = Record<string, unknown>;
const rawRows = (file: string): Raw[] =>
  fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => parseLossless(l) as Raw);
const num = (v: unknown): RawNumber => {
  if (!(v instanceof RawNumber)) throw new TypeError(`not a number: ${JSON.stringify(v)}`);
  return v;
};
const rec = (v: unknown): Raw => v as Raw;
const list = (v: unknown): Raw[] => v as Raw[];

const TIMESTAMP_FORMATS = [
  /^(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2}) UTC$/,
  /^(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2})\.(\d{6}) UTC$/,
  /^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2}:\d{2})Z$/,
];
/** Epoch microseconds of an extract timestamp, and which of the three renderings it uses. */
function parseTimestamp(s: unknown): { micros: bigint; format: number } {
  for (const [format, re] of TIMESTAMP_FORMATS.entries()) {
    const m = re.exec(String(s));
    if (m !== null) return { micros: BigInt(Date.parse(`${m[1]}T${m[2]}Z`)) * 1000n + BigInt(m[3] ?? 0), format };
  }
  throw new Error(`unparseable timestamp ${JSON.stringify(s)}`);
}
const DAY_US = 86_400_000_000n;
const dayStartUs = (day: string): bigint => BigInt(Date.parse(`${day}T00:00:00Z`)) * 1000n;
const MONEY = /^-?\d+(\.\d{1,6})?$/;

describe('formatMicros', () => {
  it('prints exact decimals without exponent or trailing zeros', () => {
    expect([0n, 1n, -1n, 1_500_000n, -1_500_000n, 123_456_789n, 10_000_000n, -999_999n, 12_345_678_901_234_567n].map(formatMicros)).toEqual([
      '0',
      '0.000001',
      '-0.000001',
      '1.5',
      '-1.5',
      '123.456789',
      '10',
      '-0.999999',
      '12345678901.234567',
    ]);
  });
});

describe('gcpBillingRows', () => {
  it('yields rowsPerDay rows lazily, ending with one tax row per billing account', () => {
    const first = gcpBillingRows({ day: '2026-11-20', rowsPerDay: 5_000_000, seed: 1 }).next();
    expect(first.done).toBe(false);
    expect(first.value && first.value.row.usage_start_time.slice(0, 13)).toMatch(/^2026-11-20[ T]00$/);

    const rows = [...gcpBillingRows({ day: '2026-11-20', rowsPerDay: 500, seed: 1 })];
    expect(rows).toHaveLength(500);
    const tail = rows.slice(-GCP_BILLING_ACCOUNTS.length).map((r) => [r.row.cost_type, r.row.billing_account_id]);
    expect(tail).toEqual(GCP_BILLING_ACCOUNTS.map((a) => ['tax', a.id]));
    expect(rows.slice(0, -GCP_BILLING_ACCOUNTS.length).every((r) => r.row.cost_type !== 'tax')).toBe(true);
  });

  it('is a function of (seed, day)', () => {
    const text = (day: string, seed: number) => [...gcpBillingRows({ day, rowsPerDay: 200, seed })].map((r) => serializeGcpBillingRow(r.row)).join('\n');
    expect(text('2026-11-20', 3)).toBe(text('2026-11-20', 3));
    expect(text('2026-11-20', 4)).not.toBe(text('2026-11-20', 3));
    expect(text('2026-11-21', 3)).not.toBe(text('2026-11-20', 3));
    // Seeds that differ only above 32 bits are different seeds.
    expect(text('2026-11-20', 3 + 2 ** 32)).not.toBe(text('2026-11-20', 3));
  });

  it('serializes each row exactly as JSON.stringify does, and its money from the yielded micros', () => {
    for (const r of gcpBillingRows({ day: '2026-12-01', rowsPerDay: 3000, seed: 11 })) {
      const line = serializeGcpBillingRow(r.row);
      expect(line).toBe(JSON.stringify(r.row));
      const raw = parseLossless(line) as Raw;
      expect(num(raw['cost']).text).toBe(formatMicros(r.costMicros));
      const credits = list(raw['credits']).reduce((s, c) => s.plus(num(c['amount']).text), new Big(0));
      expect(credits.eq(formatMicros(r.creditsMicros))).toBe(true);
      expect(r.currency).toBe(r.row.currency);
    }
  });

  it('refuses bad options', () => {
    expect(() => gcpBillingRows({ day: '2026-02-30', rowsPerDay: 10, seed: 1 }).next()).toThrow(/day must be a calendar date/);
    expect(() => gcpBillingRows({ day: '2026-02-01', rowsPerDay: 2, seed: 1 }).next()).toThrow(/rowsPerDay must be an integer ≥ 3/);
    expect(() => gcpBillingRows({ day: '2026-02-01', rowsPerDay: 10, seed: 1.5 }).next()).toThrow(/seed must be a non-negative integer/);
  });
});

describe('generateGcpBillingExport (NDJSON)', () => {
  let fixture: Awaited<ReturnType<typeof generate>>;
  let rowsByDay: Map<string, Raw[]>;
  beforeAll(async () => {
    fixture = await generate();
    rowsByDay = new Map(fixture.result.files.map((f) => [/(\d{4}-\d{2}-\d{2})\.ndjson$/.exec(f)?.[1] ?? '', rawRows(f)]));
  });
  const allRows = (): Raw[] => [...rowsByDay.values()].flat();

  it('writes one file per usage day and totals.json, and nothing else', () => {
    const dir = fixture.opts.outDir;
    expect(fs.readdirSync(dir).sort()).toEqual(['gcp_billing_export_v1_2026-11-30.ndjson', 'gcp_billing_export_v1_2026-12-01.ndjson', 'totals.json']);
    expect(fixture.result.files).toEqual([path.join(dir, 'gcp_billing_export_v1_2026-11-30.ndjson'), path.join(dir, 'gcp_billing_export_v1_2026-12-01.ndjson')]);
    expect(fixture.result.totalsFile).toBe(path.join(dir, 'totals.json'));
    expect([...rowsByDay.values()].map((r) => r.length)).toEqual([3000, 3000]);
  });

  it('gives byte-identical files for the same arguments and different data for another seed', async () => {
    const again = await generate({ outDir: tempDir() });
    expect(readTree(again.opts.outDir)).toEqual(readTree(fixture.opts.outDir));
    const other = await generate({ outDir: tempDir(), seed: 8 });
    const a = readTree(fixture.opts.outDir);
    const b = readTree(other.opts.outDir);
    expect(Object.keys(b)).toEqual(Object.keys(a));
    for (const f of Object.keys(a)) expect(b[f], f).not.toBe(a[f]);
  });

  it('totals equal the sums of the decimals in the files, per usage day and currency', () => {
    const recomputed: GcpBillingTotals['days'] = {};
    for (const [day, rows] of rowsByDay) {
      const sums = new Map<string, { rows: number; cost: Big; credits: Big }>();
      for (const r of rows) {
        const currency = String(r['currency']);
        const s = sums.get(currency) ?? { rows: 0, cost: new Big(0), credits: new Big(0) };
        sums.set(currency, s);
        const cost = num(r['cost']).text;
        expect(cost).toMatch(MONEY);
        s.rows++;
        s.cost = s.cost.plus(cost);
        for (const c of list(r['credits'])) {
          const amount = num(c['amount']).text;
          expect(amount).toMatch(MONEY);
          expect(amount.startsWith('-')).toBe(true);
          s.credits = s.credits.plus(amount);
        }
      }
      recomputed[day] = Object.fromEntries(
        [...sums.entries()].map(([currency, s]) => [currency, { rows: s.rows, cost: s.cost.toFixed(), credits: s.credits.toFixed(), net: s.cost.plus(s.credits).toFixed() }]),
      );
    }
    const onDisk = JSON.parse(fs.readFileSync(fixture.result.totalsFile, 'utf8')) as GcpBillingTotals;
    expect(onDisk).toEqual(fixture.result.totals);
    expect(onDisk.seed).toBe(7);
    expect(onDisk.days).toEqual(recomputed);
    // Big#toFixed and the generator agree on the text, not just the value.
    expect(Object.keys(onDisk.days['2026-11-30'] ?? {})).toEqual(['EUR', 'USD']);
  });

  it('has every column, in export order, with the BigQuery JSON types', () => {
    const str = (v: unknown) => typeof v === 'string';
    const strOrNull = (v: unknown) => v === null || typeof v === 'string';
    const kvs = (v: unknown) => Array.isArray(v) && v.every((kv: Raw) => Object.keys(kv).join() === 'key,value' && str(kv['key']) && str(kv['value']));
    const problems = new Set<string>();
    const check = (ok: boolean, what: string) => {
      if (!ok) problems.add(what);
    };
    for (const r of allRows()) {
      expect(Object.keys(r)).toEqual(COLUMNS);
      check(/^[0-9A-F]{6}-[0-9A-F]{6}-[0-9A-F]{6}$/.test(String(r['billing_account_id'])), 'billing_account_id');
      for (const k of ['service', 'sku']) check(Object.keys(rec(r[k])).join() === 'id,description' && str(rec(r[k])['id']) && str(rec(r[k])['description']), k);
      for (const k of ['usage_start_time', 'usage_end_time', 'export_time']) check(str(r[k]) && parseTimestamp(r[k]) !== undefined, k);
      const p = r['project'];
      check(
        p === null ||
          (Object.keys(rec(p)).join() === 'id,number,name,labels,ancestry_numbers,ancestors' &&
            str(rec(p)['id']) &&
            /^\d{12}$/.test(String(rec(p)['number'])) &&
            str(rec(p)['name']) &&
            kvs(rec(p)['labels']) &&
            /^(\/\d+)+\/$/.test(String(rec(p)['ancestry_numbers'])) &&
            list(rec(p)['ancestors']).every((a) => Object.keys(a).join() === 'resource_name,display_name' && /^(projects|folders|organizations)\/\d+$/.test(String(a['resource_name'])))),
        'project',
      );
      check(kvs(r['labels']), 'labels');
      check(kvs(r['system_labels']), 'system_labels');
      const loc = rec(r['location']);
      check(Object.keys(loc).join() === 'location,country,region,zone' && str(loc['location']) && ['country', 'region', 'zone'].every((k) => strOrNull(loc[k])), 'location');
      check(
        list(r['tags']).every((t) => Object.keys(t).join() === 'key,value,inherited,namespace' && str(t['key']) && str(t['value']) && typeof t['inherited'] === 'boolean' && str(t['namespace'])),
        'tags',
      );
      for (const k of ['cost', 'cost_at_list', 'currency_conversion_rate']) check(r[k] instanceof RawNumber, k);
      check(/^[A-Z]{3}$/.test(String(r['currency'])), 'currency');
      const usage = rec(r['usage']);
      check(Object.keys(usage).join() === 'amount,unit,amount_in_pricing_units,pricing_unit' && usage['amount'] instanceof RawNumber && usage['amount_in_pricing_units'] instanceof RawNumber && str(usage['unit']) && str(usage['pricing_unit']), 'usage');
      check(
        list(r['credits']).every((c) => Object.keys(c).join() === 'name,amount,full_name,id,type' && c['amount'] instanceof RawNumber && str(c['name']) && str(c['full_name']) && str(c['id']) && (GCP_CREDIT_TYPES as readonly unknown[]).includes(c['type'])),
        'credits',
      );
      const inv = rec(r['invoice']);
      check(Object.keys(inv).join() === 'month,publisher_type' && /^\d{6}$/.test(String(inv['month'])) && str(inv['publisher_type']), 'invoice');
      check((GCP_COST_TYPES as readonly unknown[]).includes(r['cost_type']), 'cost_type');
      const adj = r['adjustment_info'];
      check(
        r['cost_type'] === 'adjustment'
          ? adj !== null && Object.keys(rec(adj)).join() === 'id,description,mode,type' && Object.values(rec(adj)).every(str)
          : adj === null,
        'adjustment_info',
      );
      check(r['transaction_type'] === 'GOOGLE' || r['transaction_type'] === 'THIRD_PARTY_RESELLER', 'transaction_type');
      check(str(r['seller_name']), 'seller_name');
      check((r['cost_type'] === 'tax') === (p === null && rec(r['sku'])['description'] === 'Tax'), 'tax rows have no project');
    }
    expect([...problems]).toEqual([]);
  });

  it('covers every cost type, credit type, currency, timestamp rendering and seller kind in a day', () => {
    for (const [day, rows] of rowsByDay) {
      const values = (f: (r: Raw) => unknown[]) => [...new Set(rows.flatMap(f))].sort();
      expect(values((r) => [r['cost_type']]), day).toEqual([...GCP_COST_TYPES].sort());
      expect(values((r) => list(r['credits']).map((c) => c['type'])), day).toEqual([...GCP_CREDIT_TYPES].sort());
      expect(values((r) => [r['currency']]), day).toEqual(['EUR', 'USD']);
      expect(values((r) => ['usage_start_time', 'export_time'].map((k) => parseTimestamp(r[k]).format)), day).toEqual([0, 1, 2]);
      expect(values((r) => [r['transaction_type']]), day).toEqual(['GOOGLE', 'THIRD_PARTY_RESELLER']);
      expect(values((r) => [r['billing_account_id']]), day).toEqual(GCP_BILLING_ACCOUNTS.map((a) => a.id).sort());
      expect(rows.some((r) => list(r['credits']).length === 2), `${day}: a row with two credits`).toBe(true);
      const adjustments = rows.filter((r) => r['cost_type'] === 'adjustment').map((r) => Number(num(r['cost']).text));
      expect(adjustments.some((c) => c < 0) && adjustments.some((c) => c > 0), `${day}: adjustments of both signs`).toBe(true);
      // One tax row per billing account per day.
      expect(rows.filter((r) => r['cost_type'] === 'tax').map((r) => r['billing_account_id'])).toEqual(GCP_BILLING_ACCOUNTS.map((a) => a.id));
      // Realistic catalogue: ≥ 6 services with 2–4 SKUs each (per account: EMEA has its own SKUs), ≥ 5 labelled projects.
      const skusByService = new Map<string, Set<string>>();
      for (const r of rows.filter((x) => x['cost_type'] === 'regular')) {
        const key = `${String(r['billing_account_id'])} ${String(rec(r['service'])['id'])}`;
        skusByService.set(key, (skusByService.get(key) ?? new Set()).add(String(rec(r['sku'])['id'])));
      }
      expect(new Set(rows.filter((r) => r['cost_type'] === 'regular').map((r) => rec(r['service'])['id'])).size).toBeGreaterThanOrEqual(6);
      expect([...skusByService.values()].every((s) => s.size >= 2 && s.size <= 4)).toBe(true);
      expect(rec(rows.find((r) => rec(r['service'])['description'] === 'Compute Engine')?.['service'])['id']).toBe('6F81-5844-456A');
      expect(rec(rows.find((r) => rec(r['service'])['description'] === 'BigQuery')?.['service'])['id']).toBe('24E6-581D-38E5');
      const labelled = new Set(rows.filter((r) => r['project'] !== null && list(rec(r['project'])['labels']).length > 0).map((r) => rec(r['project'])['id']));
      expect(labelled.size).toBeGreaterThanOrEqual(5);
    }
  });

  it('prices the EUR account at a rate near 0.92 and USD at 1', () => {
    for (const rows of rowsByDay.values()) {
      const rates = (currency: string) => new Set(rows.filter((r) => r['currency'] === currency).map((r) => num(r['currency_conversion_rate']).text));
      expect([...rates('USD')]).toEqual(['1']);
      const eur = [...rates('EUR')];
      expect(eur).toHaveLength(1);
      expect(Number(eur[0])).toBeGreaterThan(0.9);
      expect(Number(eur[0])).toBeLessThan(0.94);
    }
  });

  it('keeps every row in its usage day; some are exported 1–5 days later', () => {
    for (const [day, rows] of rowsByDay) {
      const start = dayStartUs(day);
      let late = 0;
      for (const r of rows) {
        const usageStart = parseTimestamp(r['usage_start_time']).micros;
        const usageEnd = parseTimestamp(r['usage_end_time']).micros;
        const exported = parseTimestamp(r['export_time']).micros;
        expect(usageStart >= start && usageStart < start + DAY_US, `${r['usage_start_time']} in ${day}`).toBe(true);
        expect(usageEnd - usageStart).toBe(3_600_000_000n);
        expect(exported > usageEnd).toBe(true);
        expect(exported < start + 6n * DAY_US).toBe(true);
        if (exported - usageEnd > DAY_US) late++;
      }
      expect(late, day).toBeGreaterThan(rows.length * 0.03);
      expect(late, day).toBeLessThan(rows.length * 0.15);
    }
  });

  it('bills usage to the invoice month of US Pacific time', () => {
    for (const [day, rows] of rowsByDay) {
      for (const r of rows) {
        const hour = Number(new Date(Number(parseTimestamp(r['usage_start_time']).micros / 1000n)).getUTCHours());
        // 2026-12-01 00:00–07:59 UTC is still November in Los Angeles (PST, UTC−8).
        const expected = day === '2026-12-01' && hour < 8 ? '202611' : day.slice(0, 7).replace('-', '');
        expect(rec(r['invoice'])['month']).toBe(expected);
      }
    }
  });
});

describe('generateGcpBillingExport (Parquet)', () => {
  it('writes Parquet that DuckDB reads with the declared types, the same totals and the same timestamps', async () => {
    const parquet = await generate({ format: 'parquet', days: 1, rowsPerDay: 2000, seed: 21 });
    const ndjson = await generate({ format: 'ndjson', days: 1, rowsPerDay: 2000, seed: 21 });
    const dir = parquet.opts.outDir;
    expect(fs.readdirSync(dir).sort()).toEqual(['gcp_billing_export_v1_2026-11-30.parquet', 'totals.json']);
    expect(parquet.result.totals).toEqual(ndjson.result.totals);

    const db = await DuckDbDatabase.open(':memory:', { readableDirectories: [dir] });
    try {
      const s = await db.session();
      const file = `'${parquet.result.files[0]}'`;
      const described = await s.query<{ column_name: string; column_type: string }>(`DESCRIBE SELECT * FROM read_parquet(${file})`);
      const unquote = (t: string) => t.replace(/"/g, '');
      expect(described.map((c) => [c.column_name, unquote(c.column_type)])).toEqual(GCP_BILLING_PARQUET_COLUMNS.map(([n, t]) => [n, unquote(t)]));

      const sums = await s.query<{ currency: string; n: number; cost: number; credits: number; export_us: string; start_us: string }>(
        `SELECT currency, count(*) AS n, sum(cost) AS cost,
                sum(coalesce(list_sum(list_transform(credits, c -> c.amount)), 0)) AS credits,
                sum(epoch_us(export_time))::VARCHAR AS export_us, sum(epoch_us(usage_start_time))::VARCHAR AS start_us
           FROM read_parquet(${file}) GROUP BY currency ORDER BY currency`,
      );
      const totals = parquet.result.totals.days['2026-11-30'] ?? {};
      expect(sums.map((r) => r.currency)).toEqual(Object.keys(totals));
      const rows = rawRows(ndjson.result.files[0] as string);
      for (const r of sums) {
        const t = totals[r.currency];
        expect(r.n).toBe(t?.rows);
        expect(Math.abs(r.cost - Number(t?.cost))).toBeLessThan(1e-6);
        expect(Math.abs(r.credits - Number(t?.credits))).toBeLessThan(1e-6);
        const mine = rows.filter((x) => x['currency'] === r.currency);
        const sumOf = (k: string) => mine.reduce((acc, x) => acc + parseTimestamp(x[k]).micros, 0n).toString();
        expect(r.export_us).toBe(sumOf('export_time'));
        expect(r.start_us).toBe(sumOf('usage_start_time'));
      }
      const [nulls] = await s.query<{ adj: number; projects: number }>(
        `SELECT count(*) FILTER (WHERE adjustment_info IS NOT NULL) AS adj, count(*) FILTER (WHERE project IS NULL) AS projects FROM read_parquet(${file})`,
      );
      expect(nulls?.adj).toBe(rows.filter((x) => x['adjustment_info'] !== null).length);
      expect(nulls?.projects).toBe(rows.filter((x) => x['project'] === null).length);
    } finally {
      await db.close();
    }

    const again = await generate({ format: 'parquet', days: 1, rowsPerDay: 2000, seed: 21 });
    expect(readTree(again.opts.outDir)).toEqual(readTree(dir));
  });
});

describe('generate-gcp-billing CLI', () => {
  const errorsOf = (argv: string[]) => {
    const parsed = parseCli(argv);
    return 'errors' in parsed ? parsed.errors.join('\n') : '';
  };
  const base = ['--out', 'x', '--start', '2026-11-01'];

  it('rejects bad arguments with a message naming the flag', () => {
    expect(errorsOf([])).toMatch(/--out is required[\s\S]*--start is required/);
    expect(errorsOf(['--out', 'x', '--start', '2026-02-30'])).toMatch(/--start must be a calendar date/);
    expect(errorsOf([...base, '--days', '0'])).toMatch(/--days must be an integer from 1/);
    expect(errorsOf([...base, '--days', '1e3'])).toMatch(/--days must be a non-negative integer/);
    expect(errorsOf([...base, '--rows-per-day', '2'])).toMatch(/--rows-per-day must be an integer ≥ 3/);
    expect(errorsOf([...base, '--seed=abc'])).toMatch(/--seed must be a non-negative integer/);
    expect(errorsOf([...base, '--format', 'csv'])).toMatch(/--format must be one of ndjson, parquet/);
    expect(errorsOf([...base, '--bogus'])).toMatch(/Unknown option '--bogus'/);
    expect(errorsOf([...base, 'extra'])).toMatch(/Unexpected argument 'extra'/);
    expect(parseCli([...base, '--days', '3', '--rows-per-day', '10', '--seed', '9', '--format', 'parquet'])).toEqual({
      options: { outDir: 'x', start: '2026-11-01', days: 3, rowsPerDay: 10, seed: 9, format: 'parquet' },
    });
  });

  it('prints help, and one line per file plus the totals path', async () => {
    const out: string[] = [];
    const err: string[] = [];
    const io = { out: (l: string) => out.push(l), err: (l: string) => err.push(l) };
    expect(await runCli(['--help'], io)).toBe(0);
    expect(out).toEqual([USAGE]);
    out.length = 0;
    const dir = tempDir();
    expect(await runCli(['--out', dir, '--start', '2026-11-01', '--days', '2', '--rows-per-day', '10'], io)).toBe(0);
    expect(err).toEqual([]);
    expect(out).toHaveLength(3);
    expect(out[0]).toMatch(/gcp_billing_export_v1_2026-11-01\.ndjson: 10 rows, .*USD cost [\d.]+ credits -?[\d.]+ net /);
    expect(out[2]).toBe(`totals: ${path.join(dir, 'totals.json')}`);
    expect(await runCli(['--days', 'x'], io)).toBe(2);
  });

  it('exits with status 2 on bad arguments', () => {
    const r = spawnSync(path.join(REPO, 'node_modules', '.bin', 'tsx'), ['scripts/generate-gcp-billing.ts', '--out', tempDir(), '--start', '2026-11-01', '--days', '0'], {
      cwd: REPO,
      encoding: 'utf8',
    });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('error: --days must be an integer from 1');
    expect(r.stderr).toContain('Run with --help for usage.');
  });
});
