import path from 'node:path';
import type { Logger } from 'pino';
import type { ControlStore } from '../control-store/control-store.js';
import type { StepLogRecord } from '../control-store/records.js';
import { errorMessage } from '../core/errors.js';
import { newId } from '../core/ids.js';
import { isOrgSlug } from '../core/org-slug.js';
import type { ProcessorCatalog } from '../pipeline/processor.js';
import { runPipeline, type RunOutcome } from '../pipeline/runner.js';
import { loadPipelineFile, type PipelineSpec } from '../pipeline/spec.js';
import { actorOf, type CallContext } from './principal.js';

/**
 * Runs the setup pipelines (configs/setup/**) synchronously for an API call and logs each run
 * with its steps like any other run. Runs that concern no valid organization are logged under
 * PLATFORM_ORG, which can never be an org slug.
 */
export const SETUP_PIPELINES = {
  bootstrap: 'setup/bootstrap/pipeline.yml',
  dryrun: 'setup/organizations/dryrun/pipeline.yml',
  onboarding: 'setup/organizations/onboarding/pipeline.yml',
} as const;
export type SetupPipeline = keyof typeof SETUP_PIPELINES;
export const PLATFORM_ORG = '_platform';

export interface SetupRun extends RunOutcome {
  readonly pipelineLoggingId: string;
}

export class SetupRunner {
  private readonly specs: ReadonlyMap<SetupPipeline, PipelineSpec>;

  /** Loads and validates every setup pipeline now, so a broken config stops the start. */
  constructor(
    private readonly configsDir: string,
    private readonly catalog: ProcessorCatalog,
    private readonly store: ControlStore,
    private readonly logger: Logger,
  ) {
    this.specs = new Map(
      (Object.keys(SETUP_PIPELINES) as SetupPipeline[]).map((k) => [k, loadPipelineFile(path.join(configsDir, SETUP_PIPELINES[k]), { catalog, configsDir })]),
    );
  }

  /** Runs the pipeline; throws the failing step's error after logging the run. */
  async run(name: SetupPipeline, orgSlug: string, inputs: Record<string, unknown>, call: CallContext): Promise<SetupRun> {
    const spec = this.specs.get(name);
    if (spec === undefined) throw new Error(`unknown setup pipeline ${name}`);
    const pipelineLoggingId = newId();
    const org = isOrgSlug(orgSlug) ? orgSlug : PLATFORM_ORG;
    const outcome = await runPipeline(spec, { orgSlug: org, dataset: org, pipelineLoggingId, inputs, variables: {}, configsDir: this.configsDir }, { catalog: this.catalog, logger: this.logger });
    // Only a successful onboarding belongs to the org's own history; dry runs and failed attempts
    // (possibly by someone else, for a slug that exists or will) stay on the platform's record.
    const logOrg = name === 'onboarding' && outcome.status === 'SUCCESS' ? org : PLATFORM_ORG;
    await this.log(spec, name, logOrg, pipelineLoggingId, inputs, call, outcome);
    if (outcome.status !== 'SUCCESS') throw outcome.error;
    return { ...outcome, pipelineLoggingId };
  }

  private async log(
    spec: PipelineSpec,
    name: SetupPipeline,
    orgSlug: string,
    id: string,
    inputs: Record<string, unknown>,
    call: CallContext,
    o: RunOutcome,
  ): Promise<void> {
    const steps: StepLogRecord[] = o.steps.map((s) => ({
      step_logging_id: newId(),
      pipeline_logging_id: id,
      org_slug: orgSlug,
      step_id: s.stepId,
      ps_type: s.psType,
      status: s.status,
      attempt: s.attempt,
      created_at: s.startTime ?? o.endTime,
      start_time: s.startTime,
      end_time: s.endTime,
      duration_ms: s.durationMs,
      rows_processed: s.rowsProcessed,
      error_message: s.errorMessage,
      metadata: s.metadata,
    }));
    try {
      await this.store.runs.insertCompletedRun(
        {
          pipeline_logging_id: id,
          org_slug: orgSlug,
          pipeline_id: spec.pipelineId,
          pipeline_path: path.dirname(SETUP_PIPELINES[name]),
          status: o.status,
          trigger_type: 'setup',
          trigger_by: actorOf(call.principal),
          user_id: call.userId,
          parameters: inputs,
          attempt: 1,
          created_at: o.startTime,
          start_time: o.startTime,
          end_time: o.endTime,
          duration_ms: o.durationMs,
          error_message: o.errorMessage,
        },
        steps,
      );
    } catch (e) {
      // Before the first bootstrap there is no run table to write to; the process log has it.
      this.logger.warn({ err: errorMessage(e), pipeline_logging_id: id, pipeline_id: spec.pipelineId, status: o.status }, 'setup run not logged');
    }
  }
}
