import { loadConfig } from '../config/config.js';
import { openControlStore } from '../compose.js';
import { LocalKeyring } from '../crypto/local-keyring.js';
import { rewrapAllCredentials } from '../services/key-rotation-service.js';

/**
 * `npm run keys:rotate`: re-wraps every credential's data key under a new key-encryption key.
 *
 * - With the generated key file (no CONVERGENCE_MASTER_KEY): a new KEK is added to
 *   {dataDir}/master-keys.json, every data key is re-wrapped under it, and the old KEKs are retired
 *   once nothing needs them (`--keep-old` keeps them).
 * - With CONVERGENCE_MASTER_KEY: set it to the new key and CONVERGENCE_PREVIOUS_MASTER_KEYS to the
 *   old one(s), run this, then drop CONVERGENCE_PREVIOUS_MASTER_KEYS.
 *
 * Embedded mode: run it while the service is stopped. Exit codes: 0 done, 1 some credentials
 * could not be re-wrapped (listed; nothing retired), 78 configuration problem.
 */
async function main(argv: readonly string[]): Promise<number> {
  const keepOld = argv.includes('--keep-old');
  if (argv.some((a) => a !== '--keep-old')) {
    process.stderr.write('usage: npm run keys:rotate [-- --keep-old]\n');
    return 2;
  }
  const config = loadConfig();
  const usesFile = config.masterKey === undefined;
  // The database first: while the service holds it, nothing (not even the key file) changes.
  const { store, close } = await openControlStore(config);
  try {
    if (usesFile) {
      const { previous, current } = await LocalKeyring.rotateKeyFile(config.dataDir);
      process.stdout.write(`key file: new key-encryption key ${current} (was ${previous})\n`);
    }
    const keyring = await LocalKeyring.load({ masterKey: config.masterKey, previousMasterKeys: [...config.previousMasterKeys], dataDir: config.dataDir, environment: config.environment });
    const report = await rewrapAllCredentials(store, keyring);
    process.stdout.write(
      `credentials: ${report.checked} checked, ${report.rewrapped} re-wrapped, ${report.already_current} already current, ${report.changed_meanwhile} changed meanwhile, ${report.failed.length} failed\n`,
    );
    for (const f of report.failed) process.stdout.write(`  failed: ${f.org_slug}/${f.provider} (${f.credential_id}): ${f.error}\n`);
    if (report.failed.length > 0) {
      process.stdout.write('old keys kept: fix or set up the failed credentials again, then run this again\n');
      return 1;
    }
    if (usesFile && !keepOld) {
      const { removed } = await LocalKeyring.retireKeys(config.dataDir, [keyring.currentVersion]);
      process.stdout.write(`retired: ${removed.length === 0 ? 'none' : removed.join(', ')}\n`);
    } else if (!usesFile && config.previousMasterKeys.length > 0) {
      process.stdout.write('done: CONVERGENCE_PREVIOUS_MASTER_KEYS can now be removed\n');
    }
    return 0;
  } finally {
    await close();
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(`keys:rotate: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(e instanceof Error && (e.name === 'ConfigError' || e.name === 'KeyringError') ? 78 : 1);
  },
);
