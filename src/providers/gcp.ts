import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { glob } from 'tinyglobby';

/**
 * Google Cloud: the org's service-account key (checked for structure; it is used against BigQuery
 * in production mode) and the billing source: a BigQuery export table, or in embedded mode export
 * files under IMPORT_DIR.
 */
export interface ServiceAccount {
  readonly project_id: string;
  readonly client_email: string;
  readonly private_key_id: string;
  /** The JSON text to encrypt (normalized). */
  readonly json: string;
}

export class CredentialFormatError extends Error {
  override name = 'CredentialFormatError';
}

/** A service-account key file as Google issues it; messages never include the private key. */
export function parseServiceAccount(input: unknown): ServiceAccount {
  let value = input;
  if (typeof input === 'string') {
    try {
      value = JSON.parse(input);
    } catch {
      throw new CredentialFormatError('the GCP credential must be a service-account key (JSON object or JSON text); this is not JSON');
    }
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new CredentialFormatError('the GCP credential must be a service-account key JSON object');
  const sa = value as Record<string, unknown>;
  if (sa.type !== 'service_account') throw new CredentialFormatError(`"type" must be "service_account" (got ${typeof sa.type === 'string' ? JSON.stringify(sa.type.slice(0, 40)) : 'none'})`);
  const text = (key: string, pattern: RegExp, what: string): string => {
    const v = sa[key];
    if (typeof v !== 'string' || !pattern.test(v)) throw new CredentialFormatError(`"${key}" is missing or not ${what}`);
    return v;
  };
  const project_id = text('project_id', /^[a-z][a-z0-9-]{4,28}[a-z0-9]$|^[a-z0-9.:-]{1,100}$/, 'a GCP project id');
  const client_email = text('client_email', /^[^@\s]{1,200}@[A-Za-z0-9.-]{1,200}$/, 'an email address');
  const private_key_id = text('private_key_id', /^[A-Za-z0-9]{8,100}$/, 'a key id');
  text('token_uri', /^https:\/\/\S+$/, 'an https URL');
  const pem = text('private_key', /-----BEGIN PRIVATE KEY-----/, 'a PEM private key');
  try {
    const key = crypto.createPrivateKey(pem);
    if (key.asymmetricKeyType !== 'rsa') throw new Error('not RSA');
  } catch {
    throw new CredentialFormatError('"private_key" is not a readable RSA private key');
  }
  return { project_id, client_email, private_key_id, json: JSON.stringify(sa) };
}

/** `project.dataset.gcp_billing_export_v1_XXXX` (standard) or `…_resource_v1_…` (detailed). */
export const BILLING_EXPORT_TABLE = /^[a-z][a-z0-9-]{4,28}[a-z0-9]\.[A-Za-z0-9_]{1,1024}\.gcp_billing_export_(resource_)?v1_[A-Za-z0-9_]{1,100}$/;

/**
 * A path or glob relative to IMPORT_DIR: no absolute paths, no `..`, no backslashes, only
 * characters a glob needs. (Checked again against the real paths of what it matches.)
 */
export const IMPORT_PATTERN = /^(?![/~])(?!.*(^|\/)\.\.(\/|$))[A-Za-z0-9_.*?\-/[\]{},]{1,500}$/;

export class ImportPathError extends Error {
  override name = 'ImportPathError';
}

export const EXPORT_FILE_FORMATS = { '.ndjson': 'ndjson', '.json': 'ndjson', '.jsonl': 'ndjson', '.parquet': 'parquet' } as const;
export type ExportFileFormat = (typeof EXPORT_FILE_FORMATS)[keyof typeof EXPORT_FILE_FORMATS];
/** BigQuery's GZIP extracts of NDJSON (`.json.gz`); DuckDB decompresses by the extension. */
const GZIP = '.gz';

/** The format of an export file by its extension (`x.json.gz` is gzipped NDJSON), and its stem. */
function formatOf(file: string): { format: ExportFileFormat; stem: string } | undefined {
  const name = file.toLowerCase();
  const inner = name.endsWith(GZIP) ? name.slice(0, -GZIP.length) : name;
  const ext = path.extname(inner) as keyof typeof EXPORT_FILE_FORMATS;
  const format = EXPORT_FILE_FORMATS[ext];
  if (format === undefined || (format === 'parquet' && inner !== name)) return undefined;
  return { format, stem: inner.slice(0, -ext.length) };
}

export interface ImportFile {
  readonly path: string;
  /** Relative to IMPORT_DIR, for messages. */
  readonly name: string;
  readonly format: ExportFileFormat;
}

/** The files `pattern` matches under `importDir`, each proven to lie inside it; sorted. */
export async function resolveImportFiles(importDir: string, pattern: string): Promise<ImportFile[]> {
  if (!IMPORT_PATTERN.test(pattern)) {
    throw new ImportPathError(`billing_export_path "${pattern.slice(0, 200)}" must be a path or glob relative to IMPORT_DIR (no absolute paths, no "..")`);
  }
  let root: string;
  try {
    root = fs.realpathSync(importDir);
  } catch {
    throw new ImportPathError('the import directory (IMPORT_DIR) does not exist on this server');
  }
  const matches = await glob(pattern, { cwd: root, absolute: true, onlyFiles: true, followSymbolicLinks: false, dot: false, expandDirectories: false });
  const files: ImportFile[] = [];
  const stems = new Map<string, string>();
  for (const m of matches.sort()) {
    const real = fs.realpathSync(m);
    // A symbolic link pointing out of the import directory is not followed.
    if (!real.startsWith(root + path.sep)) throw new ImportPathError(`billing_export_path matches ${path.relative(root, m)}, which leads outside IMPORT_DIR`);
    const name = path.relative(root, real);
    const kind = formatOf(real);
    if (kind === undefined) throw new ImportPathError(`${name} is not an export file (.ndjson, .jsonl, .json, their .gz, or .parquet)`);
    // The same extract in two formats (day.ndjson and day.parquet) would be read, and counted, twice.
    const twin = stems.get(path.join(path.dirname(name), kind.stem));
    if (twin !== undefined) throw new ImportPathError(`the pattern matches both ${twin} and ${name}, the same extract in two formats; match only one of them`);
    stems.set(path.join(path.dirname(name), kind.stem), name);
    files.push({ path: real, name, format: kind.format });
  }
  return files;
}

/**
 * IMPORT_DIR is shared by the organizations of an embedded server; a top-level folder named after
 * an organization is that organization's. Refuses files in another one's folder, whatever pattern
 * (glob, `./`, braces) reached them.
 */
export async function refuseForeignFolders(files: readonly ImportFile[], orgSlug: string, isOrganization: (slug: string) => Promise<boolean>): Promise<void> {
  const folders = new Set(files.map((f) => f.name.split(path.sep)).filter((parts) => parts.length > 1).map((parts) => parts[0] as string));
  for (const folder of folders) {
    if (folder !== orgSlug && (await isOrganization(folder))) {
      throw new ImportPathError(`billing_export_path matches files in ${folder}/, the folder of another organization`);
    }
  }
}
