import { Type } from '@sinclair/typebox';
import { AppError } from '../../core/errors.js';
import { defineProcessor } from '../../pipeline/processor.js';
import { publicCheck, runOnboardingChecks } from './onboarding-checks.js';
import type { OnboardingRequest } from '../../core/onboarding-request.js';
import type { SetupDeps } from './setup-deps.js';

/**
 * setup.organizations.dryrun: validates an onboarding request and creates nothing. Succeeds with
 * the list of checks, or fails with DRYRUN_FAILED carrying the same list.
 */
export const organizationsDryrunProcessor = (deps: SetupDeps) =>
  defineProcessor({
    psType: 'setup.organizations.dryrun',
    description: 'Validate an onboarding request (slug, email, plan, uniqueness, bootstrap, warehouse); creates nothing.',
    configSchema: Type.Object({}, { additionalProperties: false }),
    async run(ctx) {
      const checks = (await runOnboardingChecks(ctx.inputs as OnboardingRequest, deps)).map(publicCheck);
      const failed = checks.filter((c) => !c.passed);
      if (failed.length > 0) {
        throw new AppError('DRYRUN_FAILED', `${failed.length} of ${checks.length} checks failed: ${failed.map((c) => c.name).join(', ')}`, {
          extensions: { valid: false, checks },
        });
      }
      return { metadata: { checks: checks.length }, output: { valid: true, checks } };
    },
  });
