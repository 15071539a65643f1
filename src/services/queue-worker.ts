import type { Logger } from 'pino';
import type { ControlStore } from '../control-store/control-store.js';
import type { QueueCandidate, QueueItem, StepLogRecord } from '../control-store/records.js';
import { errorMessage, isAppError } from '../core/errors.js';
import type { AdmittedRun, Claim, RunExecutor, StartedRun } from './run-executor.js';

/**
 * Claims runs from `org_pipeline_execution_queue` and hands them to the executor (DESIGN.md §7).
 * - Claims hold a lease that is renewed while the run executes; a worker that cannot renew (its
 *   lease expired and was retaken, or the run was cancelled) aborts its run, and the attempt
 *   number fences its late writes off.
 * - Order: priority, then round-robin across orgs, then age; never more than `concurrency` here,
 *   nor more than an org's concurrent limit across all workers.
 * - Expired leases (a worker died) are requeued as a new attempt, or failed after `max_attempts`.
 */
export interface QueueWorkerOptions {
  readonly owner: string;
  readonly concurrency: number;
  readonly leaseMs: number;
  readonly pollMs: number;
  /** Wait before an expired run is tried again. */
  readonly retryDelayMs: number;
  /** On shutdown, how long running runs may go on before they are stopped and requeued. */
  readonly shutdownGraceMs: number;
}

/** Rebuilds what a run needs (pipeline, typed variables) from its logged request; a string says why it cannot run. */
export type RunLoader = (orgSlug: string, pipelineLoggingId: string) => Promise<AdmittedRun | string>;

export class QueueWorker {
  private readonly running = new Map<string, Promise<void>>();
  private timer: NodeJS.Timeout | undefined;
  private ticking: Promise<void> | undefined;
  private again = false;
  private stopped = false;
  private lastRecovery = 0;

  constructor(
    private readonly store: ControlStore,
    private readonly executor: RunExecutor,
    private readonly load: RunLoader,
    private readonly logger: Logger,
    private readonly now: () => Date,
    private readonly opts: QueueWorkerOptions,
  ) {}

  start(): void {
    this.wake();
  }

  /** Look at the queue now (after an enqueue in this process, or a run ended). */
  wake(): void {
    if (this.stopped) return;
    if (this.ticking !== undefined) {
      this.again = true;
      return;
    }
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    this.ticking = this.tick().finally(() => {
      this.ticking = undefined;
      if (this.stopped) return;
      if (this.again) {
        this.again = false;
        this.wake();
      } else {
        this.timer = setTimeout(() => this.wake(), this.opts.pollMs);
        this.timer.unref();
      }
    });
  }

  /** Drains: stops claiming, gives running runs `opts.shutdownGraceMs`, then requeues what is left. */
  async close(): Promise<void> {
    this.stopped = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    await this.ticking;
    await this.executor.close(this.opts.shutdownGraceMs);
    await Promise.all(this.running.values());
  }

  get active(): number {
    return this.running.size;
  }

  private async tick(): Promise<void> {
    try {
      await this.recoverExpiredNow();
      const free = this.opts.concurrency - this.running.size;
      if (free <= 0) return;
      for (const s of await this.claimAndStart(free)) {
        const p = this.execute(s).finally(() => {
          this.running.delete(s.item.pipeline_logging_id);
          this.wake();
        });
        this.running.set(s.item.pipeline_logging_id, p);
      }
    } catch (e) {
      // Before the first bootstrap there is no queue to look at.
      if (isAppError(e) && e.code === 'NOT_BOOTSTRAPPED') return;
      this.logger.error({ err: errorMessage(e) }, 'queue tick failed');
    }
  }

  /**
   * Fair candidates (filtered to each org's concurrent limit) are loaded first — reads only — and
   * then claimed and started in ONE transaction for all of them: queue items leased, runs RUNNING,
   * their PENDING steps inserted in one statement. A run that cannot be loaded is failed in the same
   * transaction; one that was cancelled (or taken by another worker) since the read is skipped.
   */
  private async claimAndStart(free: number): Promise<StartedClaim[]> {
    const now = this.now();
    const picks = pickFair(await this.store.queue.candidates(now, free * 4), free);
    if (picks.length === 0) return [];
    const loaded = await Promise.all(picks.map((c) => this.load(c.org_slug, c.pipeline_logging_id)));
    const leaseUntil = new Date(now.getTime() + this.opts.leaseMs);
    return this.store.transaction(async (r) => {
      const started: StartedClaim[] = [];
      const steps: StepLogRecord[] = [];
      for (const [i, c] of picks.entries()) {
        const attempt = await r.queue.claim(c.queue_id, this.opts.owner, leaseUntil, now);
        if (attempt === undefined) continue;
        const item = { queue_id: c.queue_id, org_slug: c.org_slug, pipeline_logging_id: c.pipeline_logging_id, attempt };
        const admitted = loaded[i] as AdmittedRun | string;
        if (typeof admitted === 'string') {
          await r.runs.finishRun(item.pipeline_logging_id, { status: 'FAILED', end_time: now, duration_ms: null, error_message: admitted });
          await r.queue.complete(item.queue_id, attempt, now);
          continue;
        }
        if (!(await r.runs.startRun(item.pipeline_logging_id, now, attempt))) {
          // Cancelled (or finished) meanwhile: the claim ends here instead of holding a slot.
          await r.queue.complete(item.queue_id, attempt, now);
          continue;
        }
        const prepared = this.executor.prepareStart(admitted, now);
        steps.push(...prepared.rows);
        started.push({ item, admitted, prepared });
      }
      await r.runs.insertSteps(steps);
      return started;
    });
  }

  private async execute(s: StartedClaim): Promise<void> {
    const { item } = s;
    const claim: Claim = { queueId: item.queue_id, attempt: item.attempt };
    const lost = new AbortController();
    const renew = setInterval(() => {
      const now = this.now();
      this.store.queue
        .renew(item.queue_id, this.opts.owner, item.attempt, new Date(now.getTime() + this.opts.leaseMs), now)
        .then((ok) => {
          if (!ok) lost.abort();
        })
        .catch((e: unknown) => this.logger.warn({ err: errorMessage(e), pipeline_logging_id: item.pipeline_logging_id }, 'lease renewal failed'));
    }, Math.max(50, Math.floor(this.opts.leaseMs / 3)));
    try {
      await this.executor.runStarted(s.admitted, claim, s.prepared, lost.signal);
    } catch (e) {
      this.logger.error({ err: errorMessage(e), pipeline_logging_id: item.pipeline_logging_id }, 'queued run failed to execute');
    } finally {
      clearInterval(renew);
    }
  }

  /** Expired leases are looked for at most every third of a lease (a scan of the running items), not on every tick. */
  private async recoverExpiredNow(): Promise<void> {
    const now = this.now().getTime();
    if (now - this.lastRecovery < Math.max(this.opts.pollMs, this.opts.leaseMs / 3)) return;
    this.lastRecovery = now;
    await this.recoverExpired();
  }

  /** Runs whose worker vanished: retried as the next attempt, or failed when the attempts are used up. */
  private async recoverExpired(): Promise<void> {
    const now = this.now();
    const expired: QueueItem[] = await this.store.queue.expired(now, 100);
    for (const item of expired) {
      // Our own runs are alive even when a renewal came late (a busy machine): never expire them here.
      if (item.lease_owner === this.opts.owner && this.running.has(item.pipeline_logging_id)) continue;
      const retry = item.attempt < item.max_attempts;
      const message = retry
        ? `attempt ${item.attempt} lost its worker (lease expired); retrying as attempt ${item.attempt + 1}`
        : `attempt ${item.attempt} lost its worker (lease expired); no attempts left (max ${item.max_attempts})`;
      await this.store.transaction(async (r) => {
        if (retry) {
          if (await r.queue.requeue(item.queue_id, item.attempt, new Date(now.getTime() + this.opts.retryDelayMs), now)) {
            await r.runs.interruptRun(item.pipeline_logging_id, item.attempt, 'QUEUED', message, now);
          }
        } else if (await r.queue.complete(item.queue_id, item.attempt, now)) {
          await r.runs.interruptRun(item.pipeline_logging_id, item.attempt, 'FAILED', message, now);
        }
      });
      this.logger.warn({ pipeline_logging_id: item.pipeline_logging_id, org_slug: item.org_slug, attempt: item.attempt, retry }, 'run lost its worker');
    }
  }
}

interface StartedClaim {
  readonly item: { readonly queue_id: string; readonly org_slug: string; readonly pipeline_logging_id: string; readonly attempt: number };
  readonly admitted: AdmittedRun;
  readonly prepared: StartedRun;
}

/** Up to `free` candidates in the store's fair order, none taking an org past its concurrent limit. */
function pickFair(candidates: readonly QueueCandidate[], free: number): QueueCandidate[] {
  const taken = new Map<string, number>();
  const picks: QueueCandidate[] = [];
  for (const c of candidates) {
    if (picks.length >= free) break;
    const already = taken.get(c.org_slug) ?? 0;
    if (c.org_running + already >= c.concurrent_limit) continue;
    taken.set(c.org_slug, already + 1);
    picks.push(c);
  }
  return picks;
}
