import fs from 'node:fs';
import path from 'node:path';
import { Type } from '@sinclair/typebox';
import type { ConfigCheckContext } from '../pipeline/processor.js';
import { StepError } from '../pipeline/processor.js';
import { loadTableSchemaFile, type TableSchema } from '../schema/table-schema.js';

/** Config key naming a JSON table schema under configs/. */
export const SchemaFileOption = (description = 'JSON table schema, relative to configs/ (or to the pipeline file with ./)') =>
  Type.String({ pattern: '^[A-Za-z0-9_./-]+\\.json$', description });

/**
 * Table schema files named by step configs, relative to configs/ (or `./` for the pipeline's own
 * folder), never outside it; parsed once per file.
 */
export class SchemaFiles {
  private readonly cache = new Map<string, TableSchema>();

  resolve(file: string, ctx: ConfigCheckContext): string {
    const base = file.startsWith('./') ? ctx.pipelineDir : ctx.configsDir;
    const resolved = path.resolve(base, file);
    if (!resolved.startsWith(path.resolve(ctx.configsDir) + path.sep)) throw new StepError(`schema ${file} is outside configs/`);
    return resolved;
  }

  load(file: string, ctx: ConfigCheckContext): TableSchema {
    const resolved = this.resolve(file, ctx);
    let s = this.cache.get(resolved);
    if (s === undefined) {
      s = loadTableSchemaFile(resolved);
      this.cache.set(resolved, s);
    }
    return s;
  }

  /** For Processor.checkConfig: the problem with `file`, if any. */
  check(file: string | undefined, key: string, ctx: ConfigCheckContext): string | undefined {
    if (file === undefined) return undefined;
    try {
      if (!fs.existsSync(this.resolve(file, ctx))) return `${key}: file ${file} does not exist`;
      this.load(file, ctx);
    } catch (e) {
      return `${key}: ${(e as Error).message}`;
    }
    return undefined;
  }
}
