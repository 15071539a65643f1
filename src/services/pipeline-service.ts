import type { ControlStore } from '../control-store/control-store.js';
import { AppError } from '../core/errors.js';
import { MAX_PIPELINE_BYTES, type PipelineSpec } from '../pipeline/spec.js';
import { CUSTOM_DOMAIN, CUSTOM_PROVIDER, PATH_SEGMENT, type PipelineRegistry } from './pipeline-registry.js';
import { actorOf, type CallContext } from './principal.js';

/** The pipelines an org can run (built-in and its own) and its stored configs. */
export class PipelineService {
  constructor(
    private readonly store: ControlStore,
    private readonly registry: PipelineRegistry,
    private readonly now: () => Date,
  ) {}

  async list(orgSlug: string): Promise<{ pipelines: Record<string, unknown>[] }> {
    const builtins = this.registry.listBuiltins().map(({ path, spec }) => describe(path, spec, 'builtin'));
    const own = await this.store.configs.list(orgSlug);
    const custom = own.map((c) => {
      const path = `${CUSTOM_PROVIDER}/${CUSTOM_DOMAIN}/${c.config_id}`;
      try {
        return { ...describe(path, this.registry.parseOrgConfig(c.yaml, c.config_id), 'custom'), version: c.version };
      } catch (e) {
        // Stored before a processor changed: listed, marked, never run.
        return { path, source: 'custom', version: c.version, valid: false, error: (e as Error).message };
      }
    });
    return { pipelines: [...builtins, ...custom] };
  }

  async saveConfig(call: CallContext, orgSlug: string, configId: string, yaml: string): Promise<Record<string, unknown>> {
    if (!PATH_SEGMENT.test(configId)) {
      throw new AppError('VALIDATION_FAILED', 'config_id: lowercase letters, digits, "_" and "-", starting with a letter or digit, at most 64');
    }
    if (Buffer.byteLength(yaml) > MAX_PIPELINE_BYTES) throw new AppError('PAYLOAD_TOO_LARGE', `yaml is larger than ${MAX_PIPELINE_BYTES} bytes`);
    const spec = this.registry.parseOrgConfig(yaml, configId);
    const at = this.now();
    const version = await this.store.transaction(async (r) => {
      const v = (await r.configs.lastVersion(orgSlug, configId)) + 1;
      await r.configs.insert({ org_slug: orgSlug, config_id: configId, version: v, yaml, is_active: true, created_at: at, created_by: actorOf(call.principal) });
      return v;
    });
    return {
      config_id: configId,
      version,
      pipeline_id: spec.pipelineId,
      steps: spec.steps.length,
      run_path: `/api/v1/pipelines/run/${orgSlug}/${CUSTOM_PROVIDER}/${CUSTOM_DOMAIN}/${configId}`,
      created_at: at.toISOString(),
    };
  }

  async listConfigs(orgSlug: string): Promise<{ configs: Record<string, unknown>[] }> {
    const rows = await this.store.configs.list(orgSlug);
    return { configs: rows.map((c) => ({ config_id: c.config_id, version: c.version, created_at: c.created_at.toISOString(), created_by: c.created_by })) };
  }

  async getConfig(orgSlug: string, configId: string): Promise<Record<string, unknown>> {
    const c = PATH_SEGMENT.test(configId) ? await this.store.configs.get(orgSlug, configId) : undefined;
    if (c === undefined) throw new AppError('CONFIG_NOT_FOUND', `no pipeline config ${configId.slice(0, 100)}`);
    return { config_id: c.config_id, version: c.version, yaml: c.yaml, created_at: c.created_at.toISOString(), created_by: c.created_by };
  }

  async deleteConfig(orgSlug: string, configId: string): Promise<void> {
    const n = PATH_SEGMENT.test(configId) ? await this.store.configs.deactivate(orgSlug, configId) : 0;
    if (n === 0) throw new AppError('CONFIG_NOT_FOUND', `no pipeline config ${configId.slice(0, 100)}`);
  }
}

function describe(path: string, spec: PipelineSpec, source: 'builtin' | 'custom'): Record<string, unknown> {
  return {
    path,
    source,
    pipeline_id: spec.pipelineId,
    description: spec.description ?? null,
    parameters: spec.parameters.map((p) => ({
      name: p.name,
      type: p.type,
      required: p.required,
      ...(p.default === undefined ? {} : { default: p.default }),
      ...(p.values === undefined ? {} : { values: p.values }),
      ...(p.description === undefined ? {} : { description: p.description }),
    })),
    steps: spec.steps.map((s) => ({ step_id: s.stepId, ps_type: s.psType, depends_on: s.dependsOn, trigger: s.trigger })),
  };
}
