import type { Logger } from 'pino';
import type { ControlStore, Repositories } from '../control-store/control-store.js';
import { errorMessage } from '../core/errors.js';

/**
 * Group commit for run and step transitions: writes queue up while a transaction is in flight
 * and go together in the next one, so N runs moving at once cost about one commit, not N
 * (DESIGN.md §7: a durable commit costs milliseconds). Order is kept.
 */
export type Write = (repos: Repositories) => Promise<void>;

export class WriteBatcher {
  private pending: Write[] = [];
  private loop: Promise<void> | undefined;

  constructor(
    private readonly store: ControlStore,
    private readonly logger: Logger,
  ) {}

  add(write: Write): void {
    this.pending.push(write);
    this.loop ??= this.drain();
  }

  /** Resolves once everything added so far is committed (or has failed and been logged). */
  async flush(): Promise<void> {
    while (this.loop !== undefined) await this.loop;
  }

  private async drain(): Promise<void> {
    // Yield once so that writes made in the same tick share the first transaction.
    await Promise.resolve();
    while (this.pending.length > 0) {
      const batch = this.pending;
      this.pending = [];
      try {
        await this.store.transaction(async (repos) => {
          for (const w of batch) await w(repos);
        });
      } catch (e) {
        this.logger.error({ err: errorMessage(e), writes: batch.length }, 'run state writes failed');
      }
    }
    this.loop = undefined;
  }
}
