import type { Logger } from 'pino';
import type { ControlStore } from '../control-store/control-store.js';
import type { QueueItem } from '../control-store/records.js';
import { errorMessage, isAppError } from '../core/errors.js';
import type { AdmittedRun, Claim, RunExecutor } from './run-executor.js';

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
      await this.recoverExpired();
      const free = this.opts.concurrency - this.running.size;
      if (free <= 0) return;
      const claimed = await this.claim(free);
      for (const item of claimed) {
        const p = this.execute(item).finally(() => {
          this.running.delete(item.pipeline_logging_id);
          this.wake();
        });
        this.running.set(item.pipeline_logging_id, p);
      }
    } catch (e) {
      // Before the first bootstrap there is no queue to look at.
      if (isAppError(e) && e.code === 'NOT_BOOTSTRAPPED') return;
      this.logger.error({ err: errorMessage(e) }, 'queue tick failed');
    }
  }

  /** One transaction: fair candidates, filtered to each org's concurrent limit, claimed with a lease. */
  private claim(free: number): Promise<{ queue_id: string; org_slug: string; pipeline_logging_id: string; attempt: number }[]> {
    const now = this.now();
    const leaseUntil = new Date(now.getTime() + this.opts.leaseMs);
    return this.store.transaction(async (r) => {
      const candidates = await r.queue.candidates(now, free * 4);
      const taken = new Map<string, number>();
      const claimed: { queue_id: string; org_slug: string; pipeline_logging_id: string; attempt: number }[] = [];
      for (const c of candidates) {
        if (claimed.length >= free) break;
        const already = taken.get(c.org_slug) ?? 0;
        if (c.org_running + already >= c.concurrent_limit) continue;
        const attempt = await r.queue.claim(c.queue_id, this.opts.owner, leaseUntil, now);
        if (attempt === undefined) continue;
        taken.set(c.org_slug, already + 1);
        claimed.push({ queue_id: c.queue_id, org_slug: c.org_slug, pipeline_logging_id: c.pipeline_logging_id, attempt });
      }
      return claimed;
    });
  }

  private async execute(item: { queue_id: string; org_slug: string; pipeline_logging_id: string; attempt: number }): Promise<void> {
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
      const admitted = await this.load(item.org_slug, item.pipeline_logging_id);
      if (typeof admitted === 'string') {
        await this.failUnloadable(item, admitted);
        return;
      }
      await this.executor.run(admitted, claim, lost.signal);
    } catch (e) {
      this.logger.error({ err: errorMessage(e), pipeline_logging_id: item.pipeline_logging_id }, 'queued run failed to execute');
    } finally {
      clearInterval(renew);
    }
  }

  private async failUnloadable(item: { queue_id: string; pipeline_logging_id: string; attempt: number }, why: string): Promise<void> {
    const now = this.now();
    await this.store.transaction(async (r) => {
      await r.runs.finishRun(item.pipeline_logging_id, { status: 'FAILED', end_time: now, duration_ms: null, error_message: why });
      await r.queue.complete(item.queue_id, item.attempt, now);
    });
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
