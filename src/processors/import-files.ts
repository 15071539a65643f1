import fs from 'node:fs';
import readline from 'node:readline';
import type { Provider } from '../control-store/records.js';
import { StepError, type StepContext } from '../pipeline/processor.js';
import { ImportPathError, refuseForeignFolders, resolveImportFiles, type ImportFile } from '../providers/gcp.js';
import { providerStepError, type SourceDeps } from './source-deps.js';

/**
 * Files an org's integration points at under IMPORT_DIR (`billing_export_path`, `usage_log_path`):
 * resolved to real paths inside IMPORT_DIR, none in another organization's folder (checked on
 * every run: folders appear after setup too), at least one.
 */
export async function orgImportFiles(deps: SourceDeps, ctx: StepContext, provider: Provider, key: string): Promise<ImportFile[]> {
  try {
    const { config } = await deps.credentials.credentialFor(ctx.orgSlug, provider);
    const pattern = config[key];
    if (typeof pattern !== 'string') throw new StepError(`the ${provider} integration has no ${key} (files under IMPORT_DIR)`);
    const files = await resolveImportFiles(deps.clients.importDir, pattern);
    if (files.length === 0) throw new StepError(`${key} "${pattern}" matches no file under IMPORT_DIR`);
    await refuseForeignFolders(files, ctx.orgSlug, async (slug) => (await deps.controlStore.orgs.getProfile(slug)) !== undefined);
    return files;
  } catch (e) {
    if (e instanceof StepError) throw e;
    throw e instanceof ImportPathError ? new StepError(e.message) : providerStepError(e, provider);
  }
}

/**
 * An export file that does not parse fails the step for good, naming the file and the line
 * (found by reading the file: the engine's own line count is not reliable).
 */
export async function importReadError(e: unknown, files: readonly ImportFile[], what: string): Promise<unknown> {
  const message = e instanceof Error ? e.message : String(e);
  const m = /Malformed JSON in file "([^"]+)"/.exec(message) ?? /(?:JSON|Conversion|Invalid Input) Error.*?file "([^"]+)"/s.exec(message);
  if (m === null) {
    if (/is not a timestamp|Conversion Error|Could not convert|Malformed JSON/i.test(message)) return new StepError(`the ${what} could not be read: ${firstLine(message)}`);
    return providerStepError(e, 'import');
  }
  const file = files.find((f) => f.path === m[1] || m[1]?.endsWith(f.name)) ?? files.find((f) => message.includes(f.path));
  if (file === undefined) return new StepError(`the ${what} could not be read: ${firstLine(message)}`);
  const bad = await firstBadLine(file.path);
  return new StepError(
    bad === undefined
      ? `${what} file ${file.name} could not be read: ${firstLine(message)}`
      : `${what} file ${file.name}, line ${bad.line}: ${bad.reason}; nothing was loaded`,
  );
}

async function firstBadLine(file: string): Promise<{ line: number; reason: string } | undefined> {
  const lines = readline.createInterface({ input: fs.createReadStream(file, { encoding: 'utf8' }), crlfDelay: Infinity });
  let n = 0;
  try {
    for await (const text of lines) {
      n++;
      if (text.trim() === '') continue;
      try {
        const v: unknown = JSON.parse(text);
        if (typeof v !== 'object' || v === null || Array.isArray(v)) return { line: n, reason: 'not a JSON object' };
      } catch (err) {
        return { line: n, reason: `not valid JSON (${(err as Error).message.slice(0, 120)})` };
      }
    }
  } finally {
    lines.close();
  }
  return undefined;
}

const firstLine = (s: string): string => s.split('\n')[0]?.slice(0, 300) ?? '';
