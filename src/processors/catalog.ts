import type { ProcessorCatalog, Processor } from '../pipeline/processor.js';
import { dataQualityProcessor } from './data-quality/check.js';
import type { DataDeps } from './data-deps.js';
import { bqEtlProcessor } from './gcp/bq-etl.js';
import { emailNotificationProcessor } from './notify/email.js';
import { slackNotificationProcessor, webhookProcessor } from './notify/http-notify.js';
import type { NotifyDeps } from './notify/notify-deps.js';
import { onetimeBootstrapProcessor } from './setup/onetime-bootstrap.js';
import { organizationsDryrunProcessor } from './setup/organizations-dryrun.js';
import { organizationsOnboardingProcessor } from './setup/organizations-onboarding.js';
import type { SetupDeps } from './setup/setup-deps.js';
import { anthropicCostProcessor, anthropicUsageProcessor } from './anthropic/anthropic-sources.js';
import { deepSeekBalanceProcessor } from './deepseek/deepseek-balance.js';
import { deepSeekUsageProcessor } from './deepseek/deepseek-usage.js';
import { focusConvertProcessor } from './focus/focus-convert.js';
import { billingExtractProcessor } from './gcp/billing-extract.js';
import { openAiCostProcessor, openAiUsageProcessor } from './openai/openai-sources.js';
import type { SourceDeps } from './source-deps.js';

/** Every processor, by `ps_type`. New step types are registered here and nowhere else. */
export interface ProcessorDeps {
  readonly setup: SetupDeps;
  readonly data: DataDeps;
  readonly notify: NotifyDeps;
  readonly sources: SourceDeps;
}

export function createProcessorCatalog(deps: ProcessorDeps): ProcessorCatalog {
  const processors: Processor[] = [
    onetimeBootstrapProcessor(deps.setup),
    organizationsDryrunProcessor(deps.setup),
    organizationsOnboardingProcessor(deps.setup),
    bqEtlProcessor(deps.data),
    dataQualityProcessor(deps.data),
    billingExtractProcessor(deps.sources),
    openAiUsageProcessor(deps.sources),
    openAiCostProcessor(deps.sources),
    anthropicUsageProcessor(deps.sources),
    anthropicCostProcessor(deps.sources),
    deepSeekBalanceProcessor(deps.sources),
    deepSeekUsageProcessor(deps.sources),
    focusConvertProcessor(deps.data),
    emailNotificationProcessor(deps.notify),
    slackNotificationProcessor(deps.notify),
    webhookProcessor(deps.notify),
  ];
  const catalog = new Map<string, Processor>();
  for (const p of processors) {
    if (catalog.has(p.psType)) throw new Error(`processor ${p.psType} registered twice`);
    catalog.set(p.psType, p);
  }
  return catalog;
}

/** Processors an org's own pipelines may not use: platform setup is the operator's. */
export const PLATFORM_ONLY_PREFIX = 'setup.';

/** The catalog for describing processors (JSON Schema, docs): configs only, nothing that runs. */
export function processorCatalogForSchema(): ProcessorCatalog {
  // Factories may keep references to their deps; nothing here ever calls run().
  const unused = {} as never;
  return createProcessorCatalog({ setup: unused, data: unused, notify: unused, sources: unused });
}
