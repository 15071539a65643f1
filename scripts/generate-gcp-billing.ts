// Writes a deterministic synthetic Google Cloud Billing standard usage cost export: one file per
// UTC usage day plus totals.json (npm run generate:gcp-billing -- --out import/gcp --start 2026-11-01).
import path from 'node:path';
import { parseArgs } from 'node:util';
import {
  GCP_BILLING_FORMATS,
  MAX_DAYS,
  gcpBillingOptionProblems,
  generateGcpBillingExport,
  type GcpBillingExportOptions,
  type GcpBillingFormat,
  type GeneratedGcpBillingFile,
} from '../src/generators/gcp-billing-export.js';

export const USAGE = `Usage: tsx scripts/generate-gcp-billing.ts --out DIR --start YYYY-MM-DD [options]

Writes DIR/gcp_billing_export_v1_YYYY-MM-DD.{ndjson|parquet}, one file per UTC usage day, in the
column layout of the BigQuery standard usage cost export, and DIR/totals.json with the exact
cost, credits and net per usage day and currency. Same arguments give byte-identical files.

Options:
  --out DIR             output directory, created if missing (required)
  --start YYYY-MM-DD    first usage day, UTC (required)
  --days N              number of usage days, 1-${MAX_DAYS} (default: 1)
  --rows-per-day N      rows per file, tax rows included, at least 3 (default: 1000)
  --seed N              non-negative integer seed (default: 42)
  --format FORMAT       ${GCP_BILLING_FORMATS.join(' or ')} (default: ndjson)
  -h, --help            show this help`;

export interface CliIo {
  out: (line: string) => void;
  err: (line: string) => void;
}

/** Exit codes: 0 success, 1 generation failed, 2 bad arguments. */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  const parsed = parseCli(argv);
  if ('help' in parsed) {
    io.out(USAGE);
    return 0;
  }
  if ('errors' in parsed) {
    for (const e of parsed.errors) io.err(`error: ${e}`);
    io.err('Run with --help for usage.');
    return 2;
  }
  try {
    const result = await generateGcpBillingExport({ ...parsed.options, onFile: (f) => io.out(summary(f)) });
    io.out(`totals: ${result.totalsFile}`);
    return 0;
  } catch (e) {
    io.err(`error: ${e instanceof Error ? e.message : String(e)}`);
    return 1;
  }
}

type Parsed = { help: true } | { errors: string[] } | { options: Omit<GcpBillingExportOptions, 'onFile'> };

export function parseCli(argv: readonly string[]): Parsed {
  let values;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: false,
      options: {
        out: { type: 'string' },
        start: { type: 'string' },
        days: { type: 'string', default: '1' },
        'rows-per-day': { type: 'string', default: '1000' },
        seed: { type: 'string', default: '42' },
        format: { type: 'string', default: 'ndjson' },
        help: { type: 'boolean', short: 'h', default: false },
      },
    }));
  } catch (e) {
    return { errors: [e instanceof Error ? e.message : String(e)] };
  }
  if (values.help) return { help: true };

  const errors: string[] = [];
  const integer = (flag: string, text: string): number => {
    // Digits only: parseInt would accept "12abc", Number would accept "1e3" and " 7 ".
    if (!/^\d+$/.test(text) || !Number.isSafeInteger(Number(text))) {
      errors.push(`--${flag} must be a non-negative integer, got ${JSON.stringify(text)}`);
      return Number.NaN;
    }
    return Number(text);
  };
  if (values.out === undefined) errors.push('--out is required');
  if (values.start === undefined) errors.push('--start is required');
  const options = {
    outDir: values.out ?? '',
    start: values.start ?? '',
    days: integer('days', values.days),
    rowsPerDay: integer('rows-per-day', values['rows-per-day']),
    seed: integer('seed', values.seed),
    format: values.format as GcpBillingFormat,
  };
  if (errors.length > 0) return { errors };
  const problems = gcpBillingOptionProblems(options);
  if (problems.length > 0) return { errors: problems.map(toFlagNames) };
  return { options };
}

const FLAG_NAMES: Record<string, string> = { outDir: '--out', start: '--start', days: '--days', rowsPerDay: '--rows-per-day', seed: '--seed', format: '--format' };
const toFlagNames = (problem: string): string => problem.replace(/^(\w+)/, (name) => FLAG_NAMES[name] ?? name);

function summary(f: GeneratedGcpBillingFile): string {
  const money = Object.entries(f.totals)
    .map(([currency, t]) => `${currency} cost ${t.cost} credits ${t.credits} net ${t.net} (${t.rows} rows)`)
    .join('; ');
  return `${path.relative(process.cwd(), f.path) || f.path}: ${f.rows} rows, ${(f.bytes / 1_048_576).toFixed(1)} MiB in ${(f.millis / 1000).toFixed(2)} s; ${money}`;
}

if (process.argv[1] !== undefined && path.resolve(process.argv[1]) === path.resolve(new URL(import.meta.url).pathname)) {
  process.exitCode = await runCli(process.argv.slice(2), { out: (l) => console.log(l), err: (l) => console.error(l) });
}
