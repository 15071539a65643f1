import type { Logger } from 'pino';
import type { ControlStore } from '../control-store/control-store.js';
import type { StepLogPatch, StepLogRecord } from '../control-store/records.js';
import { errorMessage } from '../core/errors.js';
import { newId } from '../core/ids.js';
import type { Metrics } from '../observability/metrics.js';
import type { ProcessorCatalog } from '../pipeline/processor.js';
import { utcDay } from '../pipeline/resolve.js';
import { runPipeline, type RunOutcome, type StepOutcome } from '../pipeline/runner.js';
import type { PipelineSpec } from '../pipeline/spec.js';
import type { TypedValue } from '../pipeline/variables.js';
import { WriteBatcher } from './write-batcher.js';

/**
 * Runs admitted runs in this process, at most `concurrency` at once, first come first served.
 * Every state change goes to the run and step logs through the write batcher; the final state is
 * committed before the run counts as finished. (The durable, leased queue of the scheduler issue
 * replaces the in-memory waiting line; the execution below stays.)
 */
export interface AdmittedRun {
  readonly pipelineLoggingId: string;
  readonly orgSlug: string;
  readonly dataset: string;
  readonly pipelineId: string;
  readonly spec: PipelineSpec;
  readonly inputs: Readonly<Record<string, unknown>>;
  readonly variables: Readonly<Record<string, TypedValue>>;
}

/** How long a step must have been running before its RUNNING state is written on its own. */
export const RUNNING_VISIBLE_AFTER_MS = 50;

interface PendingStep {
  patch: StepLogPatch;
  timer?: NodeJS.Timeout;
}

interface Tracked {
  readonly run: AdmittedRun;
  readonly controller: AbortController;
  readonly done: Promise<void>;
  resolve(): void;
  started: boolean;
}

export class RunExecutor {
  private readonly waiting: Tracked[] = [];
  private readonly tracked = new Map<string, Tracked>();
  private running = 0;
  private readonly writes: WriteBatcher;
  private readonly pendingSteps = new Map<string, PendingStep>();
  private readonly shutdown = new AbortController();

  constructor(
    private readonly store: ControlStore,
    private readonly catalog: ProcessorCatalog,
    private readonly configsDir: string,
    private readonly concurrency: number,
    private readonly metrics: Metrics,
    private readonly logger: Logger,
    private readonly now: () => Date,
  ) {
    this.writes = new WriteBatcher(store, logger);
  }

  submit(run: AdmittedRun): void {
    let resolve!: () => void;
    const done = new Promise<void>((r) => (resolve = r));
    const t: Tracked = { run, controller: new AbortController(), done, resolve, started: false };
    this.tracked.set(run.pipelineLoggingId, t);
    this.metrics.runAdmitted();
    this.waiting.push(t);
    this.pump();
  }

  /** Resolves when the run is finished (immediately if this process does not hold it). */
  async whenDone(id: string): Promise<void> {
    await this.tracked.get(id)?.done;
  }

  /** Cancels a run this process holds; false when it holds no such run. */
  cancel(id: string): boolean {
    const t = this.tracked.get(id);
    if (t === undefined) return false;
    t.controller.abort(new Error('run cancelled'));
    const i = this.waiting.indexOf(t);
    if (i >= 0) {
      // Never started: finish it here.
      this.waiting.splice(i, 1);
      void this.finishUnstarted(t, 'CANCELLED', 'run cancelled before it started');
    }
    return true;
  }

  /** Cancels everything (handler steps included) and waits for the runs to record their end. */
  async close(): Promise<void> {
    this.shutdown.abort(new Error('the service is shutting down'));
    for (const id of [...this.tracked.keys()]) this.cancel(id);
    await Promise.all([...this.tracked.values()].map((t) => t.done));
    await this.writes.flush();
  }

  get activeCount(): number {
    return this.tracked.size;
  }

  private pump(): void {
    while (this.running < this.concurrency && this.waiting.length > 0) {
      const t = this.waiting.shift() as Tracked;
      this.running++;
      t.started = true;
      void this.execute(t).finally(() => {
        this.running--;
        this.pump();
      });
    }
  }

  private async execute(t: Tracked): Promise<void> {
    const { run } = t;
    const log = this.logger.child({ org_slug: run.orgSlug, pipeline_logging_id: run.pipelineLoggingId });
    try {
      await this.writes.flush(); // the QUEUED row and earlier writes are in
      const startedAt = this.now();
      const stepIds = new Map(run.spec.steps.map((s) => [s.stepId, newId()]));
      const rows: StepLogRecord[] = run.spec.steps.map((s) => ({
        step_logging_id: stepIds.get(s.stepId) as string,
        pipeline_logging_id: run.pipelineLoggingId,
        org_slug: run.orgSlug,
        step_id: s.stepId,
        ps_type: s.psType,
        status: 'PENDING',
        attempt: 0,
        created_at: startedAt,
        start_time: null,
        end_time: null,
        duration_ms: null,
        rows_processed: null,
        error_message: null,
        metadata: null,
      }));
      // RUNNING and the PENDING steps commit together: a run is never seen started without its steps.
      const started = await this.store.transaction(async (r) => {
        if (!(await r.runs.startRun(run.pipelineLoggingId, startedAt))) return false;
        await r.runs.insertSteps(rows);
        return true;
      });
      if (!started) return this.release(t, undefined);
      const outcome = await runPipeline(
        run.spec,
        {
          orgSlug: run.orgSlug,
          dataset: run.dataset,
          pipelineId: run.pipelineId,
          pipelineLoggingId: run.pipelineLoggingId,
          configsDir: this.configsDir,
          inputs: run.inputs,
          variables: run.variables,
          signal: t.controller.signal,
          shutdownSignal: this.shutdown.signal,
          hooks: {
            stepStarted: (step, attempt, at) =>
              this.updateStep(stepIds.get(step.stepId) as string, { status: 'RUNNING', attempt, ...(attempt === 1 ? { start_time: at } : {}), error_message: null }),
            stepFinished: (o) => this.stepFinished(stepIds.get(o.stepId) as string, o),
          },
        },
        { catalog: this.catalog, logger: log },
      );
      await this.finish(t, outcome, startedAt);
      log.info({ status: outcome.status, duration_ms: outcome.durationMs }, 'run finished');
    } catch (e) {
      log.error({ err: errorMessage(e) }, 'run could not be executed');
      await this.finishUnstarted(t, 'FAILED', `internal error: ${errorMessage(e)}`);
    }
  }

  private stepFinished(id: string, o: StepOutcome): void {
    if (o.durationMs !== null) this.metrics.stepFinished(o.psType, o.status, o.durationMs / 1000);
    this.updateStep(id, {
      status: o.status,
      attempt: o.attempt,
      ...(o.startTime === null ? {} : { start_time: o.startTime }),
      end_time: o.endTime,
      duration_ms: o.durationMs,
      rows_processed: o.rowsProcessed,
      error_message: o.errorMessage,
      metadata: o.metadata,
    });
  }

  /**
   * Queues a step transition. Transitions of one step that fall into the same group commit are
   * merged into one UPDATE (the later fields win; the start time of the first stays): the row
   * ends the same as if each had been applied in turn, for one statement instead of several.
   * A step's RUNNING transition waits `RUNNING_VISIBLE_AFTER_MS` before it is queued: a step that
   * ends sooner is written once, with its start time, which halves the writes of short steps.
   */
  private updateStep(id: string, patch: StepLogPatch): void {
    const queued = this.pendingSteps.get(id);
    if (queued !== undefined) {
      queued.patch = { ...queued.patch, ...patch };
      if (queued.timer !== undefined && patch.status !== 'RUNNING') this.queueStepWrite(id, queued);
      return;
    }
    const entry: PendingStep = { patch };
    this.pendingSteps.set(id, entry);
    if (patch.status === 'RUNNING') entry.timer = setTimeout(() => this.queueStepWrite(id, entry), RUNNING_VISIBLE_AFTER_MS);
    else this.queueStepWrite(id, entry);
  }

  private queueStepWrite(id: string, entry: PendingStep): void {
    if (entry.timer !== undefined) clearTimeout(entry.timer);
    entry.timer = undefined;
    this.writes.add(async (r) => {
      if (this.pendingSteps.get(id) === entry) this.pendingSteps.delete(id);
      await r.runs.updateStep(id, entry.patch);
    });
  }

  private async finish(t: Tracked, o: RunOutcome, startedAt: Date): Promise<void> {
    // Duration as the log shows it: from the recorded start to the recorded end.
    const durationMs = o.endTime.getTime() - startedAt.getTime();
    this.writes.add(async (r) => {
      await r.runs.finishRun(t.run.pipelineLoggingId, { status: o.status, end_time: o.endTime, duration_ms: durationMs, error_message: o.errorMessage });
    });
    await this.writes.flush();
    await this.release(t, o.status);
  }

  private async finishUnstarted(t: Tracked, status: 'CANCELLED' | 'FAILED', message: string): Promise<void> {
    await this.writes.flush();
    const at = this.now();
    let finished = false;
    try {
      finished = await this.store.runs.finishRun(t.run.pipelineLoggingId, { status, end_time: at, duration_ms: null, error_message: message });
    } catch (e) {
      this.logger.error({ err: errorMessage(e), pipeline_logging_id: t.run.pipelineLoggingId }, 'could not record the end of a run');
    }
    await this.release(t, finished ? status : undefined);
  }

  /** Refreshes the org's usage row, counts the outcome and lets waiters go. */
  private async release(t: Tracked, status: string | undefined): Promise<void> {
    if (!this.tracked.has(t.run.pipelineLoggingId)) return;
    this.tracked.delete(t.run.pipelineLoggingId);
    const at = this.now();
    try {
      await this.store.transaction(async (r) => r.orgs.recordRunEnd(t.run.orgSlug, utcDay(at), await r.runs.countActive(t.run.orgSlug), status !== undefined && status !== 'SUCCESS' && status !== 'CANCELLED', at));
    } catch (e) {
      this.logger.warn({ err: errorMessage(e), org_slug: t.run.orgSlug }, 'usage counters not refreshed');
    }
    this.metrics.runFinished(status ?? 'CANCELLED');
    t.resolve();
  }
}
