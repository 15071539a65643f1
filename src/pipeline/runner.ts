import type { Logger } from 'pino';
import { errorMessage } from '../core/errors.js';
import type { ProcessorCatalog, StepResult } from './processor.js';
import type { PipelineSpec, StepSpec } from './spec.js';

/**
 * Executes a loaded pipeline for one run. Ordinary steps (`trigger: always`) run in document
 * order and stop at the first failure (the rest are SKIPPED); then `on_success`, `on_failure` and
 * `on_completion` steps run according to the outcome. Parallel DAG execution, retries and
 * timeouts extend this in the pipeline-engine issue; the outcome shape stays.
 */
export type StepStatus = 'SUCCESS' | 'FAILED' | 'SKIPPED';

export interface StepOutcome {
  readonly stepId: string;
  readonly psType: string;
  readonly status: StepStatus;
  readonly attempt: number;
  readonly startTime: Date | null;
  readonly endTime: Date | null;
  readonly durationMs: number | null;
  readonly rowsProcessed: number | null;
  readonly errorMessage: string | null;
  readonly metadata: Readonly<Record<string, unknown>> | null;
}

export interface RunOutcome {
  readonly status: 'SUCCESS' | 'FAILED';
  readonly startTime: Date;
  readonly endTime: Date;
  readonly durationMs: number;
  readonly steps: readonly StepOutcome[];
  readonly outputs: ReadonlyMap<string, Readonly<Record<string, unknown>>>;
  /** What made the run fail (the first failing ordinary step's error), as thrown. */
  readonly error: unknown;
}

export interface RunRequest {
  readonly orgSlug: string;
  readonly pipelineLoggingId: string;
  readonly inputs: Readonly<Record<string, unknown>>;
  readonly signal?: AbortSignal;
}

export interface RunnerDeps {
  readonly catalog: ProcessorCatalog;
  readonly logger: Logger;
  readonly now?: () => Date;
}

export async function runPipeline(spec: PipelineSpec, req: RunRequest, deps: RunnerDeps): Promise<RunOutcome> {
  const now = deps.now ?? (() => new Date());
  const startTime = now();
  const outputs = new Map<string, Readonly<Record<string, unknown>>>();
  const outcomes: StepOutcome[] = [];
  const signal = req.signal ?? new AbortController().signal;
  let failure: unknown;
  let failed = false;

  const execute = async (step: StepSpec): Promise<void> => {
    const processor = deps.catalog.get(step.psType);
    const logger = deps.logger.child({ pipeline_logging_id: req.pipelineLoggingId, org_slug: req.orgSlug, step_id: step.stepId });
    const begin = now();
    try {
      if (processor === undefined) throw new Error(`unknown ps_type ${step.psType}`); // excluded at load time
      const result: StepResult = await processor.run(
        { orgSlug: req.orgSlug, pipelineLoggingId: req.pipelineLoggingId, stepId: step.stepId, pipelineDir: spec.dir, inputs: req.inputs, outputs, signal, logger },
        step.config,
      );
      if (result.output !== undefined) outputs.set(step.stepId, result.output);
      outcomes.push(finished(step, 'SUCCESS', begin, now(), result.rowsProcessed ?? null, null, result.metadata ?? null));
    } catch (e) {
      logger.debug({ err: errorMessage(e) }, 'step failed');
      outcomes.push(finished(step, 'FAILED', begin, now(), null, errorMessage(e), null));
      if (!failed && step.trigger === 'always') {
        failed = true;
        failure = e;
      }
    }
  };

  for (const step of spec.steps.filter((s) => s.trigger === 'always')) {
    if (failed) outcomes.push(skipped(step));
    else await execute(step);
  }
  for (const step of spec.steps.filter((s) => s.trigger !== 'always')) {
    const runs = step.trigger === 'on_completion' || (step.trigger === 'on_failure') === failed;
    if (runs) await execute(step);
    else outcomes.push(skipped(step));
  }
  const endTime = now();
  return {
    status: failed ? 'FAILED' : 'SUCCESS',
    startTime,
    endTime,
    durationMs: endTime.getTime() - startTime.getTime(),
    steps: outcomes,
    outputs,
    error: failure,
  };
}

function finished(
  step: StepSpec,
  status: StepStatus,
  start: Date,
  end: Date,
  rows: number | null,
  error: string | null,
  metadata: Readonly<Record<string, unknown>> | null,
): StepOutcome {
  return {
    stepId: step.stepId,
    psType: step.psType,
    status,
    attempt: 1,
    startTime: start,
    endTime: end,
    durationMs: end.getTime() - start.getTime(),
    rowsProcessed: rows,
    errorMessage: error,
    metadata,
  };
}

const skipped = (step: StepSpec): StepOutcome => ({
  stepId: step.stepId,
  psType: step.psType,
  status: 'SKIPPED',
  attempt: 1,
  startTime: null,
  endTime: null,
  durationMs: null,
  rowsProcessed: null,
  errorMessage: null,
  metadata: null,
});
