import type { Config } from '../config/config.js';
import { openControlStore } from '../compose.js';
import { LocalKeyring } from '../crypto/local-keyring.js';
import { rewrapAllCredentials } from '../services/key-rotation-service.js';

/**
 * Re-wraps every credential's data key under a new key-encryption key (`npm run keys:rotate`,
 * `convergence keys rotate`):
 *
 * - With the generated key file (no CONVERGENCE_MASTER_KEY): a new KEK is added to
 *   {dataDir}/master-keys.json, every data key is re-wrapped under it, and the old KEKs are retired
 *   once nothing needs them (`keepOld` keeps them).
 * - With CONVERGENCE_MASTER_KEY: set it to the new key and CONVERGENCE_PREVIOUS_MASTER_KEYS to the
 *   old one(s), run this, then drop CONVERGENCE_PREVIOUS_MASTER_KEYS.
 *
 * Embedded mode: run it while the service is stopped. Answers 0 done, 1 some credentials could not
 * be re-wrapped (listed; nothing retired).
 */
export async function rotateKeyEncryptionKeys(config: Config, keepOld: boolean, print: (line: string) => void): Promise<number> {
  const usesFile = config.masterKey === undefined;
  // The database first: while the service holds it, nothing (not even the key file) changes.
  const { store, close } = await openControlStore(config);
  try {
    if (usesFile) {
      const { previous, current } = await LocalKeyring.rotateKeyFile(config.dataDir);
      print(`key file: new key-encryption key ${current} (was ${previous})`);
    }
    const keyring = await LocalKeyring.load({ masterKey: config.masterKey, previousMasterKeys: [...config.previousMasterKeys], dataDir: config.dataDir, environment: config.environment });
    const report = await rewrapAllCredentials(store, keyring);
    print(
      `credentials: ${report.checked} checked, ${report.rewrapped} re-wrapped, ${report.already_current} already current, ${report.changed_meanwhile} changed meanwhile, ${report.failed.length} failed`,
    );
    for (const f of report.failed) print(`  failed: ${f.org_slug}/${f.provider} (${f.credential_id}): ${f.error}`);
    if (report.failed.length > 0) {
      print('old keys kept: fix or set up the failed credentials again, then run this again');
      return 1;
    }
    if (usesFile && !keepOld) {
      const { removed } = await LocalKeyring.retireKeys(config.dataDir, [keyring.currentVersion]);
      print(`retired: ${removed.length === 0 ? 'none' : removed.join(', ')}`);
    } else if (!usesFile && config.previousMasterKeys.length > 0) {
      print('done: CONVERGENCE_PREVIOUS_MASTER_KEYS can now be removed');
    }
    return 0;
  } finally {
    await close();
  }
}
