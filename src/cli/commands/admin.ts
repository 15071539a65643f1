import { Option, type Command } from 'commander';
import { act, type Context } from '../context.js';
import { CliError, EXIT, usageError } from '../errors.js';
import { clientOptions, type ClientFlags } from '../options.js';
import type { Output } from '../output.js';

/** `bootstrap` and `org dryrun|onboard|show|quota|rotate-key`: the operator's set-up calls. */
interface Check {
  readonly name: string;
  readonly passed: boolean;
  readonly detail: string;
}

interface OrgFlags extends ClientFlags {
  readonly company: string;
  readonly email: string;
  readonly plan?: string;
}

export function registerAdminCommands(program: Command, ctx: Context): void {
  clientOptions(
    program
      .command('bootstrap')
      .description('create or upgrade the central dataset and its tables (idempotent; root key)')
      .option('--force-recreate-tables', 'drop and recreate every central table')
      .option('--force-recreate-dataset', "drop the central dataset — every organization's records — and recreate it (needs --yes)")
      .option('--yes', 'confirm a destructive option'),
    { root: true },
  ).action(
    act(ctx, async (opts: ClientFlags & { forceRecreateTables?: boolean; forceRecreateDataset?: boolean; yes?: boolean }) => {
      if ((opts.forceRecreateDataset === true || opts.forceRecreateTables === true) && opts.yes !== true) {
        throw usageError('--force-recreate-dataset and --force-recreate-tables delete data: add --yes to confirm');
      }
      const { client } = ctx.connect(opts);
      const r = await client.call<Record<string, unknown>>('POST', '/api/v1/admin/bootstrap', {
        auth: 'root',
        body: { force_recreate_dataset: opts.forceRecreateDataset === true, force_recreate_tables: opts.forceRecreateTables === true },
        signal: ctx.signal,
      });
      ctx.out.result(r, () => {
        const list = (k: string): number => (Array.isArray(r[k]) ? (r[k] as unknown[]).length : 0);
        ctx.out.print(String(r.message ?? 'bootstrapped'));
        ctx.out.fields([
          ['dataset', String(r.dataset)],
          ['tables', `${String(r.total_tables)} (${list('tables_created')} created, ${list('tables_existing')} existing, ${list('tables_recreated')} recreated)`],
        ]);
      });
    }),
  );

  const org = program.command('org').description('organizations: dry run, onboard, show, quota, rotate the API key');
  const onboardingOptions = (cmd: Command): Command =>
    clientOptions(
      cmd
        .argument('<slug>', 'organization id: lowercase letters, digits and _, 3–50 characters')
        .requiredOption('--company <name>', 'company name')
        .requiredOption('--email <address>', 'administrator email')
        .addOption(new Option('--plan <plan>', 'subscription plan (default STARTER)').choices(['STARTER', 'PROFESSIONAL', 'SCALE'])),
      { root: true },
    );
  const body = (slug: string, o: OrgFlags): Record<string, unknown> => ({ org_slug: slug, company_name: o.company, admin_email: o.email, ...(o.plan === undefined ? {} : { subscription_plan: o.plan }) });

  onboardingOptions(org.command('dryrun').description('check an onboarding request; creates nothing (root key)')).action(
    act(ctx, async (slug: string, opts: OrgFlags) => {
      const { client } = ctx.connect(opts);
      let r: { valid: boolean; checks: Check[] };
      try {
        r = await client.call<{ valid: boolean; checks: Check[] }>('POST', '/api/v1/organizations/dryrun', { auth: 'root', body: body(slug, opts), signal: ctx.signal });
      } catch (e) {
        // 422 carries the same checks: show them as a table rather than as an error.
        if (!(e instanceof CliError) || !Array.isArray(e.problem?.checks)) throw e;
        r = { valid: false, checks: e.problem.checks as Check[] };
      }
      ctx.out.result(r, () => {
        printChecks(ctx.out, r.checks);
        ctx.out.print(r.valid ? `${slug}: every check passed — \`convergence org onboard ${slug} …\` would succeed` : `${slug}: some checks failed`);
      });
      return r.valid ? EXIT.OK : EXIT.FAILURE;
    }),
  );

  onboardingOptions(org.command('onboard').description('create an organization; prints its API key once (root key)')).action(
    act(ctx, async (slug: string, opts: OrgFlags) => {
      const { client } = ctx.connect(opts);
      const r = await client.call<Record<string, unknown>>('POST', '/api/v1/organizations/onboard', { auth: 'root', body: body(slug, opts), signal: ctx.signal });
      ctx.out.result(r, () => {
        const limits = (r.limits ?? {}) as Record<string, unknown>;
        ctx.out.print(`Organization ${String(r.org_slug)} onboarded: plan ${String(r.subscription_plan)} (${String(r.subscription_status)}), dataset ${String(r.dataset_id)}, limits ${String(limits.daily_limit)}/day ${String(limits.monthly_limit)}/month ${String(limits.concurrent_limit)} at once.`);
        printKeyOnce(ctx.out, String(r.api_key));
      });
    }),
  );

  clientOptions(org.command('show').description("an organization's profile and plan (org key, or root key for any)").argument('[slug]', 'organization (default: --org or the key\'s)'), {
    org: true,
    root: true,
  }).action(
    act(ctx, async (slug: string | undefined, opts: ClientFlags) => {
      const conn = ctx.connect(opts);
      const target = slug ?? conn.org();
      const r = await conn.client.call<Record<string, unknown>>('GET', `/api/v1/organizations/${encodeURIComponent(target)}`, { auth: 'root_or_org', signal: ctx.signal });
      ctx.out.result(r, () => {
        const sub = (r.subscription ?? null) as Record<string, unknown> | null;
        ctx.out.fields([
          ['organization', String(r.org_slug)],
          ['company', String(r.company_name)],
          ['admin email', String(r.admin_email)],
          ['status', String(r.status)],
          ['dataset', String(r.dataset_id)],
          ['created', String(r.created_at)],
          ['plan', sub === null ? null : `${String(sub.plan_name)} (${String(sub.status)})`],
          ['limits', sub === null ? null : `${String(sub.daily_limit)}/day, ${String(sub.monthly_limit)}/month, ${String(sub.concurrent_limit)} at once`],
        ]);
      });
    }),
  );

  clientOptions(org.command('quota').description('runs used against the plan limits (org key)'), { org: true }).action(
    act(ctx, async (opts: ClientFlags) => {
      const conn = ctx.connect(opts);
      const r = await conn.client.call<Record<string, unknown>>('GET', `/api/v1/organizations/${encodeURIComponent(conn.org())}/quota`, { auth: 'org', signal: ctx.signal });
      ctx.out.result(r, () =>
        ctx.out.fields([
          ['organization', String(r.org_slug)],
          ['plan', `${String(r.plan_name)} (${String(r.subscription_status)})`],
          ['today', `${String(r.pipelines_run_today)} of ${String(r.daily_limit)} runs (${String(r.usage_date)})`],
          ['this month', `${String(r.pipelines_run_month)} of ${String(r.monthly_limit)} runs`],
          ['running', `${String(r.concurrent_running)} of ${String(r.concurrent_limit)}`],
          ['runs allowed', r.runs_allowed === true ? 'yes' : 'no'],
        ]),
      );
    }),
  );

  clientOptions(
    org
      .command('rotate-key')
      .description('issue a new API key (printed once); every previous key of the organization stops working at once')
      .argument('[slug]', "organization (default: --org or the key's)"),
    { org: true, root: true },
  ).action(
    act(ctx, async (slug: string | undefined, opts: ClientFlags) => {
      const conn = ctx.connect(opts);
      const target = slug ?? conn.org();
      const r = await conn.client.call<Record<string, unknown>>('POST', `/api/v1/organizations/${encodeURIComponent(target)}/api-keys/rotate`, { auth: 'root_or_org', signal: ctx.signal });
      ctx.out.result(r, () => {
        ctx.out.print(`New API key for ${String(r.org_slug)}; ${String(r.revoked_keys)} previous key(s) revoked.`);
        printKeyOnce(ctx.out, String(r.api_key));
      });
    }),
  );
}

/** The one place a secret is printed: the key just issued, once. */
function printKeyOnce(out: Output, key: string): void {
  out.print('');
  out.print('  API key (shown once: store it now):');
  out.print('');
  out.print(`    ${key}`);
  out.print('');
  out.print('  Use it with: export CONVERGENCE_API_KEY=<the key above>');
}

export function printChecks(out: Output, checks: readonly Check[]): void {
  out.table(
    ['check', 'passed', 'detail'],
    checks.map((c) => [c.name, c.passed ? 'yes' : 'NO', c.detail]),
  );
}
