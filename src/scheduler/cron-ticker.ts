import type { Logger } from 'pino';
import { errorMessage } from '../core/errors.js';

/**
 * The clock of the scheduler role: every `intervalMs`, asks the schedule service to enqueue what is
 * due. Several tickers (replicas) may run at once; the service makes each occurrence fire once.
 */
export interface Tickable {
  tick(): Promise<{ queued: number; refused: number }>;
}

export class CronTicker {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;

  constructor(
    private readonly schedules: Tickable,
    private readonly intervalMs: number,
    private readonly logger: Logger,
  ) {}

  start(): void {
    this.schedule();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    await this.running;
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.running = this.schedules
        .tick()
        .then(
          (r) => {
            if (r.queued + r.refused > 0) this.logger.info(r, 'schedules fired');
          },
          (e: unknown) => this.logger.error({ err: errorMessage(e) }, 'scheduler tick failed'),
        )
        .finally(() => {
          this.running = undefined;
          this.schedule();
        });
    }, this.intervalMs);
    this.timer.unref();
  }
}
