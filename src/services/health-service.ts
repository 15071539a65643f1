import type { Logger } from 'pino';
import type { ControlStore } from '../control-store/control-store.js';
import { errorMessage } from '../core/errors.js';
import type { Warehouse } from '../warehouse/warehouse.js';

export interface Readiness {
  readonly ready: boolean;
  readonly checks: Record<'control_store' | 'warehouse', { ok: boolean; detail: string }>;
}

/** Liveness is the process answering; readiness is both stores answering within a bound. */
export class HealthService {
  constructor(
    private readonly store: ControlStore,
    private readonly warehouse: Warehouse,
    private readonly logger: Logger,
    private readonly timeoutMs = 2000,
  ) {}

  async readiness(): Promise<Readiness> {
    const [control_store, warehouse] = await Promise.all([
      this.probe('control_store', () => this.store.ping()),
      this.probe('warehouse', () => this.warehouse.ping()),
    ]);
    return { ready: control_store.ok && warehouse.ok, checks: { control_store, warehouse } };
  }

  private async probe(name: string, ping: () => Promise<void>): Promise<{ ok: boolean; detail: string }> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${this.timeoutMs} ms`)), this.timeoutMs);
    });
    try {
      await Promise.race([ping(), timeout]);
      return { ok: true, detail: 'reachable' };
    } catch (e) {
      // The cause goes to the log; the unauthenticated answer says no more than "unreachable".
      this.logger.error({ err: errorMessage(e), dependency: name }, 'readiness probe failed');
      return { ok: false, detail: 'unreachable' };
    } finally {
      clearTimeout(timer);
    }
  }
}
