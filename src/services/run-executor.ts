import type { Logger } from 'pino';
import type { ControlStore } from '../control-store/control-store.js';
import type { RunStatus, StepLogPatch, StepLogRecord } from '../control-store/records.js';
import { errorMessage } from '../core/errors.js';
import { newId } from '../core/ids.js';
import type { Metrics } from '../observability/metrics.js';
import type { ProcessorCatalog } from '../pipeline/processor.js';
import { utcDay } from '../pipeline/resolve.js';
import { runPipeline, type RunOutcome, type StepOutcome } from '../pipeline/runner.js';
import type { PipelineSpec } from '../pipeline/spec.js';
import type { TypedValue } from '../pipeline/variables.js';
import { WriteBatcher, type Batch } from './write-batcher.js';

/**
 * Executes runs a queue worker has claimed. Every state change goes to the run and step logs
 * through the write batcher; the final state is committed before the run counts as finished, and
 * only by the attempt that holds the claim (the fencing token): a worker that lost its lease
 * stops and cannot overwrite the attempt that replaced it.
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

/** The claim a run executes under. */
export interface Claim {
  readonly queueId: string;
  readonly attempt: number;
}

interface Tracked {
  readonly run: AdmittedRun;
  readonly claim: Claim;
  readonly controller: AbortController;
}

export class RunExecutor {
  private readonly tracked = new Map<string, Tracked>();
  private readonly waiters = new Map<string, Set<() => void>>();
  private readonly writes: WriteBatcher;
  private readonly pendingSteps = new Map<string, PendingStep>();
  private readonly shutdown = new AbortController();
  /** Failures per org of the group commit a finish went into (see refreshUsage). */
  private readonly failures = new WeakMap<Batch, Map<string, number>>();

  constructor(
    private readonly store: ControlStore,
    private readonly catalog: ProcessorCatalog,
    private readonly configsDir: string,
    private readonly metrics: Metrics,
    private readonly logger: Logger,
    private readonly now: () => Date,
  ) {
    this.writes = new WriteBatcher(store, logger);
  }

  /**
   * The step rows a run starts with (all PENDING) and their ids. The queue worker writes them in
   * the transaction that claims and starts the run, for many runs at once: a run is never seen
   * RUNNING without its steps, and starting costs no transaction of its own.
   */
  prepareStart(run: AdmittedRun, startedAt: Date): StartedRun {
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
    return { startedAt, stepIds, rows };
  }

  /** Executes a run the worker claimed and started (see prepareStart); `lost` aborts when the claim's lease is lost. */
  async runStarted(run: AdmittedRun, claim: Claim, started: StartedRun, lost: AbortSignal): Promise<void> {
    const t: Tracked = { run, claim, controller: new AbortController() };
    const onLost = (): void => t.controller.abort(new Error('lease lost: another worker took the run over'));
    lost.addEventListener('abort', onLost, { once: true });
    this.tracked.set(run.pipelineLoggingId, t);
    this.metrics.runAdmitted();
    try {
      // Claimed while the process was stopping: back to the queue as its next attempt.
      if (this.shutdown.signal.aborted) return await this.requeue(t, 'the service stopped before this attempt started; the run goes back to the queue');
      await this.execute(t, started);
    } finally {
      lost.removeEventListener('abort', onLost);
    }
  }

  /** Resolves when this process sees the run end (or at once when it is not active here or in the store). */
  async whenDone(id: string, isActive: () => Promise<boolean>, pollMs = 250): Promise<void> {
    for (;;) {
      if (!this.tracked.has(id) && !(await isActive())) return;
      await new Promise<void>((resolve) => {
        const set = this.waiters.get(id) ?? new Set();
        this.waiters.set(id, set);
        const done = (): void => {
          clearTimeout(timer);
          set.delete(done);
          resolve();
        };
        // Another process may run it: look at the store now and then.
        const timer = setTimeout(done, pollMs);
        set.add(done);
      });
    }
  }

  /** Cancels a run this process executes; false when it executes no such run. */
  cancel(id: string): boolean {
    const t = this.tracked.get(id);
    if (t === undefined) return false;
    t.controller.abort(new Error('run cancelled'));
    return true;
  }

  /** Cancels everything (handler steps included) and waits for the runs to record their end. */
  /**
   * Drains: runs get `graceMs` to finish on their own; then they are stopped (handlers included)
   * and put back in the queue as their next attempt — a shutdown is not a user's cancellation.
   */
  async close(graceMs = 0): Promise<void> {
    const deadline = Date.now() + graceMs;
    while (this.tracked.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    this.shutdown.abort(new Error('the service is shutting down'));
    for (const t of this.tracked.values()) t.controller.abort(new Error('the service stopped; the run goes back to the queue'));
    while (this.tracked.size > 0) await new Promise((r) => setTimeout(r, 10));
    await this.writes.flush();
  }

  get activeCount(): number {
    return this.tracked.size;
  }

  private async execute(t: Tracked, started: StartedRun): Promise<void> {
    const { run } = t;
    const { startedAt, stepIds } = started;
    const log = this.logger.child({ org_slug: run.orgSlug, pipeline_logging_id: run.pipelineLoggingId });
    try {
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
      if (this.shutdown.signal.aborted && outcome.status !== 'SUCCESS') await this.requeue(t, 'the service stopped during this attempt; the run goes back to the queue');
      else await this.finish(t, outcome, startedAt);
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
    const finished = await this.finishFenced(t, { status: o.status, end_time: o.endTime, duration_ms: durationMs, error_message: o.errorMessage });
    await this.release(t, finished ? o.status : undefined);
  }

  private async finishUnstarted(t: Tracked, status: 'CANCELLED' | 'FAILED', message: string): Promise<void> {
    let finished = false;
    try {
      finished = await this.finishFenced(t, { status, end_time: this.now(), duration_ms: null, error_message: message });
    } catch (e) {
      this.logger.error({ err: errorMessage(e), pipeline_logging_id: t.run.pipelineLoggingId }, 'could not record the end of a run');
    }
    await this.release(t, finished ? status : undefined);
  }

  /** Back to the queue as the next attempt (its open steps closed), or FAILED when the attempts are used up. */
  private async requeue(t: Tracked, message: string): Promise<void> {
    const now = this.now();
    try {
      await this.writes.submit(async (r) => {
        const item = await r.queue.get(t.run.pipelineLoggingId);
        const retry = item !== undefined && item.attempt < item.max_attempts;
        if (retry && (await r.queue.requeue(t.claim.queueId, t.claim.attempt, now, now))) {
          await r.runs.interruptRun(t.run.pipelineLoggingId, t.claim.attempt, 'QUEUED', message, now);
        } else if (await r.queue.complete(t.claim.queueId, t.claim.attempt, now)) {
          await r.runs.interruptRun(t.run.pipelineLoggingId, t.claim.attempt, 'FAILED', `${message} (no attempts left)`, now);
        }
      });
    } catch (e) {
      this.logger.error({ err: errorMessage(e), pipeline_logging_id: t.run.pipelineLoggingId }, 'could not put the run back in the queue');
    }
    await this.release(t, undefined);
  }

  /**
   * The run's final state and the queue item's completion, for this attempt only, in the group
   * commit after the run's last step writes (order is kept). Runs that end together share the
   * transaction, and their org's usage row is refreshed once for them all.
   */
  private finishFenced(t: Tracked, f: { status: RunStatus; end_time: Date; duration_ms: number | null; error_message: string | null }): Promise<boolean> {
    return this.writes.submit(async (r, batch) => {
      if (!(await r.runs.finishRun(t.run.pipelineLoggingId, { ...f, attempt: t.claim.attempt }))) return false;
      await r.queue.complete(t.claim.queueId, t.claim.attempt, f.end_time);
      this.refreshUsage(batch, t.run.orgSlug, f.status);
      return true;
    });
  }

  /** Once per org and group commit: the day's count of active runs, plus the failures of this batch. */
  private refreshUsage(batch: Batch, orgSlug: string, status: string | undefined): void {
    const tally = this.failures.get(batch) ?? new Map<string, number>();
    this.failures.set(batch, tally);
    const failed = status !== undefined && status !== 'SUCCESS' && status !== 'CANCELLED';
    tally.set(orgSlug, (tally.get(orgSlug) ?? 0) + (failed ? 1 : 0));
    batch.once(`usage:${orgSlug}`, async (r) => {
      const at = this.now();
      await r.orgs.recordRunEnd(orgSlug, utcDay(at), await r.runs.countActive(orgSlug), tally.get(orgSlug) ?? 0, at);
    });
  }

  /** Counts the outcome and lets waiters go (refreshing the usage row unless the final write did). */
  private async release(t: Tracked, status: string | undefined, usageRefreshed = status !== undefined): Promise<void> {
    if (!this.tracked.has(t.run.pipelineLoggingId)) return;
    this.tracked.delete(t.run.pipelineLoggingId);
    if (!usageRefreshed) {
      try {
        await this.writes.submit(async (_r, batch) => this.refreshUsage(batch, t.run.orgSlug, status));
      } catch (e) {
        this.logger.warn({ err: errorMessage(e), org_slug: t.run.orgSlug }, 'usage counters not refreshed');
      }
    }
    this.metrics.runFinished(status ?? 'CANCELLED');
    for (const wake of [...(this.waiters.get(t.run.pipelineLoggingId) ?? [])]) wake();
    this.waiters.delete(t.run.pipelineLoggingId);
  }
}

/** What prepareStart made for a run: its start time and the step rows' ids by step. */
export interface StartedRun {
  readonly startedAt: Date;
  readonly stepIds: ReadonlyMap<string, string>;
  readonly rows: readonly StepLogRecord[];
}
