import type { ProcessorCatalog, Processor } from '../pipeline/processor.js';
import { onetimeBootstrapProcessor } from './setup/onetime-bootstrap.js';
import { organizationsDryrunProcessor } from './setup/organizations-dryrun.js';
import { organizationsOnboardingProcessor } from './setup/organizations-onboarding.js';
import type { SetupDeps } from './setup/setup-deps.js';

/** Every processor, by `ps_type`. New step types are registered here and nowhere else. */
export interface ProcessorDeps {
  readonly setup: SetupDeps;
}

export function createProcessorCatalog(deps: ProcessorDeps): ProcessorCatalog {
  const processors: Processor[] = [
    onetimeBootstrapProcessor(deps.setup),
    organizationsDryrunProcessor(deps.setup),
    organizationsOnboardingProcessor(deps.setup),
  ];
  const catalog = new Map<string, Processor>();
  for (const p of processors) {
    if (catalog.has(p.psType)) throw new Error(`processor ${p.psType} registered twice`);
    catalog.set(p.psType, p);
  }
  return catalog;
}
