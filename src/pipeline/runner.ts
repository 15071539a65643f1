import type { Logger } from 'pino';
import { formatDuration } from '../core/duration.js';
import { errorMessage, isAppError } from '../core/errors.js';
import { StepError, type ProcessorCatalog, type RunSummary, type StepResult } from './processor.js';
import { mapStrings, type PipelineSpec, type StepSpec } from './spec.js';
import { renderTemplate, type TypedValue } from './variables.js';

/**
 * Executes a loaded pipeline for one run (DESIGN.md §7). Ordinary steps (`trigger: always`) form
 * a DAG: every step whose dependencies succeeded starts, up to `max_parallel` at once; after the
 * first failure nothing new starts and the rest are SKIPPED. Then `on_success`, `on_failure` and
 * `on_completion` steps run according to the outcome, even after a cancellation or timeout.
 * Steps are retried per their policy; each attempt has its own timeout and AbortSignal, which
 * processors pass to their queries so that cancelling interrupts the work, not just the wait.
 */
export type RunStatus = 'SUCCESS' | 'FAILED' | 'CANCELLED' | 'TIMEOUT';
export type StepStatus = 'SUCCESS' | 'FAILED' | 'SKIPPED' | 'CANCELLED';

export interface AttemptRecord {
  readonly attempt: number;
  readonly error: string;
  readonly duration_ms: number;
}

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
  readonly timedOut: boolean;
}

export interface RunOutcome {
  readonly status: RunStatus;
  readonly startTime: Date;
  readonly endTime: Date;
  readonly durationMs: number;
  readonly steps: readonly StepOutcome[];
  readonly outputs: ReadonlyMap<string, Readonly<Record<string, unknown>>>;
  /** What made the run fail (the first failing ordinary step's error), as thrown. */
  readonly error: unknown;
  readonly errorMessage: string | null;
}

/** Called on every state change, in order, so the caller can persist it. */
export interface RunHooks {
  stepStarted?(step: StepSpec, attempt: number, at: Date): void;
  stepFinished?(outcome: StepOutcome): void;
}

export interface RunRequest {
  readonly orgSlug: string;
  /** The pipeline id with its variables substituted. */
  readonly pipelineId?: string;
  readonly dataset: string;
  readonly pipelineLoggingId: string;
  readonly configsDir: string;
  readonly inputs: Readonly<Record<string, unknown>>;
  readonly variables: Readonly<Record<string, TypedValue>>;
  /** Aborting it cancels the run. */
  readonly signal?: AbortSignal;
  /** Aborted when the process stops: handler steps (which outlive a cancellation) stop then too. */
  readonly shutdownSignal?: AbortSignal;
  readonly hooks?: RunHooks;
}

export interface RunnerDeps {
  readonly catalog: ProcessorCatalog;
  readonly logger: Logger;
  readonly now?: () => Date;
  /** Jitter source in [0, 1); injectable so retry delays can be tested exactly. */
  readonly random?: () => number;
}

/** Handler steps (on_failure…) after a cancellation get this long when they set no timeout of their own. */
export const HANDLER_DEFAULT_TIMEOUT_MS = 5 * 60_000;

export async function runPipeline(spec: PipelineSpec, req: RunRequest, deps: RunnerDeps): Promise<RunOutcome> {
  const now = deps.now ?? (() => new Date());
  const startTime = now();
  const outputs = new Map<string, Readonly<Record<string, unknown>>>();
  const outcomes = new Map<string, StepOutcome>();
  const record = (o: StepOutcome): void => {
    outcomes.set(o.stepId, o);
    req.hooks?.stepFinished?.(o);
  };

  // One controller for the ordinary steps: aborted by the caller (cancel) or the pipeline timeout.
  const run = new AbortController();
  let stopped: 'CANCELLED' | 'TIMEOUT' | undefined;
  const stop = (why: 'CANCELLED' | 'TIMEOUT', reason: Error): void => {
    if (stopped !== undefined) return;
    stopped = why;
    run.abort(reason);
  };
  const onCancel = (): void => stop('CANCELLED', new Error('run cancelled'));
  if (req.signal?.aborted === true) onCancel();
  req.signal?.addEventListener('abort', onCancel, { once: true });
  const pipelineTimer =
    spec.timeoutMs === undefined ? undefined : setTimeout(() => stop('TIMEOUT', new Error(`pipeline timed out after ${formatDuration(spec.timeoutMs ?? 0)}`)), spec.timeoutMs);

  const exec = new StepExecutor(spec, req, deps, outputs, now);
  const summary = (status: RunSummary['status']): RunSummary => ({
    pipelineId: req.pipelineId ?? spec.pipelineId,
    status,
    failures: [...outcomes.values()].filter((o) => o.status === 'FAILED' || o.status === 'CANCELLED').map((o) => ({ step_id: o.stepId, error: o.errorMessage ?? '' })),
  });
  let failure: { error: unknown; timedOut: boolean } | undefined;
  try {
    await runPhase(
      spec.steps.filter((s) => s.trigger === 'always'),
      spec.maxParallel,
      run.signal,
      async (step) => {
        const o = await exec.execute(step, run.signal, () => stopped, summary('RUNNING'));
        record(o.outcome);
        if (o.outcome.status === 'FAILED' && failure === undefined) failure = { error: o.error, timedOut: o.outcome.timedOut };
        return o.outcome.status === 'SUCCESS';
      },
      (step) => record(skipped(step, stopped !== undefined ? 'run stopped before this step started' : 'an earlier step did not succeed')),
    );
  } finally {
    if (pipelineTimer !== undefined) clearTimeout(pipelineTimer);
    req.signal?.removeEventListener('abort', onCancel);
  }

  const status: RunStatus = stopped ?? (failure === undefined ? 'SUCCESS' : failure.timedOut ? 'TIMEOUT' : 'FAILED');
  const handlers = spec.steps.filter((s) => s.trigger !== 'always');
  const triggered = (s: StepSpec): boolean =>
    s.trigger === 'on_completion' || (s.trigger === 'on_success' ? status === 'SUCCESS' : status !== 'SUCCESS');
  for (const s of handlers.filter((h) => !triggered(h))) record(skipped(s, `trigger ${s.trigger} not met (run ${status})`));
  // Handlers run even when the run was cancelled, on a signal of their own (aborted only by a shutdown).
  const handlerSignal = req.shutdownSignal ?? new AbortController().signal;
  await runPhase(
    handlers.filter(triggered),
    spec.maxParallel,
    handlerSignal,
    async (step) => {
      const o = await exec.execute(step, handlerSignal, () => undefined, summary(status), HANDLER_DEFAULT_TIMEOUT_MS);
      record(o.outcome);
      return o.outcome.status === 'SUCCESS';
    },
    (step) => record(skipped(step, 'an earlier handler step did not succeed')),
  );

  const endTime = now();
  const error = failure?.error ?? (stopped === undefined ? undefined : run.signal.reason);
  return {
    status,
    startTime,
    endTime,
    durationMs: endTime.getTime() - startTime.getTime(),
    steps: spec.steps.map((s) => outcomes.get(s.stepId) ?? skipped(s, 'not reached')),
    outputs,
    error,
    errorMessage: status === 'SUCCESS' ? null : errorMessage(error),
  };
}

/**
 * Starts every step whose dependencies (within the phase) succeeded, at most `maxParallel` at a
 * time; once one fails or the signal aborts, nothing new starts and the rest are skipped.
 */
async function runPhase(
  steps: readonly StepSpec[],
  maxParallel: number,
  signal: AbortSignal,
  execute: (step: StepSpec) => Promise<boolean>,
  skip: (step: StepSpec) => void,
): Promise<void> {
  const inPhase = new Set(steps.map((s) => s.stepId));
  const succeeded = new Set<string>();
  const done = new Set<string>();
  const pending = new Set(steps.map((s) => s.stepId));
  const running = new Map<string, Promise<void>>();
  let halted = false;
  for (;;) {
    for (const step of steps) {
      if (!pending.has(step.stepId)) continue;
      const deps = step.dependsOn.filter((d) => inPhase.has(d));
      if (deps.some((d) => done.has(d) && !succeeded.has(d))) {
        pending.delete(step.stepId);
        done.add(step.stepId);
        skip(step);
        continue;
      }
      if (halted || signal.aborted || running.size >= maxParallel || !deps.every((d) => succeeded.has(d))) continue;
      pending.delete(step.stepId);
      running.set(
        step.stepId,
        execute(step).then((ok) => {
          running.delete(step.stepId);
          done.add(step.stepId);
          if (ok) succeeded.add(step.stepId);
          else halted = true;
        }),
      );
    }
    if (running.size === 0) break;
    await Promise.race(running.values());
  }
  for (const step of steps) if (pending.has(step.stepId)) skip(step);
}

class StepExecutor {
  constructor(
    private readonly spec: PipelineSpec,
    private readonly req: RunRequest,
    private readonly deps: RunnerDeps,
    private readonly outputs: Map<string, Readonly<Record<string, unknown>>>,
    private readonly now: () => Date,
  ) {}

  /** Runs one step with its retries; never throws. */
  async execute(
    step: StepSpec,
    runSignal: AbortSignal,
    stopped: () => 'CANCELLED' | 'TIMEOUT' | undefined,
    run: RunSummary,
    defaultTimeoutMs?: number,
  ): Promise<{ outcome: StepOutcome; error: unknown }> {
    const processor = this.deps.catalog.get(step.psType);
    const logger = this.deps.logger.child({ pipeline_logging_id: this.req.pipelineLoggingId, org_slug: this.req.orgSlug, step_id: step.stepId });
    const timeoutMs = step.timeoutMs ?? defaultTimeoutMs;
    const attempts: AttemptRecord[] = [];
    const firstStart = this.now();
    for (let attempt = 1; ; attempt++) {
      const begin = this.now();
      this.req.hooks?.stepStarted?.(step, attempt, begin);
      const ctl = new AbortController();
      const onRunAbort = (): void => ctl.abort(runSignal.reason);
      runSignal.addEventListener('abort', onRunAbort, { once: true });
      let timedOut = false;
      const timer =
        timeoutMs === undefined
          ? undefined
          : setTimeout(() => {
              timedOut = true;
              ctl.abort(new Error(`step timed out after ${formatDuration(timeoutMs)}`));
            }, timeoutMs);
      try {
        if (processor === undefined) throw new StepError(`unknown ps_type ${step.psType}`); // excluded at load time
        const config = this.render(step);
        const result: StepResult = await untilAborted(
          processor.run(
            {
              orgSlug: this.req.orgSlug,
              dataset: this.req.dataset,
              pipelineLoggingId: this.req.pipelineLoggingId,
              stepId: step.stepId,
              attempt,
              pipelineDir: this.spec.dir,
              configsDir: this.req.configsDir,
              inputs: this.req.inputs,
              variables: this.req.variables,
              outputs: this.outputs,
              run,
              signal: ctl.signal,
              logger,
            },
            config,
          ),
          ctl.signal,
        );
        const rows = result.rowsProcessed ?? null;
        this.outputs.set(step.stepId, { ...(result.output ?? {}), rows_processed: rows ?? 0 });
        const metadata = attempts.length === 0 ? (result.metadata ?? null) : { ...(result.metadata ?? {}), failed_attempts: attempts };
        return { outcome: this.outcome(step, 'SUCCESS', attempt, firstStart, rows, null, metadata, false), error: undefined };
      } catch (e) {
        const message = timedOut ? errorMessage(ctl.signal.reason) : errorMessage(e);
        logger.debug({ err: message, attempt }, 'step attempt failed');
        const why = stopped();
        if (why !== undefined && !timedOut) {
          const status = why === 'CANCELLED' ? 'CANCELLED' : 'FAILED';
          return { outcome: this.outcome(step, status, attempt, firstStart, null, errorMessage(runSignal.reason), withAttempts(attempts), why === 'TIMEOUT'), error: runSignal.reason };
        }
        attempts.push({ attempt, error: message, duration_ms: this.now().getTime() - begin.getTime() });
        if (attempt < step.retry.maxAttempts && isRetryable(e, timedOut)) {
          const waited = await sleep(retryDelay(step, attempt, this.deps.random ?? Math.random), runSignal);
          if (waited) continue;
          return { outcome: this.outcome(step, 'CANCELLED', attempt, firstStart, null, errorMessage(runSignal.reason), withAttempts(attempts), false), error: runSignal.reason };
        }
        return { outcome: this.outcome(step, 'FAILED', attempt, firstStart, null, message, withAttempts(attempts), timedOut), error: timedOut ? ctl.signal.reason : e };
      } finally {
        if (timer !== undefined) clearTimeout(timer);
        runSignal.removeEventListener('abort', onRunAbort);
      }
    }
  }

  /** The step's config with variables substituted; SQL fields take only strictly typed values. */
  private render(step: StepSpec): Readonly<Record<string, unknown>> {
    return renderStepConfig(this.deps.catalog, step, this.req.variables, this.outputs);
  }

  private outcome(
    step: StepSpec,
    status: StepStatus,
    attempt: number,
    start: Date,
    rows: number | null,
    error: string | null,
    metadata: Readonly<Record<string, unknown>> | null,
    timedOut: boolean,
  ): StepOutcome {
    const end = this.now();
    return { stepId: step.stepId, psType: step.psType, status, attempt, startTime: start, endTime: end, durationMs: end.getTime() - start.getTime(), rowsProcessed: rows, errorMessage: error, metadata, timedOut };
  }
}

/**
 * A step's config with variables substituted; SQL fields take only strictly typed values.
 * `{steps.x.key}` reads `outputs` (a dry run passes none and gets 0 for counts).
 */
export function renderStepConfig(
  catalog: ProcessorCatalog,
  step: StepSpec,
  variables: Readonly<Record<string, TypedValue>>,
  outputs?: ReadonlyMap<string, Readonly<Record<string, unknown>>>,
): Readonly<Record<string, unknown>> {
  const schema = catalog.get(step.psType)?.configSchema;
  const lookup = (name: string): TypedValue | undefined => {
    if (!name.startsWith('steps.')) return variables[name];
    const [, stepId, key] = name.split('.') as [string, string, string];
    if (outputs === undefined) return key === 'rows_processed' ? { type: 'integer', value: 0 } : { type: 'string', value: '' };
    const v = outputs.get(stepId)?.[key];
    if (typeof v === 'number' && Number.isSafeInteger(v)) return { type: 'integer', value: v };
    return typeof v === 'string' || typeof v === 'boolean' ? { type: 'string', value: v } : undefined;
  };
  try {
    return mapStrings(schema ?? ({} as never), step.config, '', (_field, text, sql) => renderTemplate(text, lookup, { sql })) as Record<string, unknown>;
  } catch (e) {
    throw new StepError(errorMessage(e));
  }
}

const withAttempts = (attempts: readonly AttemptRecord[]): Readonly<Record<string, unknown>> | null => (attempts.length > 1 ? { failed_attempts: attempts } : null);

/** Errors a retry cannot fix are not retried: bad config, refused SQL, 4xx application errors. */
function isRetryable(e: unknown, timedOut: boolean): boolean {
  if (timedOut) return true;
  if (e instanceof StepError) return e.retryable;
  if (isAppError(e)) return e.status >= 500;
  return true;
}

/** Exponential (or fixed) backoff with "equal jitter": half the delay fixed, half random. */
export function retryDelay(step: Pick<StepSpec, 'retry'>, failedAttempt: number, random: () => number): number {
  const { backoff, initialDelayMs, maxDelayMs } = step.retry;
  const base = Math.min(maxDelayMs, backoff === 'fixed' ? initialDelayMs : initialDelayMs * 2 ** (failedAttempt - 1));
  return Math.round(base / 2 + (base / 2) * random());
}

/** Resolves true after `ms`, or false as soon as `signal` aborts. */
function sleep(ms: number, signal: AbortSignal): Promise<boolean> {
  if (signal.aborted) return Promise.resolve(false);
  return new Promise((resolve) => {
    const onAbort = (): void => {
      clearTimeout(timer);
      resolve(false);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve(true);
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/** Settles with `work`, or rejects with the abort reason as soon as `signal` aborts (a processor that ignores its signal cannot hang the run). */
function untilAborted<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) {
    work.catch(() => undefined);
    return Promise.reject(signal.reason as Error);
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason as Error);
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(e as Error);
      },
    );
  });
}

const skipped = (step: StepSpec, reason: string): StepOutcome => ({
  stepId: step.stepId,
  psType: step.psType,
  status: 'SKIPPED',
  attempt: 0,
  startTime: null,
  endTime: null,
  durationMs: null,
  rowsProcessed: null,
  errorMessage: null,
  metadata: { reason },
  timedOut: false,
});
