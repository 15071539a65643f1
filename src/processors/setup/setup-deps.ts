import type { Logger } from 'pino';
import type { ControlStore } from '../../control-store/control-store.js';
import type { PlanCatalog } from '../../plans/plans.js';
import type { Warehouse } from '../../warehouse/warehouse.js';

/** What the setup.* processors need from the outside world. */
export interface SetupDeps {
  readonly controlStore: ControlStore;
  readonly warehouse: Warehouse;
  readonly plans: PlanCatalog;
  /**
   * True when the warehouse and the control store are one database (embedded mode): the log
   * tables the control store creates are then already the warehouse's.
   */
  readonly warehouseSharesControlStore: boolean;
  readonly now: () => Date;
  readonly logger: Logger;
}
