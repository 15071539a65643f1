import type { SqlExecutor } from '../../core/sql.js';
import type { Repositories } from '../control-store.js';
import { sqlApiKeyRepository } from './api-key-repository.js';
import { sqlAuditRepository } from './audit-repository.js';
import { sqlIntegrationRepository } from './integration-repository.js';
import { sqlOrgRepository } from './org-repository.js';
import { sqlPipelineConfigRepository } from './pipeline-config-repository.js';
import { sqlQueueRepository } from './queue-repository.js';
import { sqlScheduleRepository } from './schedule-repository.js';
import { sqlRunRepository } from './run-repository.js';

/** Every repository bound to one executor (a connection, or a transaction on one). */
export function sqlRepositories(db: SqlExecutor): Repositories {
  return {
    orgs: sqlOrgRepository(db),
    apiKeys: sqlApiKeyRepository(db),
    audit: sqlAuditRepository(db),
    runs: sqlRunRepository(db),
    configs: sqlPipelineConfigRepository(db),
    queue: sqlQueueRepository(db),
    schedules: sqlScheduleRepository(db),
    integrations: sqlIntegrationRepository(db),
  };
}
