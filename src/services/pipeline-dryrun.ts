import type { Logger } from 'pino';
import type { ControlStore } from '../control-store/control-store.js';
import { AppError, errorMessage, isAppError } from '../core/errors.js';
import { newId } from '../core/ids.js';
import type { ProcessorCatalog } from '../pipeline/processor.js';
import { utcDay } from '../pipeline/resolve.js';
import { renderStepConfig } from '../pipeline/runner.js';
import { RUNNABLE_STATUSES } from './organization-service.js';
import type { PipelineRegistry } from './pipeline-registry.js';
import { prepareRun, type PreparationOptions, type RunRoute } from './run-preparation.js';
import type { TriggerRequest } from './run-service.js';

/**
 * `POST /pipelines/dryrun/...`: everything a run would check before it starts — parameters, plan
 * and quotas, and each step's rendered config (SQL scope, destinations, recipients, URLs) — with
 * nothing run, written or counted. Same contract as the onboarding dry run: 200 with the checks,
 * or 422 DRYRUN_FAILED carrying them.
 */
export interface DryrunCheck {
  readonly name: string;
  readonly passed: boolean;
  readonly detail: string;
}

export class PipelineDryrun {
  constructor(
    private readonly store: ControlStore,
    private readonly registry: PipelineRegistry,
    private readonly catalog: ProcessorCatalog,
    private readonly configsDir: string,
    private readonly logger: Logger,
    private readonly opts: PreparationOptions & { readonly now: () => Date },
  ) {}

  async dryrun(orgSlug: string, route: RunRoute, body: TriggerRequest): Promise<Record<string, unknown>> {
    const now = this.opts.now();
    const checks: DryrunCheck[] = [];
    const check = (name: string, passed: boolean, detail: string): void => void checks.push({ name, passed, detail });
    let prepared: Awaited<ReturnType<typeof prepareRun>>;
    try {
      prepared = await prepareRun(this.store, this.registry, this.opts, orgSlug, route, body, newId(), now);
    } catch (e) {
      if (!isAppError(e) || e.code !== 'INVALID_PARAMETER') throw e;
      check('parameters_valid', false, e.message);
      throw failed(checks);
    }
    const { pipeline, profile, resolved, pipelineId } = prepared;
    check('parameters_valid', true, Object.entries(resolved.parameters).map(([k, v]) => `${k}=${String(v)}`).join(', '));
    await this.quotaChecks(orgSlug, now, check);

    for (const step of pipeline.spec.steps) {
      const processor = this.catalog.get(step.psType);
      try {
        const config = renderStepConfig(this.catalog, step, resolved.variables);
        await processor?.preflight?.(
          {
            orgSlug,
            dataset: profile.dataset_id,
            pipelineLoggingId: resolved.variables.pipeline_logging_id?.value as string,
            stepId: step.stepId,
            attempt: 1,
            pipelineDir: pipeline.spec.dir,
            configsDir: this.configsDir,
            inputs: resolved.parameters,
            variables: resolved.variables,
            outputs: new Map(),
            run: { pipelineId, status: 'RUNNING', failures: [] },
            signal: new AbortController().signal,
            logger: this.logger,
          },
          config as never,
        );
        check(`step:${step.stepId}`, true, `${step.psType}${processor?.preflight === undefined ? ' (nothing to check before running)' : ''}`);
      } catch (e) {
        check(`step:${step.stepId}`, false, errorMessage(e));
      }
    }
    if (checks.some((c) => !c.passed)) throw failed(checks);
    return {
      valid: true,
      checks,
      pipeline_id: pipelineId,
      pipeline_path: pipeline.path,
      parameters: resolved.parameters,
      steps: pipeline.spec.steps.map((s) => ({ step_id: s.stepId, ps_type: s.psType, depends_on: s.dependsOn, trigger: s.trigger })),
    };
  }

  /** The plan as admission would see it now (informational: admission decides atomically). */
  private async quotaChecks(orgSlug: string, now: Date, check: (name: string, passed: boolean, detail: string) => void): Promise<void> {
    const sub = await this.store.orgs.getSubscription(orgSlug);
    const today = utcDay(now);
    const runnable = sub !== undefined && RUNNABLE_STATUSES.includes(sub.status) && !(sub.status === 'TRIAL' && sub.trial_end_date !== null && sub.trial_end_date < today);
    check('subscription_allows_runs', runnable, `plan ${sub?.plan_name ?? '-'}, status ${sub?.status ?? 'missing'}`);
    if (sub === undefined) return;
    const usedToday = (await this.store.orgs.getUsage(orgSlug, today))?.pipelines_run_today ?? 0;
    const usedMonth = await this.store.orgs.monthRuns(orgSlug, today);
    const active = await this.store.runs.countActive(orgSlug);
    check('daily_limit', usedToday < sub.daily_limit, `${usedToday} of ${sub.daily_limit} used today`);
    check('monthly_limit', usedMonth < sub.monthly_limit, `${usedMonth} of ${sub.monthly_limit} used this month`);
    check('concurrent_limit', active < sub.concurrent_limit, `${active} of ${sub.concurrent_limit} running`);
  }
}

const failed = (checks: readonly DryrunCheck[]): AppError =>
  new AppError('DRYRUN_FAILED', `${checks.filter((c) => !c.passed).length} check(s) failed: ${checks.filter((c) => !c.passed).map((c) => c.name).join(', ')}`, {
    extensions: { valid: false, checks },
  });
