import { Argument, Option, type Command } from 'commander';
import type { Connection } from '../client.js';
import { act, type Context } from '../context.js';
import { CliError, EXIT } from '../errors.js';
import { clientOptions, dateOption, integerOption, keyValueOption, pipelinePath, type ClientFlags } from '../options.js';
import { printChecks } from './admin.js';
import { FINISHED, formatDuration, getRun, printRunDetail, printRunList, sleep, waitForRun, type RunDetail, type RunView } from '../runs-view.js';

/** `run`, `runs list|show|cancel` and `backfill`. */
interface RunFlags extends ClientFlags {
  readonly date?: string;
  readonly param?: Record<string, string>;
  readonly wait?: boolean;
  readonly dryRun?: boolean;
}

const RUN_STATUSES = ['QUEUED', 'RUNNING', 'SUCCESS', 'FAILED', 'CANCELLED', 'TIMEOUT'];

export function registerRunCommands(program: Command, ctx: Context): void {
  clientOptions(
    program
      .command('run')
      .description('run a pipeline for the organization (202 queued; --wait follows it to the end)')
      .addArgument(new Argument('<pipeline>', 'provider/domain/pipeline, e.g. demo/sample/costs (custom/configs/<id> for your own)').argParser(pipelinePath))
      .addOption(dateOption('--date <date>', 'run date: YYYY-MM-DD, or today, yesterday (default: the pipeline\'s, usually yesterday)', true))
      .addOption(keyValueOption('--param <key=value>', 'pipeline parameter, repeatable'))
      .option('--wait', 'show live step progress until the run ends, then the table of steps; exit 1 unless it succeeded')
      .option('--dry-run', 'check parameters, plan, quotas and every step without running anything'),
    { org: true },
  ).action(
    act(ctx, async (target: ReturnType<typeof pipelinePath>, opts: RunFlags) => {
      const conn = ctx.connect(opts);
      const org = conn.org();
      const body = { ...(opts.date === undefined ? {} : { date: opts.date }), ...(opts.param === undefined ? {} : { parameters: await typedParameters(conn, target.path, opts.param, ctx.signal) }) };
      const route = `${encodeURIComponent(org)}/${target.provider}/${target.domain}/${target.pipeline}`;
      if (opts.dryRun === true) return dryRun(ctx, conn, route, body);
      let started: RunView;
      try {
        started = await conn.client.call<RunView>('POST', `/api/v1/pipelines/run/${route}`, { auth: 'org', body, signal: ctx.signal });
      } catch (e) {
        if (e instanceof CliError && e.exitCode === EXIT.INTERRUPTED) {
          throw new CliError(EXIT.INTERRUPTED, 'interrupted before the server answered: the run may have been created', ['see: convergence runs list']);
        }
        throw e;
      }
      const id = started.pipeline_logging_id;
      if (opts.wait !== true) {
        ctx.out.result(started, () => {
          ctx.out.print(`run ${id}  ${target.path}  ${started.status}`);
          ctx.out.print(`follow it: convergence runs show ${id} --wait`);
        });
        return EXIT.OK;
      }
      return follow(ctx, conn, id, `run ${id} (${target.path})`, started.status);
    }),
  );

  const runs = program.command('runs').description("the organization's runs: list, show (and follow), cancel");

  clientOptions(
    runs
      .command('list')
      .description('runs, newest first')
      .addOption(new Option('--status <status>', 'only runs in this status').choices(RUN_STATUSES))
      .option('--pipeline <path>', 'only this pipeline (provider/domain/pipeline or pipeline_id)')
      .option('--from <date>', 'created at or after (date or timestamp)')
      .option('--to <date>', 'created before (a date includes that day)')
      .addOption(integerOption('--limit <n>', 'at most this many (1–100, default 20)', 1, 100))
      .option('--cursor <cursor>', 'the next page (printed after a full page)'),
    { org: true },
  ).action(
    act(ctx, async (opts: ClientFlags & { status?: string; pipeline?: string; from?: string; to?: string; limit?: number; cursor?: string }) => {
      const { client } = ctx.connect(opts);
      const r = await client.call<{ runs: RunView[]; next_cursor: string | null }>('GET', '/api/v1/pipelines/runs', {
        auth: 'org',
        query: { status: opts.status, pipeline: opts.pipeline, from: opts.from, to: opts.to, limit: opts.limit, cursor: opts.cursor },
        signal: ctx.signal,
      });
      ctx.out.result(r, () => {
        if (r.runs.length === 0) ctx.out.print('no runs');
        else printRunList(ctx.out, r.runs);
        if (r.next_cursor !== null) ctx.out.print(`more: convergence runs list --cursor ${r.next_cursor}`);
      });
    }),
  );

  clientOptions(runs.command('show').description('a run with its steps and data-quality results').argument('<id>', 'pipeline_logging_id').option('--wait', 'follow it until it ends'), { org: true }).action(
    act(ctx, async (id: string, opts: ClientFlags & { wait?: boolean }) => {
      const conn = ctx.connect(opts);
      const run = await getRun(conn.client, id, ctx.signal);
      if (opts.wait === true && !FINISHED.has(run.status)) return follow(ctx, conn, id, `run ${id} (${run.pipeline_path ?? run.pipeline_id})`, run.status);
      ctx.out.result(run, () => printRunDetail(ctx.out, run));
      return opts.wait === true && run.status !== 'SUCCESS' ? EXIT.FAILURE : EXIT.OK;
    }),
  );

  clientOptions(runs.command('cancel').description('cancel a queued or running run').argument('<id>', 'pipeline_logging_id'), { org: true }).action(
    act(ctx, async (id: string, opts: ClientFlags) => {
      const { client } = ctx.connect(opts);
      const run = await client.call<RunDetail>('DELETE', `/api/v1/pipelines/runs/${encodeURIComponent(id)}`, { auth: 'org', signal: ctx.signal });
      ctx.out.result(run, () => ctx.out.print(`run ${run.pipeline_logging_id}: ${run.status}`));
    }),
  );

  clientOptions(
    program
      .command('backfill')
      .description('one low-priority run per day of a range (all or nothing against the quotas)')
      .addArgument(new Argument('<pipeline>', 'provider/domain/pipeline').argParser(pipelinePath))
      .addOption(dateOption('--from <date>', 'first day, YYYY-MM-DD').makeOptionMandatory())
      .addOption(dateOption('--to <date>', 'last day, included (at most 366 days after --from)').makeOptionMandatory())
      .addOption(keyValueOption('--param <key=value>', 'pipeline parameter, repeatable'))
      .option('--wait', 'follow the runs until all have ended; exit 1 unless all succeeded'),
    { org: true },
  ).action(
    act(ctx, async (target: ReturnType<typeof pipelinePath>, opts: ClientFlags & { from: string; to: string; param?: Record<string, string>; wait?: boolean }) => {
      const conn = ctx.connect(opts);
      const org = conn.org();
      const parameters = opts.param === undefined ? undefined : await typedParameters(conn, target.path, opts.param, ctx.signal);
      const r = await conn.client.call<{ backfill_id: string; total: number; runs: BackfillRun[] }>('POST', `/api/v1/pipelines/backfill/${encodeURIComponent(org)}/${target.provider}/${target.domain}/${target.pipeline}`, {
        auth: 'org',
        body: { start_date: opts.from, end_date: opts.to, ...(parameters === undefined ? {} : { parameters }) },
        signal: ctx.signal,
      });
      if (opts.wait !== true) {
        ctx.out.result(r, () => {
          ctx.out.print(`backfill ${r.backfill_id}: ${r.total} runs queued for ${target.path}, ${opts.from} … ${opts.to}`);
          ctx.out.print(`follow them: convergence runs list --pipeline ${target.path}`);
        });
        return EXIT.OK;
      }
      return followBackfill(ctx, conn, r.backfill_id, target.path);
    }),
  );
}

interface BackfillRun {
  readonly date: string | null;
  readonly pipeline_logging_id: string;
  readonly status: string;
}

async function follow(ctx: Context, conn: Connection, id: string, label?: string, initialStatus?: string): Promise<number> {
  let run: RunDetail;
  try {
    run = await waitForRun(conn.client, id, ctx.out, ctx.signal, label, initialStatus);
  } catch (e) {
    if (e instanceof CliError && e.exitCode === EXIT.INTERRUPTED) {
      throw new CliError(EXIT.INTERRUPTED, `stopped waiting; run ${id} goes on (nothing was cancelled)`, [`follow it with: convergence runs show ${id}`], {
        code: 'INTERRUPTED',
        detail: 'stopped waiting; the run goes on',
        status: 0,
        pipeline_logging_id: id,
      });
    }
    throw e;
  }
  ctx.out.result(run, () => printRunDetail(ctx.out, run));
  return run.status === 'SUCCESS' ? EXIT.OK : EXIT.FAILURE;
}

async function followBackfill(ctx: Context, conn: Connection, backfillId: string, pipeline: string): Promise<number> {
  const progress = ctx.out.progress(`backfill ${backfillId}: queued`);
  const began = Date.now();
  type Status = { total: number; finished: number; by_status: Record<string, number>; runs: BackfillRun[] };
  let status: Status;
  let line: string;
  for (;;) {
    try {
      if (ctx.signal.aborted) throw new CliError(EXIT.INTERRUPTED, 'interrupted');
      status = await conn.client.call<Status>('GET', `/api/v1/pipelines/backfill/${encodeURIComponent(backfillId)}`, { auth: 'org', signal: ctx.signal });
    } catch (e) {
      progress.done();
      if (e instanceof CliError && e.exitCode === EXIT.INTERRUPTED) {
        throw new CliError(EXIT.INTERRUPTED, `stopped waiting; backfill ${backfillId} goes on (nothing was cancelled)`, [`follow it with: convergence runs list --pipeline ${pipeline}`]);
      }
      throw e;
    }
    const counts = Object.entries(status.by_status)
      .map(([k, v]) => `${v} ${k}`)
      .join(', ');
    line = `backfill ${backfillId}: ${status.finished}/${status.total} finished${counts === '' ? '' : ` (${counts})`}`;
    if (status.finished >= status.total) break;
    progress.update(`${line}${progress.live ? ` · ${formatDuration(Date.now() - began)}` : ''}`);
    await sleep(1000, ctx.signal);
  }
  const ok = status.runs.every((r) => r.status === 'SUCCESS');
  progress.done(line, ok);
  ctx.out.result(status, () =>
    ctx.out.table(
      ['date', 'run', 'status'],
      status.runs.map((r) => [r.date, r.pipeline_logging_id, r.status]),
    ),
  );
  return ok && status.runs.every((r) => FINISHED.has(r.status)) ? EXIT.OK : EXIT.FAILURE;
}

async function dryRun(ctx: Context, conn: Connection, route: string, body: Record<string, unknown>): Promise<number> {
  type Dry = { valid: boolean; checks: { name: string; passed: boolean; detail: string }[] };
  let r: Dry;
  try {
    r = await conn.client.call<Dry>('POST', `/api/v1/pipelines/dryrun/${route}`, { auth: 'org', body, signal: ctx.signal });
  } catch (e) {
    if (!(e instanceof CliError) || !Array.isArray(e.problem?.checks)) throw e;
    r = { ...(e.problem as unknown as Dry), valid: false };
  }
  ctx.out.result(r, () => {
    printChecks(ctx.out, r.checks);
    ctx.out.print(r.valid ? 'dry run: every check passed (nothing was run or counted)' : 'dry run: some checks failed');
  });
  return r.valid ? EXIT.OK : EXIT.FAILURE;
}

/**
 * Parameters are sent as text (the server converts dates, integers, numbers), except booleans,
 * which it takes only as JSON booleans: true/false become booleans for the parameters the
 * pipeline declares boolean.
 */
async function typedParameters(conn: Connection, path: string, params: Record<string, string>, signal: AbortSignal): Promise<Record<string, string | boolean>> {
  if (!Object.values(params).some((v) => v === 'true' || v === 'false')) return params;
  const list = await conn.client.call<{ pipelines: { path: string; parameters?: { name: string; type: string }[] }[] }>('GET', '/api/v1/pipelines', { auth: 'org', signal });
  const declared = list.pipelines.find((p) => p.path === path)?.parameters ?? [];
  return Object.fromEntries(Object.entries(params).map(([k, v]) => [k, declared.some((p) => p.name === k && p.type === 'boolean') && (v === 'true' || v === 'false') ? v === 'true' : v]));
}
