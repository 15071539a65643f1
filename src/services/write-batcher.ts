import type { Logger } from 'pino';
import type { ControlStore, Repositories } from '../control-store/control-store.js';
import { errorMessage } from '../core/errors.js';

/**
 * Group commit for run and step transitions. A durable commit costs milliseconds and competes with
 * the warehouse's own commits (DESIGN.md §7), so writes are gathered for up to `windowMs` and go
 * together in one transaction: many steps and runs moving at once cost about one commit. Order is
 * kept. A write may return a value (e.g. whether a fenced update applied), delivered once the
 * batch has committed, and may ask for work to run once per batch at its end (`Batch.once`), so
 * that e.g. an org's usage counters are refreshed once for all of its runs that ended together.
 */
export interface Batch {
  /** Runs `fn` once, after every write of this transaction, for all writes that pass the same key. */
  once(key: string, fn: (repos: Repositories) => Promise<void>): void;
}

export type Write<T = void> = (repos: Repositories, batch: Batch) => Promise<T>;

interface Entry {
  readonly write: Write<unknown>;
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: unknown) => void;
}

export class WriteBatcher {
  private pending: Entry[] = [];
  private loop: Promise<void> | undefined;
  private wake: (() => void) | undefined;

  constructor(
    private readonly store: ControlStore,
    private readonly logger: Logger,
    private readonly windowMs = 20,
  ) {}

  /** Queues a write whose outcome nobody waits for (failures are logged). */
  add(write: Write): void {
    void this.submit(write).catch(() => undefined);
  }

  /** Queues a write; resolves with its value once its transaction committed, rejects if it failed. */
  submit<T>(write: Write<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.pending.push({ write, resolve: resolve as (v: unknown) => void, reject });
      this.loop ??= this.drain();
    });
  }

  /** Resolves once everything added so far is committed (or has failed and been logged). */
  async flush(): Promise<void> {
    while (this.loop !== undefined) {
      this.wake?.();
      await this.loop;
    }
  }

  private async drain(): Promise<void> {
    while (this.pending.length > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, this.windowMs);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.wake = undefined;
      const batch = this.pending;
      this.pending = [];
      try {
        const values = await this.store.transaction((repos) => runAll(repos, batch));
        batch.forEach((e, i) => e.resolve(values[i]));
      } catch (e) {
        // One bad write must not take the others (other runs, other orgs) down with it: replay
        // them one transaction each, so only the failing write is lost.
        this.logger.warn({ err: errorMessage(e), writes: batch.length }, 'group commit failed; writing one by one');
        for (const entry of batch) {
          try {
            const [value] = await this.store.transaction((repos) => runAll(repos, [entry]));
            entry.resolve(value);
          } catch (err) {
            this.logger.error({ err: errorMessage(err) }, 'run state write failed');
            entry.reject(err);
          }
        }
      }
    }
    this.loop = undefined;
  }
}

/** The writes in order, then each distinct `once` task; returns the writes' values. */
async function runAll(repos: Repositories, entries: readonly Entry[]): Promise<unknown[]> {
  const tasks = new Map<string, (repos: Repositories) => Promise<void>>();
  const batch: Batch = {
    once(key, fn) {
      if (!tasks.has(key)) tasks.set(key, fn);
    },
  };
  const values: unknown[] = [];
  for (const e of entries) values.push(await e.write(repos, batch));
  for (const task of tasks.values()) await task(repos);
  return values;
}
