import { generateKeyPair } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import Big from 'big.js';
import type { Command } from 'commander';
import { randomBase62 } from '../../crypto/random.js';
import { ApiClient } from '../client.js';
import { act, type Context } from '../context.js';
import { CliError, EXIT } from '../errors.js';
import { clientOptions, integerOption, type ClientFlags } from '../options.js';
import type { Output } from '../output.js';
import { shownPath } from '../paths.js';
import { waitForRun, type RunDetail, type RunView } from '../runs-view.js';
import { startEmbedded, type EmbeddedService } from '../service.js';

/**
 * `demo`: one command on a fresh checkout. Uses the service at CONVERGENCE_URL when it answers
 * (root key needed), else starts one in this process on a free port with a temporary data
 * directory; bootstraps, onboards a demo organization, writes a generated GCP billing export into
 * the import directory under the organization's folder, sets up the GCP integration (a throwaway
 * service-account key: embedded mode checks only its structure), runs gcp/cost/billing for each
 * generated day and prints the cost per day and currency.
 */
interface DemoFlags extends ClientFlags {
  readonly embedded?: boolean;
  readonly dataDir?: string;
  readonly importDir?: string;
  readonly days: number;
  readonly rowsPerDay: number;
  readonly keep?: boolean;
  readonly verbose?: boolean;
}

interface SummaryRow {
  readonly date: string;
  readonly currency: string;
  readonly rows: number;
  readonly cost: string;
  readonly credits: string;
  readonly net: string;
  /** SUM(BilledCost) of cost_focus_daily for the day and currency, as the run's reconciliation check read it. */
  readonly focus_billed_cost: string | null;
  readonly reconciled: boolean;
}

const PIPELINE = 'gcp/cost/billing';

export function registerDemoCommand(program: Command, ctx: Context): void {
  clientOptions(
    program
      .command('demo')
      .description('end to end in one command: service, bootstrap, demo org, generated GCP billing data, pipeline runs, cost summary')
      .option('--embedded', 'start the embedded service in this process even if CONVERGENCE_URL answers')
      .option('--data-dir <dir>', 'embedded service: keep its data here (default: a temporary directory, removed afterwards)')
      .option('--import-dir <dir>', 'where the export files go (embedded: <data dir>/import; a running service: env IMPORT_DIR or ./import, as the service reads it)')
      .addOption(integerOption('--days <n>', 'usage days to generate and load, ending yesterday (default 3)', 1, 14).default(3))
      .addOption(integerOption('--rows-per-day <n>', 'export rows per day (default 2000)', 3, 200_000).default(2000))
      .option('--keep', 'keep the temporary data directory')
      .option('--verbose', "show the embedded service's log"),
    { root: true },
  ).action(act(ctx, async (opts: DemoFlags) => demo(ctx, opts)));
}

async function demo(ctx: Context, opts: DemoFlags): Promise<number> {
  const out = ctx.out;
  const conn = ctx.connect(opts);
  let client = conn.client;
  let embedded: EmbeddedService | undefined;
  let tempDir: string | undefined;
  let importDir: string;
  const began = Date.now();
  try {
    if (opts.embedded !== true && (await client.reachable())) {
      client.checkAuth('root');
      importDir = path.resolve(ctx.cwd, opts.importDir ?? ctx.env.IMPORT_DIR ?? './import');
      out.note(`Using the service at ${client.url} (export files go to ${importDir}, which it must read as IMPORT_DIR).`);
    } else {
      const dataDir = opts.dataDir === undefined ? (tempDir = fs.mkdtempSync(path.join(os.tmpdir(), 'convergence-demo-'))) : path.resolve(ctx.cwd, opts.dataDir);
      out.note(`No service at ${client.url}: starting an embedded one in this process (data: ${shownPath(ctx.cwd, dataDir)}).`);
      const starting = out.progress('Starting the embedded service…');
      embedded = await startEmbedded(ctx, { dataDir, importDir: opts.importDir ?? path.join(dataDir, 'import'), logLevel: opts.verbose === true ? 'info' : 'warn' });
      starting.done(`Embedded service on ${embedded.url}`);
      importDir = embedded.importDir;
      const key = embedded.rootKey;
      client = new ApiClient(embedded.url, undefined, () => key);
    }
    const step = <T>(text: string, work: () => Promise<T>, doneText?: (r: T) => string): Promise<T> => runStep(out, text, work, doneText);

    await step('Bootstrap', () => client.call('POST', '/api/v1/admin/bootstrap', { auth: 'root', body: {}, signal: ctx.signal }), () => 'Bootstrapped the central dataset');
    const slug = `demo_${randomBase62(8).toLowerCase()}`;
    const onboard = await step(
      `Onboarding ${slug}`,
      () =>
        client.call<{ api_key: string; dataset_id: string }>('POST', '/api/v1/organizations/onboard', {
          auth: 'root',
          body: { org_slug: slug, company_name: 'Demo Org', admin_email: 'admin@example.com', subscription_plan: 'PROFESSIONAL' },
          signal: ctx.signal,
        }),
      (r) => `Onboarded organization ${slug} (dataset ${r.dataset_id})`,
    );
    const orgKey = onboard.api_key;
    const org = new ApiClient(client.url, orgKey, () => undefined);

    const days = lastDays(opts.days);
    const exportDir = path.join(importDir, slug, 'gcp');
    const gen = await import('../../generators/gcp-billing-export.js');
    const generated = await step(
      `Generating ${days.length} day(s) × ${opts.rowsPerDay} rows of GCP billing export`,
      () => gen.generateGcpBillingExport({ outDir: exportDir, start: days[0] as string, days: days.length, rowsPerDay: opts.rowsPerDay, seed: 42, format: 'ndjson' }),
      (r) => `Generated ${r.files.length} export file(s) in ${shownPath(ctx.cwd, exportDir)}`,
    );

    await step(
      'Setting up the GCP integration',
      async () =>
        org.call('POST', `/api/v1/integrations/${slug}/gcp/setup`, {
          auth: 'org',
          body: { credential: await throwawayServiceAccount(), credential_name: 'demo (throwaway key)', config: { billing_export_path: `${slug}/gcp/*.ndjson` } },
          signal: ctx.signal,
        }),
      () => `GCP integration set up (billing_export_path ${slug}/gcp/*.ndjson)`,
    );

    const runs: RunDetail[] = [];
    for (const date of days) {
      const started = await org.call<RunView>('POST', `/api/v1/pipelines/run/${slug}/${PIPELINE}`, { auth: 'org', body: { date }, signal: ctx.signal });
      try {
        const run = await waitForRun(org, started.pipeline_logging_id, out, ctx.signal, `${PIPELINE} ${date}`);
        runs.push(run);
        if (run.status !== 'SUCCESS') {
          out.warn(`the run for ${date} ended ${run.status}${run.error_message === null ? '' : `: ${run.error_message}`}; not running the remaining days`);
          break;
        }
      } catch (e) {
        if (e instanceof CliError && e.exitCode === EXIT.INTERRUPTED) throw new CliError(EXIT.INTERRUPTED, 'interrupted', embedded === undefined ? [`run ${started.pipeline_logging_id} goes on: convergence runs show ${started.pipeline_logging_id}`] : []);
        throw e;
      }
    }

    const summary = summarize(generated.totals.days, runs);
    const failed = runs.filter((r) => r.status !== 'SUCCESS');
    const result = {
      mode: embedded === undefined ? 'service' : 'embedded',
      url: client.url,
      org_slug: slug,
      pipeline: PIPELINE,
      runs: runs.map((r) => ({ date: String(r.parameters?.date ?? ''), pipeline_logging_id: r.pipeline_logging_id, status: r.status, duration_ms: r.duration_ms })),
      summary,
      summary_source: 'totals.json written by the generator; focus_billed_cost is SUM(BilledCost) of cost_focus_daily as read by each run\'s focus_equals_export reconciliation check',
      totals_file: generated.totalsFile,
      seconds: Math.round((Date.now() - began) / 100) / 10,
    };
    const removed = tempDir !== undefined && opts.keep !== true;
    out.result(embedded === undefined ? { ...result, api_key: orgKey } : result, () => printSummary(out, summary, runs, generated.totalsFile, ctx.cwd, removed));
    if (!ctx.json) {
      if (embedded === undefined) {
        out.print('');
        out.print(`API key of ${slug} (shown once: store it now):`);
        out.print('');
        out.print(`    ${orgKey}`);
        out.print('');
        out.print(`Explore: export CONVERGENCE_API_KEY=<the key above>; convergence runs list; convergence integration list`);
      } else {
        out.print('');
        out.print('The embedded service stops now. To keep exploring: `convergence serve` in one terminal, `convergence demo` in another.');
      }
    }
    out.note(`demo finished in ${((Date.now() - began) / 1000).toFixed(1)} s`);
    return failed.length === 0 && summary.every((s) => s.reconciled) ? EXIT.OK : EXIT.FAILURE;
  } finally {
    if (embedded !== undefined) await embedded.close();
    if (tempDir !== undefined && opts.keep !== true) fs.rmSync(tempDir, { recursive: true, force: true });
    else if (tempDir !== undefined) out.note(`data kept in ${tempDir}`);
  }
}

async function runStep<T>(out: Output, text: string, work: () => Promise<T>, doneText?: (r: T) => string): Promise<T> {
  const progress = out.progress(`${text}…`);
  try {
    const r = await work();
    progress.done(doneText?.(r) ?? text);
    return r;
  } catch (e) {
    progress.done(`${text}: failed`, false);
    throw e;
  }
}

/** `n` consecutive UTC days ending yesterday, oldest first. */
function lastDays(n: number): string[] {
  const today = Date.UTC(new Date().getUTCFullYear(), new Date().getUTCMonth(), new Date().getUTCDate());
  return Array.from({ length: n }, (_, i) => new Date(today - (n - i) * 86_400_000).toISOString().slice(0, 10));
}

/** A service-account key file shaped like Google's, with a fresh RSA key that is used for nothing. */
async function throwawayServiceAccount(): Promise<Record<string, string>> {
  const { privateKey } = await promisify(generateKeyPair)('rsa', { modulusLength: 2048, privateKeyEncoding: { type: 'pkcs8', format: 'pem' }, publicKeyEncoding: { type: 'spki', format: 'pem' } });
  return {
    type: 'service_account',
    project_id: 'convergence-demo',
    private_key_id: randomBase62(40).toLowerCase(),
    private_key: privateKey,
    client_email: 'convergence-demo@convergence-demo.iam.gserviceaccount.com',
    client_id: '100000000000000000001',
    auth_uri: 'https://accounts.google.com/o/oauth2/auth',
    token_uri: 'https://oauth2.googleapis.com/token',
  };
}

/** Per day and currency: the generator's exact totals beside what cost_focus_daily holds (per the run's reconciliation check). */
function summarize(days: Record<string, Record<string, { rows: number; cost: string; credits: string; net: string }>>, runs: readonly RunDetail[]): SummaryRow[] {
  const rows: SummaryRow[] = [];
  for (const [date, byCurrency] of Object.entries(days)) {
    const run = runs.find((r) => r.parameters?.date === date);
    const check = run?.dq_results.find((d) => d.check_name === 'focus_equals_export');
    const focus = parseGroupedTotals(check?.expected_value ?? null);
    for (const [currency, t] of Object.entries(byCurrency)) {
      const billed = focus.get(currency) ?? null;
      rows.push({ date, currency, rows: t.rows, cost: t.cost, credits: t.credits, net: t.net, focus_billed_cost: billed, reconciled: check?.status === 'PASS' && billed !== null && sameDecimal(billed, t.net) });
    }
  }
  return rows;
}

/** "EUR 12.5, USD 3.000000000" → {EUR: "12.5", USD: "3.000000000"}. */
function parseGroupedTotals(text: string | null): Map<string, string> {
  const m = new Map<string, string>();
  for (const part of (text ?? '').split(', ')) {
    const [k, v] = part.split(' ');
    if (k !== undefined && v !== undefined) m.set(k, v);
  }
  return m;
}

/** Equal as decimals ("1.50" = "1.5"); compares digit strings, no floating point. */
function sameDecimal(a: string, b: string): boolean {
  const norm = (s: string): string => {
    const neg = s.trim().startsWith('-');
    const [i = '0', f = ''] = s.trim().replace(/^[-+]/, '').split('.');
    const int = i.replace(/^0+(?=\d)/, '');
    const frac = f.replace(/0+$/, '');
    const v = frac === '' ? int : `${int}.${frac}`;
    return neg && v !== '0' ? `-${v}` : v;
  };
  return norm(a) === norm(b);
}

function printSummary(out: Output, summary: readonly SummaryRow[], runs: readonly RunDetail[], totalsFile: string, cwd: string, removed: boolean): void {
  out.print('');
  out.print(`Runs of ${PIPELINE}:`);
  out.table(
    ['date', 'run', 'status', 'duration', 'rows loaded'],
    runs.map((r) => [String(r.parameters?.date ?? ''), r.pipeline_logging_id, r.status, r.duration_ms === null ? null : `${(r.duration_ms / 1000).toFixed(1)} s`, r.steps.find((s) => s.step_id === 'extract')?.rows_processed]),
  );
  out.print('');
  out.print('GCP cost per day and currency:');
  out.table(
    ['date', 'currency', 'export rows', 'cost', 'credits', 'net cost', 'cost_focus_daily', 'reconciled'],
    summary.map((s) => [s.date, s.currency, s.rows, s.cost, s.credits, s.net, s.focus_billed_cost, s.reconciled ? 'yes' : 'NO']),
  );
  const totals = new Map<string, Big>();
  for (const s of summary) totals.set(s.currency, (totals.get(s.currency) ?? new Big(0)).plus(s.net));
  out.print(`Net cost over ${new Set(summary.map((s) => s.date)).size} day(s): ${[...totals].map(([c, v]) => `${c} ${v.toFixed(2)}`).join(', ')}`);
  out.print(`Source: ${shownPath(cwd, totalsFile)} (the generator's exact sums${removed ? '; removed with the temporary data directory, --keep keeps it' : ''}); cost_focus_daily is SUM(BilledCost) as each run's reconciliation check read it from the warehouse.`);
}
