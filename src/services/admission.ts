import type { Repositories } from '../control-store/control-store.js';
import type { RunRecord } from '../control-store/records.js';
import { AppError } from '../core/errors.js';
import type { Metrics } from '../observability/metrics.js';
import { utcDay } from '../pipeline/resolve.js';
import { RUNNABLE_STATUSES } from './organization-service.js';

/**
 * Admission against the plan (DESIGN.md §7), inside the caller's transaction: subscription status
 * and trial, then the day's usage row is locked so admissions of one org serialize, then exact
 * daily, monthly and (for runs a person triggered) concurrent counts. Over a limit: 429 with
 * Retry-After and the limit named. A refused run is never counted.
 */
export interface AdmissionOptions {
  /** Manual runs are refused at the concurrent limit; scheduled and backfill runs wait in the queue instead. */
  readonly concurrent: boolean;
  /** Runs admitted at once (a backfill): all or none. */
  readonly count?: number;
}

export interface Admitted {
  readonly today: string;
  readonly usedMonth: number;
  readonly active: number;
}

export class Admission {
  constructor(private readonly metrics: Metrics) {}

  /** Throws the refusal; otherwise the counts to record the runs with. */
  async check(r: Repositories, org: string, now: Date, opts: AdmissionOptions): Promise<Admitted> {
    const n = opts.count ?? 1;
    const sub = await r.orgs.getSubscription(org);
    if (sub === undefined || !RUNNABLE_STATUSES.includes(sub.status)) {
      throw new AppError('SUBSCRIPTION_INACTIVE', `subscription is ${sub?.status ?? 'missing'}; runs need TRIAL or ACTIVE`);
    }
    const today = utcDay(now);
    if (sub.status === 'TRIAL' && sub.trial_end_date !== null && sub.trial_end_date < today) {
      throw new AppError('SUBSCRIPTION_INACTIVE', `the trial ended on ${sub.trial_end_date}`);
    }
    await r.orgs.lockUsage(org, today, now);
    const usedToday = (await r.orgs.getUsage(org, today))?.pipelines_run_today ?? 0;
    const usedMonth = await r.orgs.monthRuns(org, today);
    const active = await r.runs.countActive(org, { queuedManualOnly: true });
    const refuse = (code: 'DAILY_QUOTA_EXCEEDED' | 'MONTHLY_QUOTA_EXCEEDED' | 'CONCURRENT_LIMIT_REACHED', name: string, limit: number, used: number, retryAfter: number): never => {
      this.metrics.quotaRefused(name);
      const asked = n > 1 ? `; ${n} runs asked for` : '';
      throw new AppError(code, `${name} of ${limit} runs reached (${used} used${asked}) on plan ${sub.plan_name}`, {
        retryAfter,
        extensions: { limit: { name, value: limit, used, plan: sub.plan_name } },
      });
    };
    if (usedToday + n > sub.daily_limit) refuse('DAILY_QUOTA_EXCEEDED', 'daily_limit', sub.daily_limit, usedToday, secondsUntil(nextUtcDay(now), now));
    if (usedMonth + n > sub.monthly_limit) refuse('MONTHLY_QUOTA_EXCEEDED', 'monthly_limit', sub.monthly_limit, usedMonth, secondsUntil(nextUtcMonth(now), now));
    if (opts.concurrent && active + n > sub.concurrent_limit) refuse('CONCURRENT_LIMIT_REACHED', 'concurrent_limit', sub.concurrent_limit, active, 10);
    return { today, usedMonth, active };
  }

  /** check, then the run row and its count, in the caller's transaction. */
  async admit(r: Repositories, run: RunRecord, now: Date, opts: AdmissionOptions): Promise<void> {
    const a = await this.check(r, run.org_slug, now, opts);
    await r.runs.insertRun(run);
    await r.orgs.recordAdmission(run.org_slug, a.today, a.usedMonth + 1, a.active + 1, now);
  }
}

const nextUtcDay = (d: Date): Date => new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate() + 1));
const nextUtcMonth = (d: Date): Date => new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1));
const secondsUntil = (t: Date, now: Date): number => Math.max(1, Math.ceil((t.getTime() - now.getTime()) / 1000));
