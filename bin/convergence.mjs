#!/usr/bin/env node
// The `convergence` command: runs the built CLI (dist/cli/main.js) when there is one, else the
// TypeScript source through tsx (a dev dependency), so `npx convergence …` works on a fresh
// checkout after `npm ci`. CONVERGENCE_CLI_FROM_SOURCE=1 always runs the source (tests, development).
// The environment is handed to the CLI here: nothing under src/ reads process.env itself.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const built = path.join(root, 'dist', 'cli', 'main.js');
const source = path.join(root, 'src', 'cli', 'main.ts');

async function load() {
  if (process.env.CONVERGENCE_CLI_FROM_SOURCE !== '1' && fs.existsSync(built)) return import(pathToFileURL(built).href);
  try {
    const { register } = await import('tsx/esm/api');
    register();
  } catch {
    process.stderr.write('convergence: not built and tsx is not installed: run `npm ci` (or `npm run build`) first\n');
    process.exit(1);
  }
  return import(pathToFileURL(source).href);
}

const { main } = await load();
const code = await main(process.argv.slice(2), process.env);
process.exit(code);
