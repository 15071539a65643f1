import { Argument, Option, type Command } from 'commander';
import { act, type Context } from '../context.js';
import { clientOptions, keyValueOption, pipelinePath, type ClientFlags } from '../options.js';
import type { Output } from '../output.js';

/** `schedule add|list|remove`: cron schedules of the organization's pipelines. */
interface ScheduleView {
  readonly schedule_id: string;
  readonly pipeline_config: string;
  readonly schedule: string;
  readonly timezone: string;
  readonly parameters: Record<string, unknown>;
  readonly missed_run_policy: string;
  readonly is_active: boolean;
  readonly next_run_at: string | null;
  readonly last_run_at: string | null;
}

export function registerScheduleCommands(program: Command, ctx: Context): void {
  const schedule = program.command('schedule').description("cron schedules of the organization's pipelines");

  clientOptions(
    schedule
      .command('add')
      .description('run a pipeline on a schedule')
      .addArgument(new Argument('<pipeline>', 'provider/domain/pipeline, e.g. demo/sample/costs').argParser(pipelinePath))
      .requiredOption('--cron <expression>', 'five cron fields (minute hour day month weekday) or @hourly/@daily/@weekly/@monthly/@yearly, e.g. "0 2 * * *"')
      .option('--timezone <zone>', 'IANA time zone (default UTC), e.g. Europe/Berlin')
      .addOption(keyValueOption('--param <key=value>', 'pipeline parameter, repeatable'))
      .addOption(new Option('--missed <policy>', 'after downtime: none (skip missed), latest (run the latest once), all (run each)').choices(['none', 'latest', 'all']))
      .option('--inactive', 'store it paused'),
    { org: true },
  ).action(
    act(ctx, async (target: ReturnType<typeof pipelinePath>, opts: ClientFlags & { cron: string; timezone?: string; param?: Record<string, string>; missed?: string; inactive?: boolean }) => {
      const { client } = ctx.connect(opts);
      const view = await client.call<ScheduleView>('POST', '/api/v1/scheduler/configs', {
        auth: 'org',
        body: {
          pipeline_config: target.path,
          schedule: opts.cron,
          ...(opts.timezone === undefined ? {} : { timezone: opts.timezone }),
          ...(opts.param === undefined ? {} : { parameters: opts.param }),
          ...(opts.missed === undefined ? {} : { missed_run_policy: opts.missed }),
          ...(opts.inactive === true ? { is_active: false } : {}),
        },
        signal: ctx.signal,
      });
      ctx.out.result(view, () => {
        ctx.out.print(`schedule ${view.schedule_id} added`);
        printSchedules(ctx.out, [view]);
      });
    }),
  );

  clientOptions(schedule.command('list').description("the organization's schedules with their next run"), { org: true }).action(
    act(ctx, async (opts: ClientFlags) => {
      const { client } = ctx.connect(opts);
      const r = await client.call<{ schedules: ScheduleView[] }>('GET', '/api/v1/scheduler/configs', { auth: 'org', signal: ctx.signal });
      ctx.out.result(r, () => (r.schedules.length === 0 ? ctx.out.print('no schedules') : printSchedules(ctx.out, r.schedules)));
    }),
  );

  clientOptions(schedule.command('remove').description('delete a schedule').argument('<schedule_id>', 'as shown by schedule list'), { org: true }).action(
    act(ctx, async (id: string, opts: ClientFlags) => {
      const { client } = ctx.connect(opts);
      const r = await client.call<Record<string, unknown>>('DELETE', `/api/v1/scheduler/configs/${encodeURIComponent(id)}`, { auth: 'org', signal: ctx.signal });
      ctx.out.result(r, () => ctx.out.print(`schedule ${id} removed`));
    }),
  );
}

function printSchedules(out: Output, views: readonly ScheduleView[]): void {
  const when = (t: string | null): string | null => (t === null ? null : t.replace('T', ' ').slice(0, 19));
  out.table(
    ['schedule', 'pipeline', 'cron', 'timezone', 'parameters', 'active', 'next run (UTC)', 'last run (UTC)'],
    views.map((v) => [
      v.schedule_id,
      v.pipeline_config,
      v.schedule,
      v.timezone,
      Object.entries(v.parameters)
        .map(([k, x]) => `${k}=${String(x)}`)
        .join(' '),
      v.is_active ? 'yes' : 'no',
      when(v.next_run_at),
      when(v.last_run_at),
    ]),
  );
}
