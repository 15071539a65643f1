import type { ControlStore } from '../control-store/control-store.js';
import type { OrgProfile, RunRecord } from '../control-store/records.js';
import { AppError } from '../core/errors.js';
import { resolveVariables, utcDay, type ResolvedVariables, type RunInputs } from '../pipeline/resolve.js';
import { renderTemplate, VariableError } from '../pipeline/variables.js';
import type { PipelineRegistry, ResolvedPipeline } from './pipeline-registry.js';

/** What a run (or a dry run) starts from: the pipeline, the org, and the typed variables of the request. */
export interface PreparedRun {
  readonly pipeline: ResolvedPipeline;
  readonly profile: OrgProfile;
  readonly resolved: ResolvedVariables;
  /** The pipeline id with its variables substituted. */
  readonly pipelineId: string;
}

export interface RunRoute {
  readonly provider: string;
  readonly domain: string;
  readonly pipeline: string;
}

export interface PreparationOptions {
  readonly environment: string;
  readonly projectId: string | undefined;
}

/** 404 for an unknown pipeline or org; 400 INVALID_PARAMETER for inputs that do not fit the pipeline's parameters. */
export async function prepareRun(
  store: ControlStore,
  registry: PipelineRegistry,
  opts: PreparationOptions,
  orgSlug: string,
  route: RunRoute,
  inputs: RunInputs,
  pipelineLoggingId: string,
  now: Date,
): Promise<PreparedRun> {
  const pipeline = await registry.resolve(orgSlug, route.provider, route.domain, route.pipeline);
  const profile = await store.orgs.getProfile(orgSlug);
  if (profile === undefined || profile.status !== 'ACTIVE') throw new AppError('ORG_NOT_FOUND', `organization ${orgSlug} not found`);
  try {
    const resolved = resolveVariables(pipeline.spec, inputs, {
      orgSlug,
      dataset: profile.dataset_id,
      pipelineLoggingId,
      adminEmail: profile.admin_email,
      companyName: profile.company_name,
      projectId: opts.projectId ?? '',
      env: opts.environment,
      today: utcDay(now),
    });
    const pipelineId = renderTemplate(pipeline.spec.pipelineId, (n) => resolved.variables[n], { sql: false });
    return { pipeline, profile, resolved, pipelineId };
  } catch (e) {
    if (e instanceof VariableError) throw new AppError('INVALID_PARAMETER', e.message);
    throw e;
  }
}

/** The QUEUED run row a prepared run starts as (manual, schedule or backfill). */
export function queuedRunRecord(
  p: PreparedRun,
  pipelineLoggingId: string,
  trigger: { readonly type: 'manual' | 'schedule' | 'backfill'; readonly by: string; readonly userId: string | null },
  now: Date,
): RunRecord {
  return {
    pipeline_logging_id: pipelineLoggingId,
    org_slug: p.profile.org_slug,
    pipeline_id: p.pipelineId,
    pipeline_path: p.pipeline.path,
    status: 'QUEUED',
    trigger_type: trigger.type,
    trigger_by: trigger.by,
    user_id: trigger.userId,
    parameters: p.resolved.parameters,
    attempt: 1,
    created_at: now,
    start_time: null,
    end_time: null,
    duration_ms: null,
    error_message: null,
  };
}
