import fs from 'node:fs';
import readline from 'node:readline';
import zlib from 'node:zlib';
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

/** Top-level REQUIRED columns of a file schema (checked per row by the reader). */
export const requiredColumns = (fields: readonly { name: string; mode: string }[]): string[] => fields.filter((f) => f.mode === 'REQUIRED').map((f) => f.name);

/**
 * An export file that does not read fails the step for good (retrying will not change the file),
 * naming the file and the line — found by reading the file, since the engine's own line count is
 * not reliable — or at least the file.
 */
export async function importReadError(e: unknown, files: readonly ImportFile[], what: string, required: readonly string[] = []): Promise<unknown> {
  const message = e instanceof Error ? e.message : String(e);
  const m = /Malformed JSON in file "([^"]+)"/.exec(message) ?? /(?:JSON|Conversion|Invalid Input) Error.*?file "([^"]+)"/s.exec(message);
  if (m === null) {
    if (/is not a timestamp|Conversion Error|Could not convert|Malformed JSON|Constraint Error|Invalid Input Error|out of range/i.test(message)) {
      return new StepError(`the ${what} could not be read (${files.length === 1 ? files[0]?.name : `${files.length} files`}): ${firstLine(message)}`);
    }
    return providerStepError(e, 'import');
  }
  const file = files.find((f) => f.path === m[1] || m[1]?.endsWith(f.name)) ?? files.find((f) => message.includes(f.path));
  if (file === undefined) return new StepError(`the ${what} could not be read: ${firstLine(message)}`);
  const bad = file.format === 'ndjson' ? await firstBadLine(file.path, required) : undefined;
  return new StepError(
    bad === undefined
      ? `${what} file ${file.name} could not be read: ${firstLine(message).replace(/^.*?Error: /, '')}`
      : `${what} file ${file.name}, line ${bad.line}: ${bad.reason}; nothing was loaded`,
  );
}

/** The first line that is not a JSON object with every required field; gzip files are read through gunzip. */
async function firstBadLine(file: string, required: readonly string[]): Promise<{ line: number; reason: string } | undefined> {
  const raw = fs.createReadStream(file);
  const input = file.toLowerCase().endsWith('.gz') ? raw.pipe(zlib.createGunzip()) : raw;
  input.setEncoding('utf8');
  const lines = readline.createInterface({ input, crlfDelay: Infinity });
  let n = 0;
  try {
    for await (const text of lines) {
      n++;
      if (n === 1 && text.startsWith('\uFEFF')) return { line: 1, reason: 'the file starts with a UTF-8 byte-order mark (BOM), which the reader does not accept; save it without one' };
      if (text.trim() === '') continue;
      let v: unknown;
      try {
        v = JSON.parse(text);
      } catch (err) {
        return { line: n, reason: `not valid JSON (${(err as Error).message.slice(0, 120)})` };
      }
      if (typeof v !== 'object' || v === null || Array.isArray(v)) return { line: n, reason: 'not a JSON object' };
      const missing = required.filter((k) => (v as Record<string, unknown>)[k] === undefined || (v as Record<string, unknown>)[k] === null);
      if (missing.length > 0) return { line: n, reason: `the row has no ${missing.join(', ')}` };
    }
  } catch {
    return undefined;
  } finally {
    lines.close();
    raw.destroy();
  }
  return undefined;
}

const firstLine = (s: string): string => s.split('\n')[0]?.slice(0, 300) ?? '';
