import fs from 'node:fs';
import path from 'node:path';
import { randomBase62 } from '../crypto/random.js';
import { ConfigError, type Config } from './config.js';

export const ROOT_KEY_FILE = 'root-api-key';

export interface ResolvedRootKey {
  readonly key: string;
  /** Where it came from; `generated` means it was just created and must be shown once. */
  readonly source: 'environment' | 'file' | 'generated';
  readonly file?: string;
}

/**
 * The root key comes from CA_ROOT_API_KEY. In development, when unset, it is read from
 * {dataDir}/root-api-key, generated there (mode 0600) on first start.
 * `loadConfig` already refused non-development environments without a strong key.
 */
export function resolveRootKey(config: Config): ResolvedRootKey {
  if (config.rootApiKey !== undefined) return { key: config.rootApiKey, source: 'environment' };
  const file = path.join(config.dataDir, ROOT_KEY_FILE);
  fs.mkdirSync(config.dataDir, { recursive: true });
  try {
    const key = fs.readFileSync(file, 'utf8').trim();
    if (key.length >= 32) return { key, source: 'file', file };
    // Never silently replace a key the operator may have handed out.
    throw new ConfigError(`${file} holds a root key shorter than 32 characters; delete the file to generate a new one, or set CA_ROOT_API_KEY`);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  const key = `ca_root_${randomBase62(40)}`;
  // 'wx' fails if another process created the file meanwhile; then we read theirs.
  try {
    fs.writeFileSync(file, `${key}\n`, { mode: 0o600, flag: 'wx' });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return resolveRootKey(config);
    throw e;
  }
  return { key, source: 'generated', file };
}
