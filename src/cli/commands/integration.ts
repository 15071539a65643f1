import fs from 'node:fs';
import { Argument, type Command } from 'commander';
import { act, type Context } from '../context.js';
import { CliError, EXIT, usageError } from '../errors.js';
import { clientOptions, keyValueOption, type ClientFlags } from '../options.js';
import type { Output } from '../output.js';

/**
 * `integration setup|validate|list|remove`: provider credentials of the organization. The secret is
 * read from a file, an environment variable or stdin — never from a flag value, which would land in
 * shell history — and is never printed; the API answers with a fingerprint only.
 */
export const PROVIDERS = ['gcp', 'openai', 'anthropic', 'deepseek'] as const;

export interface IntegrationView {
  readonly provider: string;
  readonly credential_name: string | null;
  readonly fingerprint: string | null;
  readonly config: Record<string, unknown>;
  readonly validation_status: string;
  readonly last_validated_at: string | null;
  readonly last_error: string | null;
}

interface SetupFlags extends ClientFlags {
  readonly credentialFile?: string;
  readonly credentialEnv?: string;
  readonly name?: string;
  readonly config?: Record<string, string>;
  readonly skipValidation?: boolean;
}

const providerArgument = (): Argument => new Argument('<provider>', 'the provider').choices(PROVIDERS);

export function registerIntegrationCommands(program: Command, ctx: Context): void {
  const integration = program.command('integration').description("the organization's provider credentials (stored encrypted, never shown)");

  clientOptions(
    integration
      .command('setup')
      .description('validate a credential with the provider, then store it encrypted')
      .addArgument(providerArgument())
      .option('--credential-file <path>', 'read the credential from this file (gcp: the service-account key JSON)')
      .option('--credential-env <VAR>', 'read the credential from this environment variable')
      .addOption(keyValueOption('--config <key=value>', 'non-secret setting, repeatable (gcp: billing_export_path=<org>/gcp/*.ndjson or billing_export_table=…; openai/anthropic: organization_id=…; deepseek: account_id=…, usage_log_path=…)'))
      .option('--name <name>', 'a name for the credential')
      .option('--skip-validation', 'store without asking the provider (status UNVERIFIED)')
      .addHelpText('after', '\nWithout --credential-file or --credential-env the credential is read from stdin (typed hidden on a terminal).'),
    { org: true },
  ).action(
    act(ctx, async (provider: string, opts: SetupFlags) => {
      const conn = ctx.connect(opts);
      const org = conn.org();
      conn.client.checkAuth('org'); // before asking for the secret
      const credential = await readCredential(ctx, provider, opts);
      const view = await conn.client.call<IntegrationView>('POST', `/api/v1/integrations/${encodeURIComponent(org)}/${provider}/setup`, {
        auth: 'org',
        body: {
          credential,
          ...(opts.name === undefined ? {} : { credential_name: opts.name }),
          ...(opts.config === undefined ? {} : { config: opts.config }),
          ...(opts.skipValidation === true ? { skip_validation: true } : {}),
        },
        signal: ctx.signal,
      });
      ctx.out.result(view, () => {
        ctx.out.print(`${provider} integration stored for ${org}: ${view.validation_status}`);
        printIntegrations(ctx.out, [view]);
      });
    }),
  );

  clientOptions(integration.command('validate').description('validate the stored credential with the provider again').addArgument(providerArgument()), { org: true }).action(
    act(ctx, async (provider: string, opts: ClientFlags) => {
      const conn = ctx.connect(opts);
      const view = await conn.client.call<IntegrationView>('POST', `/api/v1/integrations/${encodeURIComponent(conn.org())}/${provider}/validate`, { auth: 'org', signal: ctx.signal });
      ctx.out.result(view, () => printIntegrations(ctx.out, [view]));
      return view.validation_status === 'VALID' ? EXIT.OK : EXIT.FAILURE;
    }),
  );

  clientOptions(
    integration
      .command('list')
      .description("the organization's integrations: provider, name, fingerprint, settings, validation status — never the secret")
      .addArgument(new Argument('[provider]', 'only this provider').choices(PROVIDERS)),
    { org: true },
  ).action(
    act(ctx, async (provider: string | undefined, opts: ClientFlags) => {
      const conn = ctx.connect(opts);
      const org = encodeURIComponent(conn.org());
      if (provider !== undefined) {
        const view = await conn.client.call<IntegrationView>('GET', `/api/v1/integrations/${org}/${provider}`, { auth: 'org', signal: ctx.signal });
        ctx.out.result(view, () => printIntegrations(ctx.out, [view]));
        return;
      }
      const r = await conn.client.call<{ integrations: IntegrationView[] }>('GET', `/api/v1/integrations/${org}`, { auth: 'org', signal: ctx.signal });
      ctx.out.result(r, () => (r.integrations.length === 0 ? ctx.out.print('no integrations yet: convergence integration setup <provider> …') : printIntegrations(ctx.out, r.integrations)));
    }),
  );

  clientOptions(integration.command('remove').description('remove a stored credential').addArgument(providerArgument()), { org: true }).action(
    act(ctx, async (provider: string, opts: ClientFlags) => {
      const conn = ctx.connect(opts);
      const r = await conn.client.call<Record<string, unknown>>('DELETE', `/api/v1/integrations/${encodeURIComponent(conn.org())}/${provider}`, { auth: 'org', signal: ctx.signal });
      ctx.out.result(r, () => ctx.out.print(`${provider} integration removed`));
    }),
  );
}

export function printIntegrations(out: Output, views: readonly IntegrationView[]): void {
  out.table(
    ['provider', 'name', 'fingerprint', 'settings', 'status', 'validated', 'error'],
    views.map((v) => [
      v.provider,
      v.credential_name,
      v.fingerprint,
      Object.entries(v.config)
        .map(([k, x]) => `${k}=${String(x)}`)
        .join(' '),
      v.validation_status,
      v.last_validated_at?.replace('T', ' ').slice(0, 19),
      v.last_error,
    ]),
  );
}

async function readCredential(ctx: Context, provider: string, opts: SetupFlags): Promise<string | Record<string, unknown>> {
  if (opts.credentialFile !== undefined && opts.credentialEnv !== undefined) throw usageError('give the credential with --credential-file or --credential-env, not both');
  let text: string;
  if (opts.credentialFile !== undefined) {
    try {
      text = fs.readFileSync(opts.credentialFile, 'utf8');
    } catch (e) {
      throw usageError(`cannot read --credential-file ${opts.credentialFile}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
  } else if (opts.credentialEnv !== undefined) {
    const value = ctx.env[opts.credentialEnv];
    if (value === undefined) throw usageError(`--credential-env: the environment variable ${opts.credentialEnv} is not set`);
    text = value;
  } else if (process.stdin.isTTY === true) {
    if (provider === 'gcp') throw usageError('a GCP service-account key is a JSON file: pass it with --credential-file key.json (or on stdin: < key.json)');
    text = await promptHidden(ctx, `${provider} credential (input hidden, Enter to finish): `);
  } else {
    text = await readStdin(ctx.signal);
  }
  text = text.trim();
  if (text === '') throw usageError('the credential is empty');
  if (provider === 'gcp' && text.startsWith('{')) {
    try {
      return JSON.parse(text) as Record<string, unknown>;
    } catch {
      // Sent as text: the server says what is wrong with it (without echoing it).
    }
  }
  return text;
}

async function readStdin(signal: AbortSignal): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) {
    if (signal.aborted) throw new CliError(EXIT.INTERRUPTED, 'interrupted');
    chunks.push(chunk as Buffer);
    if (chunks.reduce((n, c) => n + c.length, 0) > 64 * 1024) throw usageError('the credential on stdin is larger than 64 KiB');
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** One line from the terminal without echo. */
function promptHidden(ctx: Context, question: string): Promise<string> {
  const stdin = process.stdin;
  ctx.streams.stderr.write(question);
  return new Promise((resolve, reject) => {
    let value = '';
    const finish = (error?: CliError): void => {
      stdin.off('data', onData);
      stdin.setRawMode(false);
      stdin.pause();
      ctx.streams.stderr.write('\n');
      if (error === undefined) resolve(value);
      else reject(error);
    };
    const onData = (chunk: string): void => {
      for (const ch of chunk) {
        if (ch === '\r' || ch === '\n' || ch === '\u0004') return finish();
        if (ch === '\u0003') return finish(new CliError(EXIT.INTERRUPTED, 'interrupted'));
        if (ch === '\u007f' || ch === '\b') value = value.slice(0, -1);
        else value += ch;
      }
    };
    stdin.setEncoding('utf8');
    stdin.setRawMode(true);
    stdin.resume();
    stdin.on('data', onData);
  });
}
