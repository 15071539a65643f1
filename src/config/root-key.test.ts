import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig } from './config.js';
import { resolveRootKey, ROOT_KEY_FILE } from './root-key.js';

let tmp: string;
beforeEach(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'convergence-root-key-'));
});
afterEach(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
});

const configWith = (env: Record<string, string>) => loadConfig({ CONVERGENCE_DATA_DIR: path.join(tmp, 'data'), ...env }, tmp);

describe('resolveRootKey', () => {
  it('the environment key wins and nothing is written', () => {
    const config = configWith({ CA_ROOT_API_KEY: 'env-root-key-0123456789abcdefghijkl' });
    expect(resolveRootKey(config)).toEqual({ key: 'env-root-key-0123456789abcdefghijkl', source: 'environment' });
    expect(fs.existsSync(config.dataDir)).toBe(false);
  });

  it('the environment key wins over an existing key file', () => {
    const config = configWith({ CA_ROOT_API_KEY: 'e'.repeat(40) });
    fs.mkdirSync(config.dataDir, { recursive: true });
    fs.writeFileSync(path.join(config.dataDir, ROOT_KEY_FILE), `${'f'.repeat(40)}\n`);
    expect(resolveRootKey(config)).toEqual({ key: 'e'.repeat(40), source: 'environment' });
  });

  it('without a key, generates one in the data dir (mode 0600), then reads it back', () => {
    const config = configWith({});
    const file = path.join(config.dataDir, ROOT_KEY_FILE);

    const first = resolveRootKey(config);
    expect(first.source).toBe('generated');
    expect(first.file).toBe(file);
    expect(first.key.length).toBeGreaterThanOrEqual(32);
    expect(first.key).toMatch(/^ca_root_[0-9A-Za-z]{40}$/);
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    expect(fs.readFileSync(file, 'utf8')).toBe(`${first.key}\n`);

    const second = resolveRootKey(config);
    expect(second).toEqual({ key: first.key, source: 'file', file });
  });

  it('an existing key file is read (trimmed) and not rewritten', () => {
    const config = configWith({});
    const file = path.join(config.dataDir, ROOT_KEY_FILE);
    fs.mkdirSync(config.dataDir, { recursive: true });
    const key = 'x'.repeat(32);
    fs.writeFileSync(file, `  ${key}\n\n`, { mode: 0o600 });
    expect(resolveRootKey(config)).toEqual({ key, source: 'file', file });
    expect(fs.readFileSync(file, 'utf8')).toBe(`  ${key}\n\n`);
  });

  it('generated keys differ between data dirs', () => {
    const a = resolveRootKey(loadConfig({ CONVERGENCE_DATA_DIR: path.join(tmp, 'a') }, tmp));
    const b = resolveRootKey(loadConfig({ CONVERGENCE_DATA_DIR: path.join(tmp, 'b') }, tmp));
    expect(a.source).toBe('generated');
    expect(b.source).toBe('generated');
    expect(a.key).not.toBe(b.key);
  });

  // Regression: a key file shorter than 32 characters (empty, truncated, hand-edited) used to make
  // resolveRootKey recurse until the stack overflowed. It must be refused clearly, never replaced.
  it('a short key file is refused with a clear error and left in place', () => {
    const config = configWith({});
    fs.mkdirSync(config.dataDir, { recursive: true });
    const file = path.join(config.dataDir, ROOT_KEY_FILE);
    fs.writeFileSync(file, 'short\n', { mode: 0o600 });
    expect(() => resolveRootKey(config)).toThrow(/shorter than 32 characters/);
    expect(fs.readFileSync(file, 'utf8')).toBe('short\n');
  });
});
