import path from 'node:path';
import { Option, type Command } from 'commander';
import { act, type Context } from '../context.js';
import { CliError, EXIT, usageError } from '../errors.js';
import { shownPath } from '../paths.js';

/** `generate gcp-billing`: the synthetic GCP billing export of scripts/generate-gcp-billing.ts, same options. */
interface GcpFlags {
  readonly out: string;
  readonly start: string;
  readonly days: string;
  readonly rowsPerDay: string;
  readonly seed: string;
  readonly format: 'ndjson' | 'parquet';
  readonly json?: boolean;
}

const FLAG_NAMES: Record<string, string> = { outDir: '--out', start: '--start', days: '--days', rowsPerDay: '--rows-per-day', seed: '--seed', format: '--format' };

export function registerGenerateCommands(program: Command, ctx: Context): void {
  const generate = program.command('generate').description('synthetic test data');
  generate
    .command('gcp-billing')
    .description(
      'a deterministic Google Cloud Billing standard usage cost export: one file per UTC usage day and totals.json with the exact cost, credits and net per day and currency',
    )
    .requiredOption('--out <dir>', 'output directory, created if missing (embedded service: under IMPORT_DIR, e.g. import/<org>/gcp)')
    .requiredOption('--start <YYYY-MM-DD>', 'first usage day, UTC')
    .option('--days <n>', 'number of usage days', '1')
    .option('--rows-per-day <n>', 'rows per file, tax rows included, at least 3', '1000')
    .option('--seed <n>', 'non-negative integer seed', '42')
    .addOption(new Option('--format <format>', 'file format').choices(['ndjson', 'parquet']).default('ndjson'))
    .option('--json', 'print the files and totals as JSON')
    .action(
      act(ctx, async (opts: GcpFlags) => {
        const gen = await import('../../generators/gcp-billing-export.js');
        const integer = (flag: string, text: string): number => {
          if (!/^\d+$/.test(text) || !Number.isSafeInteger(Number(text))) throw usageError(`${flag} must be a non-negative integer, got ${JSON.stringify(text)}`);
          return Number(text);
        };
        const options = {
          outDir: path.resolve(ctx.cwd, opts.out),
          start: opts.start,
          days: integer('--days', opts.days),
          rowsPerDay: integer('--rows-per-day', opts.rowsPerDay),
          seed: integer('--seed', opts.seed),
          format: opts.format,
        };
        const problems = gen.gcpBillingOptionProblems(options).map((p) => p.replace(/^(\w+)/, (name) => FLAG_NAMES[name] ?? name));
        if (problems.length > 0) throw usageError(problems.join('; '));
        const out = ctx.out;
        const progress = out.progress(`generating ${options.days} day(s) × ${options.rowsPerDay} rows into ${opts.out}`);
        let result;
        try {
          result = await gen.generateGcpBillingExport({
            ...options,
            onFile: (f) => progress.log(`${shownPath(ctx.cwd, f.path)}: ${f.rows} rows, ${(f.bytes / 1_048_576).toFixed(1)} MiB in ${(f.millis / 1000).toFixed(2)} s`),
          });
        } catch (e) {
          progress.done();
          throw new CliError(EXIT.FAILURE, `generation failed: ${e instanceof Error ? e.message : String(e)}`);
        }
        progress.done(`${result.files.length} file(s) written`);
        out.result(result, () => {
          out.table(
            ['usage day', 'currency', 'rows', 'cost', 'credits', 'net'],
            Object.entries(result.totals.days).flatMap(([day, byCurrency]) => Object.entries(byCurrency).map(([currency, t]) => [day, currency, t.rows, t.cost, t.credits, t.net])),
          );
          out.print(`totals: ${shownPath(ctx.cwd, result.totalsFile)}`);
        });
      }),
    );
}
