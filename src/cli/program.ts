import { Command } from 'commander';
import { registerAdminCommands } from './commands/admin.js';
import { registerDemoCommand } from './commands/demo.js';
import { registerGenerateCommands } from './commands/generate.js';
import { registerIntegrationCommands } from './commands/integration.js';
import { registerKeysCommands } from './commands/keys.js';
import { registerRunCommands } from './commands/runs.js';
import { registerScheduleCommands } from './commands/schedule.js';
import { registerServeCommand } from './commands/serve.js';
import { registerValidateCommand } from './commands/validate.js';
import type { Context } from './context.js';
import { CLI_VERSION } from './version.js';

/** The command tree. Settings made here (errors, output) are inherited by every subcommand created after them. */
export function buildProgram(ctx: Context): Command {
  const program = new Command('convergence')
    .description('Convergence: multi-tenant cost-pipeline service — operate it from the command line')
    .version(CLI_VERSION, '-V, --version')
    .exitOverride()
    .configureOutput({
      writeOut: (s) => ctx.streams.stdout.write(s),
      writeErr: (s) => ctx.streams.stderr.write(s),
    })
    .showHelpAfterError('(add --help for usage)')
    .showSuggestionAfterError(true)
    .addHelpText(
      'after',
      `
Client commands talk to the HTTP API at CONVERGENCE_URL (default http://127.0.0.1:8080) with the
organization key in CONVERGENCE_API_KEY and the root key in CA_ROOT_API_KEY (or --api-key/--root-key).

Exit codes: 0 ok, 1 failure reported by the server or a run that did not succeed, 2 usage error,
3 server unreachable, 4 authentication refused, 130 interrupted (Ctrl-C). See docs/cli.md.`,
    );
  program.hook('preAction', (_program, actionCommand) => {
    ctx.json = actionCommand.opts<{ json?: boolean }>().json === true;
  });
  registerServeCommand(program, ctx);
  registerAdminCommands(program, ctx);
  registerIntegrationCommands(program, ctx);
  registerRunCommands(program, ctx);
  registerScheduleCommands(program, ctx);
  registerValidateCommand(program, ctx);
  registerGenerateCommands(program, ctx);
  registerDemoCommand(program, ctx);
  registerKeysCommands(program, ctx);
  return program;
}
