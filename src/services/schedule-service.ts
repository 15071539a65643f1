import type { Logger } from 'pino';
import type { ControlStore } from '../control-store/control-store.js';
import { MISSED_RUN_POLICIES, PRIORITY, type MissedRunPolicy, type RunRecord, type ScheduleRecord } from '../control-store/records.js';
import { AppError, errorMessage, isAppError } from '../core/errors.js';
import { newId } from '../core/ids.js';
import type { Admission } from './admission.js';
import { nextOccurrence, occurrencesBetween, parseCron } from './cron.js';
import type { PipelineRegistry } from './pipeline-registry.js';
import { actorOf, type CallContext } from './principal.js';
import { prepareRun, queuedRunRecord, type PreparationOptions, type PreparedRun } from './run-preparation.js';
import { queueItem } from './run-service.js';

/**
 * Schedules (`/api/v1/scheduler/configs`) and the cron tick that turns their occurrences into
 * queued runs, exactly once: the tick that moves a schedule's next_run_at on (a conditional
 * update) is the only one that enqueues, and each occurrence carries the dedupe key
 * `(schedule_id, scheduled_time)` in the queue. Scheduled runs are admitted against the daily and
 * monthly quotas; a refused occurrence is recorded as a FAILED run with the reason.
 */
export interface ScheduleInput {
  readonly pipeline_config: string;
  readonly schedule: string;
  readonly timezone?: string;
  readonly parameters?: Readonly<Record<string, unknown>>;
  readonly is_active?: boolean;
  readonly missed_run_policy?: MissedRunPolicy;
}

export { MISSED_RUN_POLICIES };

/** With policy `none`, an occurrence still fires if the tick comes this late. */
export const ON_TIME_GRACE_MS = 60_000;
/** With policy `all`, at most this many missed occurrences (the latest ones) are caught up; older ones are skipped. */
export const MAX_CATCH_UP = 100;

export class ScheduleService {
  constructor(
    private readonly store: ControlStore,
    private readonly registry: PipelineRegistry,
    private readonly admission: Admission,
    private readonly wake: () => void,
    private readonly logger: Logger,
    private readonly opts: PreparationOptions & { readonly now: () => Date },
  ) {}

  async create(call: CallContext, orgSlug: string, input: ScheduleInput): Promise<Record<string, unknown>> {
    const now = this.opts.now();
    const record = await this.validated(orgSlug, input, { schedule_id: newId(), created_at: now }, now);
    await this.store.schedules.insert(record);
    this.logger.info({ org_slug: orgSlug, schedule_id: record.schedule_id, by: actorOf(call.principal) }, 'schedule created');
    return view(record);
  }

  async list(orgSlug: string): Promise<{ schedules: Record<string, unknown>[] }> {
    return { schedules: (await this.store.schedules.list(orgSlug)).map(view) };
  }

  async get(orgSlug: string, id: string): Promise<Record<string, unknown>> {
    return view(await this.found(orgSlug, id));
  }

  /** Fields given replace the stored ones; the next occurrence is computed again from now. */
  async update(orgSlug: string, id: string, patch: Partial<ScheduleInput>): Promise<Record<string, unknown>> {
    const current = await this.found(orgSlug, id);
    const now = this.opts.now();
    const merged: ScheduleInput = {
      pipeline_config: patch.pipeline_config ?? current.pipeline,
      schedule: patch.schedule ?? current.cron,
      timezone: patch.timezone ?? current.timezone,
      parameters: patch.parameters ?? current.parameters ?? {},
      is_active: patch.is_active ?? current.is_active,
      missed_run_policy: patch.missed_run_policy ?? current.missed_run_policy,
    };
    const record = await this.validated(orgSlug, merged, { schedule_id: id, created_at: current.created_at, last_run_at: current.last_run_at }, now);
    if (!(await this.store.schedules.update(record))) throw notFound(id);
    return view(record);
  }

  async delete(orgSlug: string, id: string): Promise<void> {
    if (!(await this.store.schedules.delete(orgSlug, id))) throw notFound(id);
  }

  /** Enqueues every due occurrence; returns how many runs were queued and refused. */
  async tick(): Promise<{ queued: number; refused: number }> {
    const now = this.opts.now();
    let queued = 0;
    let refused = 0;
    for (const s of await this.store.schedules.due(now, 100)) {
      try {
        const r = await this.fire(s, now);
        queued += r.queued;
        refused += r.refused;
      } catch (e) {
        this.logger.error({ err: errorMessage(e), schedule_id: s.schedule_id, org_slug: s.org_slug }, 'schedule tick failed');
      }
    }
    if (queued > 0) this.wake();
    return { queued, refused };
  }

  private async fire(s: ScheduleRecord, now: Date): Promise<{ queued: number; refused: number }> {
    const expected = s.next_run_at as Date;
    const cron = parseCron(s.cron, s.timezone);
    const due = [expected, ...occurrencesBetween(cron, expected, now, 10_000)];
    const latest = due[due.length - 1] as Date;
    const fire =
      s.missed_run_policy === 'all' ? due.slice(-MAX_CATCH_UP) : s.missed_run_policy === 'latest' || now.getTime() - latest.getTime() <= ON_TIME_GRACE_MS ? [latest] : [];
    // Everything read from the store is read before the transaction (the embedded store has one session).
    const prepared = await Promise.all(fire.map(async (occ) => ({ occ, run: await this.prepare(s, occ) })));
    const counts = { queued: 0, refused: 0 };
    await this.store.transaction(async (r) => {
      if (!(await r.schedules.advance(s.schedule_id, expected, nextOccurrence(cron, now), fire.length > 0 ? latest : null, now))) return;
      for (const { occ, run } of prepared) {
        let refusal = typeof run === 'string' ? run : undefined;
        let admitted: Awaited<ReturnType<Admission['check']>> | undefined;
        if (refusal === undefined) {
          try {
            admitted = await this.admission.check(r, s.org_slug, now, { concurrent: false });
          } catch (e) {
            if (!isAppError(e)) throw e;
            refusal = `${e.code}: ${e.message}`;
          }
        }
        const record = this.runRecord(s, run, now, refusal);
        const item = { ...queueItem(record, PRIORITY.schedule, now, { dedupe_key: `${s.schedule_id}:${occ.toISOString()}`, schedule_id: s.schedule_id, scheduled_time: occ }), status: refusal === undefined ? ('QUEUED' as const) : ('DONE' as const) };
        if (!(await r.queue.enqueue(item))) continue; // this occurrence was enqueued before
        await r.runs.insertRun(record);
        if (admitted !== undefined) {
          await r.orgs.recordAdmission(s.org_slug, admitted.today, admitted.usedMonth + 1, admitted.active + 1, now);
          counts.queued++;
        } else counts.refused++;
      }
    });
    return counts;
  }

  /** The run an occurrence starts, with `today` at the occurrence (so `date: yesterday` is the day before it). */
  private async prepare(s: ScheduleRecord, occ: Date): Promise<PreparedRun | string> {
    const [provider = '', domain = '', pipeline = ''] = s.pipeline.split('/');
    try {
      return await prepareRun(this.store, this.registry, this.opts, s.org_slug, { provider, domain, pipeline }, { parameters: s.parameters ?? {} }, newId(), occ);
    } catch (e) {
      return `cannot run: ${errorMessage(e)}`;
    }
  }

  /** The run an occurrence becomes; refused (or unpreparable) ones are recorded FAILED with the reason. */
  private runRecord(s: ScheduleRecord, run: PreparedRun | string, now: Date, refusal: string | undefined): RunRecord {
    const trigger = { type: 'schedule', by: `schedule:${s.schedule_id}`, userId: null } as const;
    const queued: RunRecord =
      typeof run === 'string'
        ? { ...placeholderRun(s, now), trigger_type: trigger.type, trigger_by: trigger.by }
        : queuedRunRecord(run, run.resolved.variables.pipeline_logging_id?.value as string, trigger, now);
    return refusal === undefined ? queued : { ...queued, status: 'FAILED', end_time: now, error_message: `not run: ${refusal}` };
  }

  private async validated(orgSlug: string, input: ScheduleInput, keep: { schedule_id: string; created_at: Date; last_run_at?: Date | null }, now: Date): Promise<ScheduleRecord> {
    const timezone = input.timezone ?? 'UTC';
    const cron = parseCron(input.schedule, timezone);
    const segments = input.pipeline_config.split('/');
    if (segments.length !== 3) throw new AppError('VALIDATION_FAILED', 'pipeline_config is "provider/domain/pipeline" (e.g. gcp/cost/billing)');
    const [provider, domain, pipeline] = segments as [string, string, string];
    // The pipeline must exist for this org, and the parameters must fit it (checked as a run would be).
    await prepareRun(this.store, this.registry, this.opts, orgSlug, { provider, domain, pipeline }, { parameters: input.parameters ?? {} }, newId(), now);
    const isActive = input.is_active ?? true;
    if (nextOccurrence(cron, now) === null) throw new AppError('VALIDATION_FAILED', `schedule "${input.schedule.slice(0, 60)}" never fires (e.g. a day that does not exist)`);
    return {
      schedule_id: keep.schedule_id,
      org_slug: orgSlug,
      pipeline: input.pipeline_config,
      cron: input.schedule.trim(),
      timezone,
      parameters: input.parameters ?? {},
      missed_run_policy: input.missed_run_policy ?? 'latest',
      is_active: isActive,
      next_run_at: isActive ? nextOccurrence(cron, now) : null,
      last_run_at: keep.last_run_at ?? null,
      created_at: keep.created_at,
      updated_at: now,
    };
  }

  private async found(orgSlug: string, id: string): Promise<ScheduleRecord> {
    const s = /^[0-9a-f-]{36}$/.test(id) ? await this.store.schedules.get(orgSlug, id) : undefined;
    if (s === undefined) throw notFound(id);
    return s;
  }
}

/** A run row for an occurrence whose pipeline could not even be prepared (deleted config, bad parameters). */
const placeholderRun = (s: ScheduleRecord, now: Date): RunRecord => ({
  pipeline_logging_id: newId(),
  org_slug: s.org_slug,
  pipeline_id: s.pipeline,
  pipeline_path: s.pipeline,
  status: 'QUEUED',
  trigger_type: 'schedule',
  trigger_by: null,
  user_id: null,
  parameters: s.parameters ?? {},
  attempt: 1,
  created_at: now,
  start_time: null,
  end_time: null,
  duration_ms: null,
  error_message: null,
});

const notFound = (id: string): AppError => new AppError('SCHEDULE_NOT_FOUND', `no schedule ${id.slice(0, 100)}`);
const iso = (d: Date | null): string | null => (d === null ? null : d.toISOString());

function view(s: ScheduleRecord): Record<string, unknown> {
  return {
    schedule_id: s.schedule_id,
    org_slug: s.org_slug,
    pipeline_config: s.pipeline,
    schedule: s.cron,
    timezone: s.timezone,
    parameters: s.parameters ?? {},
    missed_run_policy: s.missed_run_policy,
    is_active: s.is_active,
    next_run_at: iso(s.next_run_at),
    last_run_at: iso(s.last_run_at),
    created_at: s.created_at.toISOString(),
    updated_at: s.updated_at.toISOString(),
  };
}
