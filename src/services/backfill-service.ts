import type { ControlStore } from '../control-store/control-store.js';
import { PRIORITY } from '../control-store/records.js';
import { AppError } from '../core/errors.js';
import { newId } from '../core/ids.js';
import { addDays } from '../pipeline/resolve.js';
import { isIsoDate } from '../pipeline/variables.js';
import type { Admission } from './admission.js';
import type { PipelineRegistry } from './pipeline-registry.js';
import { actorOf, type CallContext } from './principal.js';
import { prepareRun, queuedRunRecord, type PreparationOptions, type PreparedRun, type RunRoute } from './run-preparation.js';
import { queueItem, runView } from './run-service.js';

/**
 * `POST /pipelines/backfill/...`: one queued run per day of a range, at backfill priority (below
 * scheduled and manual runs, and round-robin with other orgs in the queue), admitted all or
 * nothing against the daily and monthly quotas. Its runs carry `trigger_by = backfill:{id}`.
 */
export interface BackfillRequest {
  readonly start_date: string;
  readonly end_date: string;
  readonly parameters?: Readonly<Record<string, unknown>>;
}

export const MAX_BACKFILL_DAYS = 366;

export class BackfillService {
  constructor(
    private readonly store: ControlStore,
    private readonly registry: PipelineRegistry,
    private readonly admission: Admission,
    private readonly wake: () => void,
    private readonly opts: PreparationOptions & { readonly now: () => Date },
  ) {}

  async start(call: CallContext, orgSlug: string, route: RunRoute, req: BackfillRequest): Promise<Record<string, unknown>> {
    const days = dayRange(req.start_date, req.end_date);
    const now = this.opts.now();
    const backfillId = newId();
    // Every day is prepared (and its parameters checked) before anything is written.
    const prepared: { date: string; run: PreparedRun; id: string }[] = [];
    for (const date of days) {
      const id = newId();
      prepared.push({ date, id, run: await prepareRun(this.store, this.registry, this.opts, orgSlug, route, { date, parameters: req.parameters }, id, now) });
    }
    const records = prepared.map(({ id, run }) => queuedRunRecord(run, id, { type: 'backfill', by: `backfill:${backfillId}`, userId: call.userId }, now));
    await this.store.transaction(async (r) => {
      const a = await this.admission.check(r, orgSlug, now, { concurrent: false, count: records.length });
      for (const [i, record] of records.entries()) {
        await r.runs.insertRun(record);
        await r.queue.enqueue(queueItem(record, PRIORITY.backfill, now, { dedupe_key: `${backfillId}:${prepared[i]?.date}` }));
        await r.orgs.recordAdmission(orgSlug, a.today, a.usedMonth + i + 1, a.active, now);
      }
    });
    this.wake();
    return {
      backfill_id: backfillId,
      org_slug: orgSlug,
      pipeline_path: prepared[0]?.run.pipeline.path,
      start_date: req.start_date,
      end_date: req.end_date,
      total: records.length,
      requested_by: actorOf(call.principal),
      runs: prepared.map((p) => ({ date: p.date, pipeline_logging_id: p.id, status: 'QUEUED' })),
      status_url: `/api/v1/pipelines/backfill/${backfillId}`,
    };
  }

  /** Progress of a backfill: counts by status and every run. */
  async status(orgSlug: string, backfillId: string): Promise<Record<string, unknown>> {
    const runs = /^[0-9a-f-]{36}$/.test(backfillId) ? await this.store.runs.listRuns(orgSlug, { triggerBy: `backfill:${backfillId}`, limit: MAX_BACKFILL_DAYS + 1 }) : [];
    if (runs.length === 0) throw new AppError('BACKFILL_NOT_FOUND', `no backfill ${backfillId.slice(0, 100)}`);
    const byStatus: Record<string, number> = {};
    for (const r of runs) byStatus[r.status] = (byStatus[r.status] ?? 0) + 1;
    const done = runs.filter((r) => !['QUEUED', 'RUNNING'].includes(r.status)).length;
    const views = runs.map((r) => ({ date: (r.parameters?.date as string | undefined) ?? null, ...runView(r) })).sort((a, b) => String(a.date).localeCompare(String(b.date)));
    return { backfill_id: backfillId, total: runs.length, finished: done, by_status: byStatus, runs: views };
  }
}

/** The days from start to end inclusive; 400 for bad or reversed dates and ranges over the cap. */
export function dayRange(start: string, end: string): string[] {
  for (const [name, d] of [['start_date', start], ['end_date', end]] as const) {
    if (!isIsoDate(d)) throw new AppError('VALIDATION_FAILED', `${name} "${d.slice(0, 40)}" is not a valid date (YYYY-MM-DD)`);
  }
  if (start > end) throw new AppError('VALIDATION_FAILED', `start_date ${start} is after end_date ${end}`);
  const days: string[] = [];
  for (let d = start; d <= end; d = addDays(d, 1)) {
    days.push(d);
    if (days.length > MAX_BACKFILL_DAYS) {
      throw new AppError('VALIDATION_FAILED', `a backfill covers at most ${MAX_BACKFILL_DAYS} days; split ${start}..${end} into smaller ranges`);
    }
  }
  return days;
}
