import { loadConfig } from '../config/config.js';
import { rotateKeyEncryptionKeys } from './key-rotation.js';

/**
 * `npm run keys:rotate`: re-wraps every credential's data key under a new key-encryption key (see
 * key-rotation.ts; also `convergence keys rotate`). Embedded mode: run it while the service is
 * stopped. Exit codes: 0 done, 1 some credentials could not be re-wrapped (listed; nothing
 * retired), 78 configuration problem.
 */
async function main(argv: readonly string[]): Promise<number> {
  const keepOld = argv.includes('--keep-old');
  if (argv.some((a) => a !== '--keep-old')) {
    process.stderr.write('usage: npm run keys:rotate [-- --keep-old]\n');
    return 2;
  }
  return rotateKeyEncryptionKeys(loadConfig(), keepOld, (line) => process.stdout.write(`${line}\n`));
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(`keys:rotate: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(e instanceof Error && (e.name === 'ConfigError' || e.name === 'KeyringError') ? 78 : 1);
  },
);
