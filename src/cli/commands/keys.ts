import type { Command } from 'commander';
import { act, type Context } from '../context.js';
import { CliError, EXIT } from '../errors.js';
import { serviceConfig } from '../service.js';

/** `keys rotate`: the maintenance command of `npm run keys:rotate`, on the same code. */
export function registerKeysCommands(program: Command, ctx: Context): void {
  const keys = program.command('keys').description('maintenance of the key-encryption keys that protect stored credentials');
  keys
    .command('rotate')
    .description('re-wrap every credential under a new key-encryption key (embedded mode: stop the service first)')
    .option('--keep-old', 'keep the previous keys in the key file')
    .option('--data-dir <dir>', 'the service data directory (env CONVERGENCE_DATA_DIR; default ./data)')
    .addHelpText(
      'after',
      '\nWith CONVERGENCE_MASTER_KEY: set it to the new key and CONVERGENCE_PREVIOUS_MASTER_KEYS to the old one(s),\nrun this, then drop CONVERGENCE_PREVIOUS_MASTER_KEYS. Exit 1: some credentials could not be re-wrapped (listed).',
    )
    .action(
      act(ctx, async (opts: { keepOld?: boolean; dataDir?: string }) => {
        const config = serviceConfig(ctx, opts.dataDir === undefined ? {} : { dataDir: opts.dataDir });
        const { rotateKeyEncryptionKeys } = await import('../key-rotation.js');
        try {
          return await rotateKeyEncryptionKeys(config, opts.keepOld === true, (line) => ctx.out.print(line));
        } catch (e) {
          throw new CliError(e instanceof Error && e.name === 'KeyringError' ? EXIT.CONFIG : EXIT.FAILURE, `keys rotate: ${e instanceof Error ? e.message : String(e)}`);
        }
      }),
    );
}
