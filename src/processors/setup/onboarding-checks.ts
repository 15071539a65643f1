import { CENTRAL_DATASET } from '../../control-store/control-store.js';
import { isEmail } from '../../core/email.js';
import { AppError, errorMessage, type ErrorCode } from '../../core/errors.js';
import type { OnboardingRequest } from '../../core/onboarding-request.js';
import { checkOrgSlug, SLUG_RULE } from '../../core/org-slug.js';
import { isWellFormedText } from '../../core/text.js';
import type { SetupDeps } from './setup-deps.js';

/**
 * The checks an onboarding request must pass, shared by the dry run (which reports them all) and
 * onboarding (which refuses on the first failure, with that check's error code).
 */

export interface CheckResult {
  readonly name: string;
  readonly passed: boolean;
  readonly detail: string;
  /** The error a failure maps to when onboarding (not part of the API answer). */
  readonly code?: ErrorCode;
}

const CENTRAL_TABLES_NEEDED = ['org_profiles', 'org_api_keys', 'org_subscriptions', 'org_usage_quotas', 'org_meta_pipeline_runs', 'org_meta_step_logs'];
// Control characters have no place in a display name (they break logs and emails).
// eslint-disable-next-line no-control-regex
const CONTROL_CHARS = /[\u0000-\u001f\u007f]/;

export async function runOnboardingChecks(req: OnboardingRequest, deps: SetupDeps): Promise<CheckResult[]> {
  const checks: CheckResult[] = [];
  const add = (name: string, passed: boolean, ok: string, bad: string, code: ErrorCode): void => {
    checks.push(passed ? { name, passed, detail: ok } : { name, passed, detail: bad, code });
  };
  const slugProblem = checkOrgSlug(req.org_slug);
  add('org_slug_format', slugProblem !== 'format', 'slug format is valid', `org_slug must be ${SLUG_RULE}`, 'INVALID_ORG_SLUG');
  let reserved = slugProblem === 'reserved';
  if (slugProblem !== 'format') {
    reserved ||= (await deps.warehouse.reservedDatasetNames().catch((): string[] => [])).includes(req.org_slug);
    add('org_slug_not_reserved', !reserved, 'slug is not reserved', `"${req.org_slug}" is a reserved name`, 'RESERVED_ORG_SLUG');
  }
  const company = req.company_name.trim();
  add(
    'company_name_valid',
    company.length >= 1 && company.length <= 200 && !CONTROL_CHARS.test(company) && isWellFormedText(company),
    'company name is valid',
    'company_name must be 1–200 characters without control characters',
    'VALIDATION_FAILED',
  );
  add('admin_email_valid', isEmail(req.admin_email) && isWellFormedText(req.admin_email), 'email address is valid', 'admin_email is not a valid email address', 'INVALID_EMAIL');
  const plan = req.subscription_plan ?? deps.plans.defaultPlan;
  add('subscription_plan_known', deps.plans.get(plan) !== undefined, `plan ${plan} exists`, `unknown plan; choose one of ${deps.plans.names().join(', ')}`, 'UNKNOWN_PLAN');

  let bootstrapped = false;
  try {
    const missing = await deps.controlStore.missingCentralTables(CENTRAL_TABLES_NEEDED);
    bootstrapped = missing.length === 0;
    add('bootstrap_done', bootstrapped, 'central tables exist', `central tables missing (${missing.join(', ')}); run POST /api/v1/admin/bootstrap first`, 'NOT_BOOTSTRAPPED');
  } catch (e) {
    deps.logger.error({ err: errorMessage(e) }, 'onboarding check: control store unreachable');
    add('bootstrap_done', false, '', 'control store unreachable', 'CONTROL_STORE_UNAVAILABLE');
  }
  try {
    await deps.warehouse.ping();
    const central = await deps.warehouse.datasetExists(CENTRAL_DATASET);
    add('warehouse_reachable', central || !bootstrapped, 'warehouse is reachable', `warehouse dataset ${CENTRAL_DATASET} is missing`, 'NOT_BOOTSTRAPPED');
  } catch (e) {
    deps.logger.error({ err: errorMessage(e) }, 'onboarding check: warehouse unreachable');
    add('warehouse_reachable', false, '', 'warehouse unreachable', 'WAREHOUSE_UNAVAILABLE');
  }
  if (slugProblem === undefined && !reserved && bootstrapped) {
    const existing = await deps.controlStore.orgs.getProfile(req.org_slug);
    if (existing?.status === 'DELETED') {
      add('org_slug_available', false, '', `"${req.org_slug}" belongs to a deleted organization; purge it before reuse`, 'ORG_DELETED');
    } else {
      add('org_slug_available', existing === undefined, 'slug is available', `organization "${req.org_slug}" already exists`, 'ORG_EXISTS');
    }
    if (existing === undefined) {
      // A dataset left by an earlier tenant must never be adopted with its data. Views are
      // recreated by onboarding, so a dataset holding only views (an interrupted attempt) is fine.
      const leftovers = (await deps.warehouse.datasetExists(req.org_slug)) ? await deps.warehouse.listTables(req.org_slug) : [];
      add(
        'org_dataset_empty',
        leftovers.length === 0,
        'no data exists under this name',
        `dataset "${req.org_slug}" already holds tables (${leftovers.slice(0, 5).join(', ')}); drop it or choose another slug`,
        'DATASET_NOT_EMPTY',
      );
    }
  }
  return checks;
}

/** The API shape of a check (the internal error code stays internal). */
export const publicCheck = ({ name, passed, detail }: CheckResult): { name: string; passed: boolean; detail: string } => ({ name, passed, detail });

export function firstFailure(checks: readonly CheckResult[]): AppError | undefined {
  const failed = checks.find((c) => !c.passed);
  if (failed === undefined) return undefined;
  return new AppError(failed.code ?? 'VALIDATION_FAILED', failed.detail, { extensions: { checks: checks.map(publicCheck) } });
}
