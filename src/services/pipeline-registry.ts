import fs from 'node:fs';
import path from 'node:path';
import type { ControlStore } from '../control-store/control-store.js';
import { AppError } from '../core/errors.js';
import { sha256Hex } from '../crypto/api-keys.js';
import type { ProcessorCatalog } from '../pipeline/processor.js';
import { loadPipelineFile, parsePipeline, PipelineSpecError, type PipelineSpec } from '../pipeline/spec.js';

/**
 * Where pipelines come from: the built-in files `configs/{provider}/{domain}/{pipeline}.yml`,
 * loaded and validated once at start (a broken file stops the start, not a run), and an org's own
 * stored configs, addressed as `custom/configs/{config_id}` and validated on upload.
 */
export const PATH_SEGMENT = /^[a-z0-9][a-z0-9_-]{0,63}$/;
export const CUSTOM_PROVIDER = 'custom';
export const CUSTOM_DOMAIN = 'configs';
/** Folders of configs/ that hold no runnable pipelines. */
const NOT_PIPELINES = new Set(['setup', 'system', CUSTOM_PROVIDER]);
const PARSED_CACHE_LIMIT = 1000;
/** ps_type prefix reserved to the platform's own setup pipelines. */
const PLATFORM_ONLY = 'setup.';

export interface ResolvedPipeline {
  readonly spec: PipelineSpec;
  /** `provider/domain/pipeline`, as recorded with the run. */
  readonly path: string;
  readonly source: 'builtin' | 'custom';
  readonly version?: number;
}

export class PipelineRegistry {
  private readonly builtins = new Map<string, PipelineSpec>();
  /** Parsed org configs by org, id and version. */
  private readonly parsed = new Map<string, PipelineSpec>();

  constructor(
    private readonly configsDir: string,
    private readonly catalog: ProcessorCatalog,
    private readonly store: ControlStore,
  ) {
    for (const provider of subdirs(configsDir).filter((d) => !NOT_PIPELINES.has(d))) {
      for (const domain of subdirs(path.join(configsDir, provider))) {
        for (const file of fs.readdirSync(path.join(configsDir, provider, domain))) {
          const m = /^(.+)\.ya?ml$/.exec(file);
          if (m === null || !PATH_SEGMENT.test(provider) || !PATH_SEGMENT.test(domain) || !PATH_SEGMENT.test(m[1] as string)) continue;
          const spec = loadPipelineFile(path.join(configsDir, provider, domain, file), { catalog, configsDir });
          this.refusePlatformSteps(spec);
          this.builtins.set(`${provider}/${domain}/${m[1]}`, spec);
        }
      }
    }
  }

  /** Built-in pipelines by path, sorted. */
  listBuiltins(): { path: string; spec: PipelineSpec }[] {
    return [...this.builtins.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([p, spec]) => ({ path: p, spec }));
  }

  /** The pipeline a run route names; 404 for anything that is not one (including `..` and other orgs' configs). */
  async resolve(orgSlug: string, provider: string, domain: string, pipeline: string): Promise<ResolvedPipeline> {
    const shown = `${provider}/${domain}/${pipeline}`;
    const notFound = (): AppError => new AppError('PIPELINE_NOT_FOUND', `no pipeline ${shown.slice(0, 200)}`);
    if (![provider, domain, pipeline].every((s) => PATH_SEGMENT.test(s))) throw notFound();
    if (provider === CUSTOM_PROVIDER && domain === CUSTOM_DOMAIN) {
      const record = await this.store.configs.get(orgSlug, pipeline);
      if (record === undefined) throw notFound();
      // Every queued run loads its pipeline: a parse is reused while the stored text is the same (the
      // hash, not just the version, keys it: a purged org's slug and config ids can come back).
      const key = `${orgSlug}/${pipeline}/${record.version}/${sha256Hex(record.yaml)}`;
      let spec = this.parsed.get(key);
      if (spec === undefined) {
        spec = this.parseOrgConfig(record.yaml, pipeline);
        if (this.parsed.size >= PARSED_CACHE_LIMIT) this.parsed.clear();
        this.parsed.set(key, spec);
      }
      return { spec, path: shown, source: 'custom', version: record.version };
    }
    const spec = this.builtins.get(shown);
    if (spec === undefined) throw notFound();
    return { spec, path: shown, source: 'builtin' };
  }

  /** Validates an org's pipeline YAML: 422 INVALID_PIPELINE naming the problem. */
  parseOrgConfig(yaml: string, configId: string): PipelineSpec {
    try {
      // Relative file references of an org's config resolve under configs/custom, which holds nothing.
      const spec = parsePipeline(yaml, `config ${configId}`, { catalog: this.catalog, configsDir: this.configsDir, dir: path.join(this.configsDir, CUSTOM_PROVIDER) });
      this.refusePlatformSteps(spec);
      return spec;
    } catch (e) {
      if (e instanceof PipelineSpecError) throw new AppError('INVALID_PIPELINE', e.message);
      throw e;
    }
  }

  private refusePlatformSteps(spec: PipelineSpec): void {
    const step = spec.steps.find((s) => s.psType.startsWith(PLATFORM_ONLY));
    if (step !== undefined) throw new PipelineSpecError(`${spec.source}: step "${step.stepId}": ${step.psType} is reserved to the platform's setup pipelines`);
  }
}

function subdirs(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir, { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .map((d) => d.name)
    .sort();
}
