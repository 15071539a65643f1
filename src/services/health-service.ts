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
    private readonly timeoutMs = 2000,
  ) {}

  async readiness(): Promise<Readiness> {
    const [control_store, warehouse] = await Promise.all([this.probe(() => this.store.ping()), this.probe(() => this.warehouse.ping())]);
    return { ready: control_store.ok && warehouse.ok, checks: { control_store, warehouse } };
  }

  private async probe(ping: () => Promise<void>): Promise<{ ok: boolean; detail: string }> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${this.timeoutMs} ms`)), this.timeoutMs);
    });
    try {
      await Promise.race([ping(), timeout]);
      return { ok: true, detail: 'reachable' };
    } catch (e) {
      return { ok: false, detail: errorMessage(e) };
    } finally {
      clearTimeout(timer);
    }
  }
}
