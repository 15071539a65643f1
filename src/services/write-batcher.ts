import type { Logger } from 'pino';
import type { ControlStore, Repositories } from '../control-store/control-store.js';
import { errorMessage } from '../core/errors.js';

/**
 * Group commit for run and step transitions. A durable commit costs milliseconds and competes with
 * the warehouse's own commits (DESIGN.md §7), so writes are gathered for up to `windowMs` and go
 * together in one transaction: many steps and runs moving at once cost about one commit. `flush()`
 * commits at once and resolves when everything added before it is in. Order is kept.
 */
export type Write = (repos: Repositories) => Promise<void>;

export class WriteBatcher {
  private pending: Write[] = [];
  private loop: Promise<void> | undefined;
  private wake: (() => void) | undefined;

  constructor(
    private readonly store: ControlStore,
    private readonly logger: Logger,
    private readonly windowMs = 20,
  ) {}

  add(write: Write): void {
    this.pending.push(write);
    this.loop ??= this.drain();
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
        await this.store.transaction(async (repos) => {
          for (const w of batch) await w(repos);
        });
      } catch (e) {
        // One bad write must not take the others (other runs, other orgs) down with it: replay
        // them one transaction each, so only the failing write is lost.
        this.logger.warn({ err: errorMessage(e), writes: batch.length }, 'group commit failed; writing one by one');
        for (const w of batch) {
          try {
            await this.store.transaction(w);
          } catch (err) {
            this.logger.error({ err: errorMessage(err) }, 'run state write failed');
          }
        }
      }
    }
    this.loop = undefined;
  }
}
