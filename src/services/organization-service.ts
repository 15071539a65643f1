import type { ControlStore } from '../control-store/control-store.js';
import type { OrgProfile, Subscription, SubscriptionStatus } from '../control-store/records.js';
import { AppError } from '../core/errors.js';
import type { OnboardingRequest } from '../core/onboarding-request.js';
import type { PlanCatalog } from '../plans/plans.js';
import type { Warehouse } from '../warehouse/warehouse.js';
import type { AuthService } from './auth-service.js';
import type { CallContext } from './principal.js';
import type { SetupRunner } from './setup-runner.js';

/** Organization lifecycle: dry run, onboarding, profile, plan, quota, offboarding and purge. */
export interface OrganizationView {
  readonly org_slug: string;
  readonly company_name: string;
  readonly admin_email: string;
  readonly status: OrgProfile['status'];
  readonly dataset_id: string;
  readonly created_at: string;
  readonly updated_at: string;
  readonly deleted_at: string | null;
  readonly subscription: SubscriptionView | null;
}

export type SubscriptionView = Omit<Subscription, 'org_slug' | 'created_at' | 'updated_at'> & { readonly updated_at: string };

export interface SubscriptionChange {
  readonly plan?: string;
  readonly status?: SubscriptionStatus;
  readonly trial_end_date?: string | null;
}

export { SUBSCRIPTION_STATUSES } from '../control-store/records.js';

export const RUNNABLE_STATUSES: readonly SubscriptionStatus[] = ['TRIAL', 'ACTIVE'];

export class OrganizationService {
  constructor(
    private readonly store: ControlStore,
    private readonly warehouse: Warehouse,
    private readonly plans: PlanCatalog,
    private readonly setup: SetupRunner,
    private readonly auth: AuthService,
    private readonly now: () => Date = () => new Date(),
  ) {}

  async dryrun(req: OnboardingRequest, call: CallContext): Promise<{ valid: true; checks: { name: string; passed: boolean; detail: string }[]; pipeline_logging_id: string }> {
    const run = await this.setup.run('dryrun', req.org_slug, { ...req }, call);
    const checks = run.outputs.get('validate')?.checks;
    return { valid: true, checks: Array.isArray(checks) ? (checks as { name: string; passed: boolean; detail: string }[]) : [], pipeline_logging_id: run.pipelineLoggingId };
  }

  async onboard(req: OnboardingRequest, call: CallContext): Promise<Record<string, unknown>> {
    const run = await this.setup.run('onboarding', req.org_slug, { ...req }, call);
    const output = run.outputs.get('onboard');
    if (output === undefined) throw new Error('onboarding produced no result');
    return { ...output, pipeline_logging_id: run.pipelineLoggingId, message: 'Organization onboarded. Save the api_key now: it is shown only once.' };
  }

  /** The organization as its owner or the operator sees it; 404 when it does not exist. */
  async get(orgSlug: string): Promise<OrganizationView> {
    const profile = await this.requireProfile(orgSlug);
    const sub = await this.store.orgs.getSubscription(orgSlug);
    return toView(profile, sub);
  }

  async changeSubscription(orgSlug: string, change: SubscriptionChange): Promise<SubscriptionView> {
    await this.requireProfile(orgSlug);
    let limits = {};
    if (change.plan !== undefined) {
      const plan = this.plans.get(change.plan);
      if (plan === undefined) throw new AppError('UNKNOWN_PLAN', `unknown plan "${change.plan}"; choose one of ${this.plans.names().join(', ')}`);
      limits = { plan_name: plan.name, daily_limit: plan.daily_limit, monthly_limit: plan.monthly_limit, concurrent_limit: plan.concurrent_limit };
    }
    await this.store.transaction(async (tx) => {
      // Checked inside the transaction so a concurrent offboarding cannot be undone.
      if ((await tx.orgs.getProfile(orgSlug))?.status === 'DELETED') throw new AppError('ORG_DELETED', `organization "${orgSlug}" is deleted`);
      await tx.orgs.updateSubscription(
        orgSlug,
        { ...limits, ...(change.status === undefined ? {} : { status: change.status }), ...(change.trial_end_date === undefined ? {} : { trial_end_date: change.trial_end_date }) },
        this.now(),
      );
    });
    const sub = await this.store.orgs.getSubscription(orgSlug);
    if (sub === undefined) throw new AppError('ORG_NOT_FOUND', `organization "${orgSlug}" not found`);
    return toSubscriptionView(sub);
  }

  async quota(orgSlug: string): Promise<Record<string, unknown>> {
    const [sub, profile] = await Promise.all([this.store.orgs.getSubscription(orgSlug), this.requireProfile(orgSlug)]);
    if (sub === undefined) throw new AppError('ORG_NOT_FOUND', `organization "${profile.org_slug}" not found`);
    const today = this.now().toISOString().slice(0, 10);
    const [usage, month] = await Promise.all([this.store.orgs.getUsage(orgSlug, today), this.store.orgs.monthRuns(orgSlug, today)]);
    const runToday = usage?.pipelines_run_today ?? 0;
    const running = usage?.concurrent_running ?? 0;
    return {
      org_slug: orgSlug,
      plan_name: sub.plan_name,
      subscription_status: sub.status,
      usage_date: today,
      pipelines_run_today: runToday,
      daily_limit: sub.daily_limit,
      daily_remaining: Math.max(0, sub.daily_limit - runToday),
      pipelines_run_month: month,
      monthly_limit: sub.monthly_limit,
      monthly_remaining: Math.max(0, sub.monthly_limit - month),
      concurrent_running: running,
      concurrent_limit: sub.concurrent_limit,
      runs_allowed: RUNNABLE_STATUSES.includes(sub.status) && runToday < sub.daily_limit && month < sub.monthly_limit,
    };
  }

  /** Revokes keys, stops schedules and marks the org deleted, in one transaction. Idempotent. */
  async offboard(orgSlug: string, opts: { dropDataset: boolean }): Promise<Record<string, unknown>> {
    await this.requireProfile(orgSlug);
    const at = this.now();
    const { revoked, schedules } = await this.store.transaction(async (tx) => {
      await tx.orgs.markDeleted(orgSlug, at);
      await tx.orgs.updateSubscription(orgSlug, { status: 'CANCELLED' }, at);
      const revokedHashes = await tx.apiKeys.revokeAllForOrg(orgSlug, at, 'offboarded');
      return { revoked: revokedHashes, schedules: await tx.orgs.deactivateSchedules(orgSlug, at) };
    });
    this.auth.evict(revoked);
    const datasetDropped = opts.dropDataset ? await this.warehouse.dropDataset(orgSlug) : false;
    const deletedAt = (await this.store.orgs.getProfile(orgSlug))?.deleted_at ?? at; // the first offboarding's time
    return {
      org_slug: orgSlug,
      status: 'DELETED',
      api_keys_revoked: revoked.length,
      schedules_deactivated: schedules,
      dataset_dropped: datasetDropped,
      deleted_at: deletedAt.toISOString(),
    };
  }

  /** Removes every trace of a deleted org so its slug can be used again. */
  async purge(orgSlug: string): Promise<Record<string, unknown>> {
    const profile = await this.requireProfile(orgSlug);
    if (profile.status !== 'DELETED') {
      throw new AppError('ORG_NOT_DELETED', `organization "${orgSlug}" is not deleted; DELETE /api/v1/organizations/${orgSlug} first`);
    }
    await this.store.transaction((tx) => tx.orgs.purge(orgSlug));
    this.auth.clear();
    const datasetDropped = await this.warehouse.dropDataset(orgSlug);
    return { org_slug: orgSlug, purged: true, dataset_dropped: datasetDropped };
  }

  private async requireProfile(orgSlug: string): Promise<OrgProfile> {
    const profile = await this.store.orgs.getProfile(orgSlug);
    if (profile === undefined) throw orgNotFound(orgSlug);
    return profile;
  }
}

/** The one answer for an org that does not exist or is not the caller's. */
export const orgNotFound = (orgSlug: string): AppError => new AppError('ORG_NOT_FOUND', `organization "${orgSlug}" not found`);

const iso = (d: Date | null): string | null => (d === null ? null : d.toISOString());

function toSubscriptionView(s: Subscription): SubscriptionView {
  return {
    plan_name: s.plan_name,
    status: s.status,
    daily_limit: s.daily_limit,
    monthly_limit: s.monthly_limit,
    concurrent_limit: s.concurrent_limit,
    trial_end_date: s.trial_end_date,
    updated_at: s.updated_at.toISOString(),
  };
}

function toView(p: OrgProfile, s: Subscription | undefined): OrganizationView {
  return {
    org_slug: p.org_slug,
    company_name: p.company_name,
    admin_email: p.admin_email,
    status: p.status,
    dataset_id: p.dataset_id,
    created_at: p.created_at.toISOString(),
    updated_at: p.updated_at.toISOString(),
    deleted_at: iso(p.deleted_at),
    subscription: s === undefined ? null : toSubscriptionView(s),
  };
}
