import type { Command } from 'commander';
import { act, type Context } from '../context.js';
import { integerOption } from '../options.js';
import { serve } from '../service.js';

/** `serve`: the service in this process, as `npm start` runs it (configuration from the environment). */
export function registerServeCommand(program: Command, ctx: Context): void {
  program
    .command('serve')
    .description('start the service in this process (like npm start); configuration from the environment (README: Configuration)')
    .addOption(integerOption('--port <port>', 'listen on this port (env PORT; default 8080; 0 picks a free one)', 0, 65535))
    .option('--host <host>', 'listen on this address (env HOST; default 127.0.0.1 in development)')
    .option('--data-dir <dir>', 'DuckDB file and generated keys (env CONVERGENCE_DATA_DIR; default ./data)')
    .option('--import-dir <dir>', 'where the embedded GCP billing source reads export files (env IMPORT_DIR; default ./import)')
    .addHelpText('after', '\nStops in order on Ctrl-C or SIGTERM (exit 0). Exit 78: configuration error.')
    .action(act(ctx, async (opts: { port?: number; host?: string; dataDir?: string; importDir?: string }) => serve(ctx, opts)));
}
