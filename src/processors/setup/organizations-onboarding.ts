import fs from 'node:fs';
import path from 'node:path';
import { Type } from '@sinclair/typebox';
import { AppError, errorMessage } from '../../core/errors.js';
import { newId } from '../../core/ids.js';
import type { OrgSlug } from '../../core/org-slug.js';
import { generateApiKey } from '../../crypto/api-keys.js';
import { defineProcessor } from '../../pipeline/processor.js';
import { firstFailure, runOnboardingChecks } from './onboarding-checks.js';
import type { OnboardingRequest } from '../../core/onboarding-request.js';
import type { SetupDeps } from './setup-deps.js';

/**
 * setup.organizations.onboarding: creates an organization all-or-nothing.
 * Order: checks → dataset and views (warehouse) → one control-store transaction with profile,
 * subscription, usage row and API key. The transaction is the commit point; if anything fails
 * the dataset is dropped again (when this call created it), so the request can simply be retried.
 */
const Config = Type.Object(
  {
    dataset_labels: Type.Record(Type.String({ pattern: '^[a-z][a-z0-9_-]{0,62}$' }), Type.String({ maxLength: 63 }), { default: {} }),
    views: Type.Array(
      Type.Object(
        {
          name: Type.String({ pattern: '^[a-z][a-z0-9_]{0,63}$' }),
          sql_file: Type.String({ description: 'SQL with {table:dataset.table} references and {org_slug} (rendered as a string literal).' }),
        },
        { additionalProperties: false },
      ),
      { default: [] },
    ),
  },
  { additionalProperties: false },
);

export const organizationsOnboardingProcessor = (deps: SetupDeps) =>
  defineProcessor({
    psType: 'setup.organizations.onboarding',
    description: 'Create an organization: dataset, views, profile, subscription, usage row and API key.',
    configSchema: Config,
    async run(ctx, config) {
      const req = ctx.inputs as OnboardingRequest;
      const refused = firstFailure(await runOnboardingChecks(req, deps));
      if (refused !== undefined) throw refused;
      const slug = req.org_slug as OrgSlug; // passed org_slug_format and org_slug_not_reserved
      const plan = deps.plans.get(req.subscription_plan ?? deps.plans.defaultPlan);
      if (plan === undefined) throw new AppError('UNKNOWN_PLAN', 'unknown plan'); // excluded by the checks
      // Read the view templates before creating anything: a broken config must not leave a dataset behind.
      const views = config.views.map((v) => ({ name: v.name, sql: renderViewSql(fs.readFileSync(path.resolve(ctx.pipelineDir, v.sql_file), 'utf8'), slug) }));

      const now = deps.now();
      const key = generateApiKey(slug);
      const datasetCreated = await deps.warehouse.createDataset(slug, {
        description: `Convergence data of ${slug}`,
        labels: { ...config.dataset_labels, org_slug: slug },
      });
      try {
        for (const v of views) await deps.warehouse.createOrReplaceView(slug, v.name, v.sql);
        await deps.controlStore.transaction(async (tx) => {
          await tx.orgs.insertProfile({
            org_slug: slug,
            company_name: req.company_name.trim(),
            admin_email: req.admin_email,
            status: 'ACTIVE',
            dataset_id: slug,
            created_at: now,
            updated_at: now,
            deleted_at: null,
          });
          await tx.orgs.insertSubscription({
            org_slug: slug,
            plan_name: plan.name,
            status: 'ACTIVE',
            daily_limit: plan.daily_limit,
            monthly_limit: plan.monthly_limit,
            concurrent_limit: plan.concurrent_limit,
            trial_end_date: null,
            created_at: now,
            updated_at: now,
          });
          await tx.orgs.insertUsage({
            org_slug: slug,
            usage_date: now.toISOString().slice(0, 10),
            pipelines_run_today: 0,
            pipelines_run_month: 0,
            concurrent_running: 0,
            pipelines_failed_today: 0,
            updated_at: now,
          });
          await tx.apiKeys.insert({
            api_key_id: newId(),
            org_slug: slug,
            api_key_hash: key.hash,
            fingerprint: key.fingerprint,
            is_active: true,
            created_at: now,
            created_by: 'root',
            revoked_at: null,
            revoked_reason: null,
            expires_at: null,
            last_used_at: null,
          });
        });
      } catch (e) {
        // Someone else onboarded the same slug meanwhile: their dataset must stay.
        const winner = await deps.controlStore.orgs.getProfile(slug).catch(() => undefined);
        if (winner !== undefined) throw new AppError('ORG_EXISTS', `organization "${slug}" already exists`, { cause: e });
        if (datasetCreated) {
          await deps.warehouse.dropDataset(slug).catch((dropError: unknown) => {
            ctx.logger.error({ err: errorMessage(dropError), org_slug: slug }, 'onboarding rollback could not drop the dataset');
          });
        }
        throw e;
      }
      return {
        metadata: { org_slug: slug, plan: plan.name, dataset_created: datasetCreated, views: views.map((v) => v.name), api_key_fingerprint: key.fingerprint },
        output: {
          org_slug: slug,
          api_key: key.key,
          api_key_fingerprint: key.fingerprint,
          subscription_plan: plan.name,
          subscription_status: 'ACTIVE',
          limits: { daily_limit: plan.daily_limit, monthly_limit: plan.monthly_limit, concurrent_limit: plan.concurrent_limit },
          dataset_id: slug,
          dataset_created: datasetCreated,
          views_created: views.map((v) => v.name),
          created_at: now.toISOString(),
        },
      };
    },
  });

/** `{org_slug}` becomes a SQL string literal; safe because an OrgSlug is [a-z0-9_] only. */
export function renderViewSql(template: string, slug: OrgSlug): string {
  return template.replace(/\{org_slug\}/g, `'${slug}'`);
}
