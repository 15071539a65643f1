import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { pino, type Logger } from 'pino';
import { buildApp, type AppServices } from './api/app.js';
import type { Config } from './config/config.js';
import type { ControlStore } from './control-store/control-store.js';
import { DuckDbControlStore } from './control-store/duckdb/duckdb-control-store.js';
import { DuckDbDatabase } from './duckdb/duckdb-database.js';
import { loadPlans } from './plans/plans.js';
import { createProcessorCatalog } from './processors/catalog.js';
import { ApiKeyService } from './services/api-key-service.js';
import { AuditService } from './services/audit-service.js';
import { AuthService } from './services/auth-service.js';
import { BootstrapService } from './services/bootstrap-service.js';
import { HealthService } from './services/health-service.js';
import { OrganizationService } from './services/organization-service.js';
import { SetupRunner } from './services/setup-runner.js';
import { OutboundHttp } from './net/outbound-http.js';
import { Metrics } from './observability/metrics.js';
import { pipelineJsonSchema } from './pipeline/spec-document.js';
import { PipelineRegistry } from './services/pipeline-registry.js';
import { PipelineDryrun } from './services/pipeline-dryrun.js';
import { PipelineService } from './services/pipeline-service.js';
import { QueueWorker } from './services/queue-worker.js';
import { Admission } from './services/admission.js';
import { ScheduleService } from './services/schedule-service.js';
import { BackfillService } from './services/backfill-service.js';
import { CronTicker } from './scheduler/cron-ticker.js';
import { RunExecutor } from './services/run-executor.js';
import { newId } from './core/ids.js';
import { RunService } from './services/run-service.js';
import { LocalKeyring } from './crypto/local-keyring.js';
import { ProviderClients } from './providers/provider-clients.js';
import { IntegrationService } from './services/integration-service.js';
import { PricingService } from './services/pricing-service.js';
import { CENTRAL_DATASET } from './control-store/control-store.js';
import type { Warehouse } from './warehouse/warehouse.js';
import { DuckDbWarehouse } from './warehouse/duckdb/duckdb-warehouse.js';

/**
 * The composition root: the only place that picks concrete adapters from the configuration and
 * wires services to them.
 */
export interface Runtime {
  readonly app: FastifyInstance;
  /** The use cases the app serves (tests drive the scheduler tick and the queue through them). */
  readonly services: AppServices;
  /** This process's queue worker. */
  readonly worker: QueueWorker;
  readonly controlStore: ControlStore;
  readonly warehouse: Warehouse;
  close(): Promise<void>;
}

export const VERSION: string = (
  JSON.parse(fs.readFileSync(path.join(path.dirname(new URL(import.meta.url).pathname), '..', 'package.json'), 'utf8')) as { version: string }
).version;

/** Paths whose values never reach a log line. */
export const REDACTED_PATHS = [
  'req.headers["x-api-key"]',
  'req.headers["x-ca-root-key"]',
  'req.headers.authorization',
  'req.headers.cookie',
  'api_key',
  '*.api_key',
  'credential',
  '*.credential',
  'rootKey',
];

export function createLogger(config: Pick<Config, 'logLevel'>, destination?: pino.DestinationStream): Logger {
  return pino(
    {
      level: config.logLevel,
      base: { service: 'convergence' },
      redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    destination,
  );
}

export async function createRuntime(config: Config, rootKey: string, logger: Logger): Promise<Runtime> {
  if (config.controlStore !== 'duckdb' || config.warehouse !== 'duckdb') {
    throw new Error(
      `CONTROL_STORE=${config.controlStore} / WAREHOUSE=${config.warehouse}: only the embedded duckdb adapters are available in this version`,
    );
  }
  const db = await DuckDbDatabase.open(config.duckdbPath, { readableDirectories: [config.importDir], memoryLimit: config.duckdbMemoryLimit });
  const controlStore = await DuckDbControlStore.open(db);
  const warehouse = await DuckDbWarehouse.open(db);
  try {
    const plans = loadPlans(path.join(config.configsDir, 'system', 'plans.yml'));
    const now = (): Date => new Date();
    const metrics = new Metrics();
    const keyring = await LocalKeyring.load({ masterKey: config.masterKey, previousMasterKeys: [...config.previousMasterKeys], dataDir: config.dataDir, environment: config.environment });
    const providerClients = new ProviderClients(config.providerBaseUrls, config.importDir);
    const integrations = new IntegrationService(controlStore, keyring, providerClients, logger, now);
    const pricing = new PricingService(controlStore, config.configsDir, now);
    const data = { controlStore, warehouse, now, logger };
    const catalog = createProcessorCatalog({
      setup: { controlStore, warehouse, plans, warehouseSharesControlStore: true, now, logger },
      data,
      sources: { ...data, credentials: integrations, clients: providerClients, prices: pricing },
      notify: { smtpUrl: config.smtpUrl, mailFrom: config.mailFrom, outbound: new OutboundHttp(config.outboundAllowlist), now },
    });
    const setupRunner = new SetupRunner(config.configsDir, catalog, controlStore, logger);
    const registry = new PipelineRegistry(config.configsDir, catalog, controlStore);
    const admission = new Admission(metrics);
    metrics.observeQueue(() => controlStore.queue.depth(now()));
    const executor = new RunExecutor(controlStore, catalog, config.configsDir, metrics, logger, now);
    const worker = new QueueWorker(controlStore, executor, (org, id) => runs.loadAdmitted(org, id), logger, now, {
      owner: `${os.hostname()}:${process.pid}:${newId().slice(-8)}`,
      concurrency: config.workerConcurrency,
      leaseMs: config.queueLeaseMs,
      pollMs: config.queuePollMs,
      retryDelayMs: 1000,
      shutdownGraceMs: config.shutdownGraceMs,
    });
    const runs: RunService = new RunService(controlStore, registry, executor, worker, admission, { environment: config.environment, projectId: config.gcpProjectId, now });
    await recoverInterruptedRuns(runs, controlStore, logger, now);
    const schedules = new ScheduleService(controlStore, registry, admission, () => worker.wake(), logger, { environment: config.environment, projectId: config.gcpProjectId, now });
    const ticker = config.schedulerEnabled ? new CronTicker(schedules, config.schedulerTickMs, logger) : undefined;
    const auth = new AuthService(rootKey, controlStore, logger, { cacheTtlMs: config.apiKeyCacheTtlMs });
    const services = {
      auth,
      audit: new AuditService(controlStore, logger, now),
      bootstrap: new BootstrapService(setupRunner, auth),
      organizations: new OrganizationService(controlStore, warehouse, plans, setupRunner, auth, now),
      apiKeys: new ApiKeyService(controlStore, auth, now),
      health: new HealthService(controlStore, warehouse, logger),
      runs,
      pipelines: new PipelineService(controlStore, registry, now),
      schedules,
      backfills: new BackfillService(controlStore, registry, admission, () => worker.wake(), { environment: config.environment, projectId: config.gcpProjectId, now }),
      pipelineDryrun: new PipelineDryrun(controlStore, registry, catalog, config.configsDir, logger, { environment: config.environment, projectId: config.gcpProjectId, now }),
      integrations,
      pricing,
      metrics,
      pipelineSchema: pipelineJsonSchema(catalog),
    };
    const app = await buildApp(services, {
      logger,
      version: VERSION,
      environment: config.environment,
      enableApiDocs: config.enableApiDocs,
      corsOrigins: config.corsOrigins,
      bodyLimitBytes: config.bodyLimitBytes,
      rateLimitPerKey: config.rateLimitPerKey,
      rateLimitPerAddress: config.rateLimitPerAddress,
    });
    worker.start();
    ticker?.start();
    return {
      app,
      services,
      worker,
      controlStore,
      warehouse,
      async close() {
        // Together: runs are cancelled while the server stops accepting, so requests waiting on a
        // run (?wait=true) are answered instead of holding the close.
        await ticker?.stop();
        await Promise.all([app.close(), worker.close()]);
        await auth.close();
        await db.close();
      },
    };
  } catch (e) {
    await db.close();
    throw e;
  }
}

/**
 * The control store alone, for maintenance commands run while the service is stopped (embedded
 * mode: the DuckDB file admits one process at a time).
 */
export async function openControlStore(config: Config): Promise<{ store: ControlStore; close(): Promise<void> }> {
  if (config.controlStore !== 'duckdb') throw new Error(`CONTROL_STORE=${config.controlStore} is not available in this version`);
  let db: DuckDbDatabase;
  try {
    db = await DuckDbDatabase.open(config.duckdbPath, { readableDirectories: [] });
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e);
    throw new Error(/lock/i.test(message) ? `${config.duckdbPath} is in use: stop the service first (embedded mode allows one process)` : message);
  }
  return { store: await DuckDbControlStore.open(db), close: () => db.close() };
}

/**
 * Embedded mode runs everything in this one process (the DuckDB file admits no other), so leases a
 * previous process held are void: they are expired now and the worker retries those runs as their
 * next attempt. Active runs without a queue item (left by an older version) are closed as FAILED.
 */
async function recoverInterruptedRuns(runs: RunService, store: ControlStore, logger: Logger, now: () => Date): Promise<void> {
  if ((await store.missingCentralTables(['org_meta_pipeline_runs', 'org_usage_quotas', 'org_pipeline_execution_queue'])).length > 0) return; // not bootstrapped yet
  const leases = await store.queue.expireLeases(now());
  const orphans = await runs.recoverInterrupted();
  if (leases + orphans > 0) logger.warn({ leases, orphans, dataset: CENTRAL_DATASET }, 'runs interrupted by the previous stop: retrying those in the queue');
}
