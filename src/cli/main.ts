import { CommanderError } from 'commander';
import type { Env } from './client.js';
import { Context } from './context.js';
import { CliError, EXIT } from './errors.js';
import type { Streams } from './output.js';
import { buildProgram } from './program.js';

/**
 * `convergence`: the operator's command line (docs/cli.md). bin/convergence.mjs calls `main` with
 * the arguments and the environment and exits with the code it answers.
 */
export async function main(argv: readonly string[], env: Env, streams: Streams = { stdout: process.stdout, stderr: process.stderr }): Promise<number> {
  const ctx = new Context(env, process.cwd(), streams);
  let interrupts = 0;
  const onSigint = (): void => {
    if (ctx.signalsTakenOver) return;
    interrupts += 1;
    if (interrupts > 1) process.exit(EXIT.INTERRUPTED);
    ctx.fireInterrupt();
    // Commands stop on the signal; one that does not within a moment is left behind.
    setTimeout(() => {
      streams.stderr.write('interrupted\n');
      process.exit(EXIT.INTERRUPTED);
    }, 5000).unref();
  };
  process.on('SIGINT', onSigint);
  const program = buildProgram(ctx);
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return ctx.exitCode;
  } catch (e) {
    return report(e, ctx);
  } finally {
    process.off('SIGINT', onSigint);
    await ctx.out.flush();
  }
}

function report(e: unknown, ctx: Context): number {
  const out = ctx.out;
  if (e instanceof CommanderError) {
    // Commander printed its message (or the help) already.
    if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version') return EXIT.OK;
    return EXIT.USAGE;
  }
  if (e instanceof CliError) {
    if (e.exitCode === EXIT.INTERRUPTED) out.note(e.message);
    else out.error(e.message);
    for (const h of e.hints) out.note(`  ${h}`);
    out.data({ error: e.problem ?? { code: e.exitCode === EXIT.INTERRUPTED ? 'INTERRUPTED' : 'CLI_ERROR', detail: e.message, exit_code: e.exitCode } });
    return e.exitCode;
  }
  // Not expected: still no stack trace unless asked for.
  out.error(`unexpected: ${e instanceof Error ? e.message : String(e)}`);
  if (ctx.env.CONVERGENCE_DEBUG === '1' && e instanceof Error && e.stack !== undefined) out.note(e.stack);
  else out.note('  set CONVERGENCE_DEBUG=1 for the stack trace');
  return EXIT.FAILURE;
}
