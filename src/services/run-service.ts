import type { ControlStore } from '../control-store/control-store.js';
import { ACTIVE_RUN_STATUSES, PRIORITY, type DqResultRecord, type QueueItem, type RunRecord, type RunStatus, type StepLogRecord } from '../control-store/records.js';
import { AppError, errorMessage } from '../core/errors.js';
import { newId } from '../core/ids.js';
import type { Admission } from './admission.js';
import { utcDay } from '../pipeline/resolve.js';
import type { PipelineRegistry } from './pipeline-registry.js';
import { actorOf, type CallContext } from './principal.js';
import type { QueueWorker } from './queue-worker.js';
import type { AdmittedRun, RunExecutor } from './run-executor.js';
import { prepareRun, queuedRunRecord, type RunRoute } from './run-preparation.js';

/**
 * Runs as the API sees them: trigger (validate → admit atomically against the plan → execute),
 * list, detail with steps and DQ results, cancel.
 */
export interface TriggerRequest {
  readonly date?: string;
  readonly parameters?: Readonly<Record<string, unknown>>;
  readonly trigger_by?: string;
}

export interface RunListQuery {
  readonly status?: RunStatus;
  readonly pipeline?: string;
  readonly from?: string;
  readonly to?: string;
  readonly cursor?: string;
  readonly limit?: number;
}

export const MAX_PAGE = 100;
const DEFAULT_PAGE = 20;
/** `?wait=true` holds the request at most this long, then answers with the run as it stands. */
export const WAIT_LIMIT_MS = 5 * 60_000;

export interface RunServiceOptions {
  readonly environment: string;
  readonly projectId: string | undefined;
  readonly now: () => Date;
}

export class RunService {
  constructor(
    private readonly store: ControlStore,
    private readonly registry: PipelineRegistry,
    private readonly executor: RunExecutor,
    private readonly worker: Pick<QueueWorker, 'wake'>,
    private readonly admission: Admission,
    private readonly opts: RunServiceOptions,
  ) {}

  async trigger(
    call: CallContext,
    orgSlug: string,
    route: RunRoute,
    body: TriggerRequest,
    wait: boolean,
  ): Promise<{ status: number; body: Record<string, unknown> }> {
    const now = this.opts.now();
    const id = newId();
    const prepared = await prepareRun(this.store, this.registry, this.opts, orgSlug, route, body, id, now);
    const record = queuedRunRecord(prepared, id, { type: 'manual', by: body.trigger_by ?? actorOf(call.principal), userId: call.userId }, now);
    await this.store.transaction(async (r) => {
      await this.admission.admit(r, record, now, { concurrent: true });
      await r.queue.enqueue(queueItem(record, PRIORITY.manual, now));
    });
    this.worker.wake();
    if (wait) {
      await Promise.race([this.whenDone(id), new Promise((r) => setTimeout(r, WAIT_LIMIT_MS).unref())]);
      const detail = await this.get(orgSlug, id);
      return { status: ACTIVE_RUN_STATUSES.includes(detail.status as RunStatus) ? 202 : 200, body: detail };
    }
    return { status: 202, body: { ...runView(record), message: 'Run queued' } };
  }

  /** Resolves when the run has ended, wherever it runs. */
  private whenDone(id: string): Promise<void> {
    return this.executor.whenDone(id, async () => {
      const run = await this.store.runs.getRunById(id);
      return run !== undefined && ACTIVE_RUN_STATUSES.includes(run.status as RunStatus);
    });
  }

  /** What a queued run needs to execute, rebuilt from its logged request (for the queue worker). */
  async loadAdmitted(orgSlug: string, id: string): Promise<AdmittedRun | string> {
    const run = await this.store.runs.getRun(orgSlug, id);
    if (run === undefined) return `run ${id} not found`;
    const [provider = '', domain = '', pipeline = ''] = (run.pipeline_path ?? '').split('/');
    try {
      const p = await prepareRun(this.store, this.registry, this.opts, orgSlug, { provider, domain, pipeline }, { parameters: run.parameters ?? {} }, id, this.opts.now());
      return { pipelineLoggingId: id, orgSlug, dataset: p.profile.dataset_id, pipelineId: p.pipelineId, spec: p.pipeline.spec, inputs: { ...p.resolved.parameters }, variables: p.resolved.variables };
    } catch (e) {
      return `cannot run: ${errorMessage(e)}`;
    }
  }

  async list(orgSlug: string, q: RunListQuery): Promise<{ runs: Record<string, unknown>[]; next_cursor: string | null; limit: number }> {
    const limit = Math.min(q.limit ?? DEFAULT_PAGE, MAX_PAGE);
    const from = parseInstant(q.from, 'from');
    const to = parseInstant(q.to, 'to', true);
    if (from !== undefined && to !== undefined && from >= to) throw new AppError('VALIDATION_FAILED', '"from" must be before "to"');
    const byPath = q.pipeline?.includes('/') === true;
    const runs = await this.store.runs.listRuns(orgSlug, {
      status: q.status,
      pipelineId: byPath ? undefined : q.pipeline,
      pipelinePath: byPath ? q.pipeline : undefined,
      from,
      to,
      before: q.cursor === undefined ? undefined : decodeCursor(q.cursor),
      limit: limit + 1,
    });
    const page = runs.slice(0, limit);
    const last = page[page.length - 1];
    return { runs: page.map(runView), next_cursor: runs.length > limit && last !== undefined ? encodeCursor(last) : null, limit };
  }

  async get(orgSlug: string, id: string): Promise<Record<string, unknown>> {
    const run = await this.store.runs.getRun(orgSlug, id);
    if (run === undefined) throw runNotFound(id);
    const [steps, dq] = await Promise.all([this.store.runs.listSteps(orgSlug, id), this.store.runs.listDqResults(orgSlug, id)]);
    return { ...runView(run), steps: steps.map(stepView), dq_results: dq.map(dqView) };
  }

  /** Cancels a queued or running run; 409 when it already finished. */
  async cancel(orgSlug: string, id: string): Promise<Record<string, unknown>> {
    const run = await this.store.runs.getRun(orgSlug, id);
    if (run === undefined) throw runNotFound(id);
    if (!ACTIVE_RUN_STATUSES.includes(run.status as RunStatus)) throw new AppError('RUN_FINISHED', `run ${id} already finished with status ${run.status}`);
    if (this.executor.cancel(id)) {
      // Cancellation interrupts the running query; wait briefly so the answer shows the outcome.
      await Promise.race([this.whenDone(id), new Promise((r) => setTimeout(r, 10_000).unref())]);
    } else {
      // Queued, or running in another process: take it out of the queue and close it in the log.
      // A worker elsewhere then fails to renew its lease, stops, and cannot overwrite the outcome.
      const now = this.opts.now();
      await this.store.transaction(async (r) => {
        await r.queue.cancel(id, now);
        await r.runs.finishRun(id, { status: 'CANCELLED', end_time: now, duration_ms: null, error_message: 'run cancelled' });
        await r.runs.interruptRun(id, run.attempt, 'FAILED', 'run cancelled', now); // closes its open steps
        await r.orgs.recordRunEnd(orgSlug, utcDay(now), await r.runs.countActive(orgSlug), 0, now);
      });
    }
    return { ...(await this.get(orgSlug, id)), message: 'Run cancelled' };
  }

  /** At start: runs a stopped process left QUEUED or RUNNING are closed as FAILED, never left hanging. */
  async recoverInterrupted(): Promise<number> {
    const now = this.opts.now();
    const orgs = await this.store.runs.failInterrupted('interrupted: the service stopped while the run was active', now);
    for (const org of new Set(orgs)) await this.store.orgs.recordRunEnd(org, utcDay(now), await this.store.runs.countActive(org), 0, now);
    return orgs.length;
  }
}

/** Attempts a queued run gets when its worker vanishes (lease expiry) before it is failed. */
export const MAX_ATTEMPTS = 3;

export function queueItem(run: RunRecord, priority: number, now: Date, extra: Partial<Pick<QueueItem, 'dedupe_key' | 'schedule_id' | 'scheduled_time'>> = {}): QueueItem {
  return {
    queue_id: newId(),
    org_slug: run.org_slug,
    pipeline_logging_id: run.pipeline_logging_id,
    priority,
    status: 'QUEUED',
    available_at: now,
    lease_owner: null,
    lease_expires_at: null,
    attempt: 0,
    max_attempts: MAX_ATTEMPTS,
    dedupe_key: extra.dedupe_key ?? null,
    schedule_id: extra.schedule_id ?? null,
    scheduled_time: extra.scheduled_time ?? null,
    created_at: now,
    updated_at: now,
  };
}

const runNotFound = (id: string): AppError => new AppError('RUN_NOT_FOUND', `run ${String(id).slice(0, 100)} not found`);
const iso = (d: Date | null): string | null => (d === null ? null : d.toISOString());

export function runView(r: RunRecord): Record<string, unknown> {
  return {
    pipeline_logging_id: r.pipeline_logging_id,
    org_slug: r.org_slug,
    pipeline_id: r.pipeline_id,
    pipeline_path: r.pipeline_path,
    status: r.status,
    trigger_type: r.trigger_type,
    trigger_by: r.trigger_by,
    user_id: r.user_id,
    parameters: r.parameters,
    attempt: r.attempt,
    created_at: iso(r.created_at),
    start_time: iso(r.start_time),
    end_time: iso(r.end_time),
    duration_ms: r.duration_ms,
    error_message: r.error_message,
  };
}

const stepView = (s: StepLogRecord): Record<string, unknown> => ({
  step_logging_id: s.step_logging_id,
  step_id: s.step_id,
  ps_type: s.ps_type,
  status: s.status,
  attempt: s.attempt,
  start_time: iso(s.start_time),
  end_time: iso(s.end_time),
  duration_ms: s.duration_ms,
  rows_processed: s.rows_processed,
  error_message: s.error_message,
  metadata: s.metadata,
});

const dqView = (d: DqResultRecord): Record<string, unknown> => ({
  step_id: d.step_id,
  check_name: d.check_name,
  check_type: d.check_type,
  target_table: d.target_table,
  status: d.status,
  severity: d.severity,
  observed_value: d.observed_value,
  expected_value: d.expected_value,
  row_count: d.row_count,
  failed_row_count: d.failed_row_count,
  message: d.message,
  created_at: iso(d.created_at),
});

function parseInstant(v: string | undefined, name: string, endOfDay = false): Date | undefined {
  if (v === undefined) return undefined;
  const day = /^\d{4}-\d{2}-\d{2}$/.test(v);
  const d = new Date(day ? `${v}T00:00:00Z` : v);
  if (Number.isNaN(d.getTime()) || (day && d.toISOString().slice(0, 10) !== v)) throw new AppError('VALIDATION_FAILED', `"${name}" is not a date or timestamp`);
  if (day && endOfDay) d.setUTCDate(d.getUTCDate() + 1); // `to` a day includes that day
  return d;
}

const encodeCursor = (r: RunRecord): string => Buffer.from(JSON.stringify([r.created_at.toISOString(), r.pipeline_logging_id])).toString('base64url');

function decodeCursor(c: string): { createdAt: Date; id: string } {
  try {
    const [at, id] = JSON.parse(Buffer.from(c, 'base64url').toString('utf8')) as [string, string];
    const createdAt = new Date(at);
    if (typeof id !== 'string' || id.length > 64 || Number.isNaN(createdAt.getTime())) throw new Error('bad');
    return { createdAt, id };
  } catch {
    throw new AppError('VALIDATION_FAILED', 'cursor is not one this API returned');
  }
}


