/**
 * Writing the synthetic GCP billing export to disk (`generateGcpBillingExport`): one NDJSON file per
 * usage day streamed from the row generator, Parquet converted from it by DuckDB, and totals.json.
 */
import fs from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { DuckDbDatabase, type DuckDbSession } from '../../duckdb/duckdb-database.js';
import { DAY_MS, formatMicros, gcpBillingRows, isoDay, parseUtcDay, rowsOptionProblems } from './rows.js';
import { serializeGcpBillingRow } from './serialize.js';
import { GCP_BILLING_FORMATS, GCP_BILLING_PARQUET_COLUMNS, type GcpBillingFormat, type GeneratedGcpBillingRow } from './types.js';

export interface GcpBillingExportOptions {
  outDir: string;
  /** First usage day, `YYYY-MM-DD` (UTC). */
  start: string;
  /** Number of consecutive usage days (one file each). */
  days: number;
  /** Rows per file, tax rows included. */
  rowsPerDay: number;
  seed: number;
  format: GcpBillingFormat;
  /** Called after each file is complete. */
  onFile?: (file: GeneratedGcpBillingFile) => void;
}

export interface CurrencyTotals {
  rows: number;
  /** Σ cost, exact decimal. */
  cost: string;
  /** Σ credits[].amount, exact decimal (≤ 0). */
  credits: string;
  /** cost + credits. */
  net: string;
}

export interface GcpBillingTotals {
  seed: number;
  /** Usage day → currency → totals. */
  days: Record<string, Record<string, CurrencyTotals>>;
}

export interface GeneratedGcpBillingFile {
  day: string;
  path: string;
  rows: number;
  bytes: number;
  millis: number;
  totals: Record<string, CurrencyTotals>;
}

export interface GcpBillingExportResult {
  files: string[];
  totals: GcpBillingTotals;
  totalsFile: string;
}

export const MAX_DAYS = 3660;

/** What is wrong with the options, one message per problem (empty when they are usable). */
export function gcpBillingOptionProblems(opts: Omit<GcpBillingExportOptions, 'onFile'>): string[] {
  const problems: string[] = [];
  if (typeof opts.outDir !== 'string' || opts.outDir.trim() === '') problems.push('outDir must be a non-empty path');
  if (!Number.isSafeInteger(opts.days) || opts.days < 1 || opts.days > MAX_DAYS) problems.push(`days must be an integer from 1 to ${MAX_DAYS}, got ${opts.days}`);
  if (!(GCP_BILLING_FORMATS as readonly string[]).includes(opts.format)) problems.push(`format must be one of ${GCP_BILLING_FORMATS.join(', ')}, got ${JSON.stringify(opts.format)}`);
  problems.push(...rowsOptionProblems({ day: opts.start, rowsPerDay: opts.rowsPerDay, seed: opts.seed }).map((p) => p.replace(/^day /, 'start ')));
  return problems;
}

export const gcpBillingFileName = (day: string, format: GcpBillingFormat): string => `gcp_billing_export_v1_${day}.${format}`;

/**
 * Writes one file per usage day into `outDir` and `totals.json` beside them. Files are written
 * under a temporary name and renamed when complete; Parquet is converted from a temporary NDJSON
 * file by an in-memory DuckDB confined to `outDir`.
 */
export async function generateGcpBillingExport(opts: GcpBillingExportOptions): Promise<GcpBillingExportResult> {
  const problems = gcpBillingOptionProblems(opts);
  if (problems.length > 0) throw new RangeError(problems.join('; '));
  const outDir = path.resolve(opts.outDir);
  fs.mkdirSync(outDir, { recursive: true });
  const startMs = parseUtcDay(opts.start) as number;
  const totals: GcpBillingTotals = { seed: opts.seed, days: {} };
  const files: string[] = [];
  let db: DuckDbDatabase | undefined;
  let session: DuckDbSession | undefined;
  try {
    for (let d = 0; d < opts.days; d++) {
      const began = performance.now();
      const day = isoDay(startMs + d * DAY_MS);
      const file = path.join(outDir, gcpBillingFileName(day, opts.format));
      const ndjson = opts.format === 'ndjson' ? `${file}.tmp` : path.join(outDir, `.${gcpBillingFileName(day, 'ndjson')}.tmp`);
      const sums = new Map<string, { rows: number; cost: bigint; credits: bigint }>();
      try {
        await pipeline(Readable.from(ndjsonChunks(gcpBillingRows({ day, rowsPerDay: opts.rowsPerDay, seed: opts.seed }), sums)), fs.createWriteStream(ndjson));
        if (opts.format === 'ndjson') {
          fs.renameSync(ndjson, file);
        } else {
          db ??= await DuckDbDatabase.open(':memory:', { readableDirectories: [outDir] });
          session ??= await db.session();
          await ndjsonToParquet(session, ndjson, `${file}.tmp`);
          fs.renameSync(`${file}.tmp`, file);
        }
      } finally {
        fs.rmSync(ndjson, { force: true });
        fs.rmSync(`${file}.tmp`, { force: true });
      }
      const dayTotals = Object.fromEntries(
        [...sums.entries()]
          .sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0))
          .map(([currency, s]) => [currency, { rows: s.rows, cost: formatMicros(s.cost), credits: formatMicros(s.credits), net: formatMicros(s.cost + s.credits) }]),
      );
      totals.days[day] = dayTotals;
      files.push(file);
      opts.onFile?.({ day, path: file, rows: opts.rowsPerDay, bytes: fs.statSync(file).size, millis: performance.now() - began, totals: dayTotals });
    }
  } finally {
    await db?.close();
  }
  const totalsFile = path.join(outDir, 'totals.json');
  fs.writeFileSync(`${totalsFile}.tmp`, `${JSON.stringify(totals, null, 2)}\n`);
  fs.renameSync(`${totalsFile}.tmp`, totalsFile);
  return { files, totals, totalsFile };
}

/** ~256 KiB strings of NDJSON lines, summing money per currency on the way. */
function* ndjsonChunks(rows: Iterable<GeneratedGcpBillingRow>, sums: Map<string, { rows: number; cost: bigint; credits: bigint }>): Generator<string> {
  let chunk = '';
  for (const r of rows) {
    let s = sums.get(r.currency);
    if (s === undefined) sums.set(r.currency, (s = { rows: 0, cost: 0n, credits: 0n }));
    s.rows++;
    s.cost += r.costMicros;
    s.credits += r.creditsMicros;
    chunk += `${serializeGcpBillingRow(r.row)}\n`;
    if (chunk.length >= 262_144) {
      yield chunk;
      chunk = '';
    }
  }
  if (chunk !== '') yield chunk;
}

const TIMESTAMP_COLUMNS = new Set<string>(['usage_start_time', 'usage_end_time', 'export_time']);
const sqlString = (s: string): string => `'${s.replace(/'/g, "''")}'`;

/**
 * Timestamps arrive as text in any of the three extract renderings; strptime takes the
 * ` UTC` and `Z` forms explicitly and the cast is the strict fallback (it fails on anything else).
 */
const parseTimestampSql = (column: string): string =>
  `coalesce(timezone('UTC', try_strptime(${column}, ['%Y-%m-%d %H:%M:%S.%f UTC', '%Y-%m-%d %H:%M:%S UTC', '%Y-%m-%dT%H:%M:%SZ'])), CAST(${column} AS TIMESTAMPTZ))`;

async function ndjsonToParquet(session: DuckDbSession, ndjson: string, parquet: string): Promise<void> {
  const columns = GCP_BILLING_PARQUET_COLUMNS.map(([name, type]) => `${name}: ${sqlString(TIMESTAMP_COLUMNS.has(name) ? 'VARCHAR' : type)}`).join(', ');
  const select = GCP_BILLING_PARQUET_COLUMNS.map(([name]) => (TIMESTAMP_COLUMNS.has(name) ? `${parseTimestampSql(name)} AS ${name}` : name)).join(', ');
  await session.execute(
    `COPY (SELECT ${select} FROM read_json(${sqlString(ndjson)}, format = 'newline_delimited', columns = {${columns}})) ` +
      `TO ${sqlString(parquet)} (FORMAT parquet, COMPRESSION zstd)`,
  );
}
