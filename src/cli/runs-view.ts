import type { ApiClient } from './client.js';
import { CliError, EXIT } from './errors.js';
import type { Output, Progress } from './output.js';

/** Runs as the API returns them, their display, and waiting on one with live step progress. */
export interface StepView {
  readonly step_id: string;
  readonly ps_type: string;
  readonly status: string;
  readonly attempt: number;
  readonly duration_ms: number | null;
  readonly rows_processed: number | null;
  readonly error_message: string | null;
}

export interface DqView {
  readonly step_id: string | null;
  readonly check_name: string;
  readonly status: string;
  readonly severity: string;
  readonly observed_value: string | null;
  readonly expected_value: string | null;
  readonly message: string | null;
}

export interface RunView {
  readonly pipeline_logging_id: string;
  readonly org_slug: string;
  readonly pipeline_id: string;
  readonly pipeline_path: string | null;
  readonly status: string;
  readonly trigger_type: string;
  readonly parameters: Record<string, unknown> | null;
  readonly attempt: number;
  readonly created_at: string;
  readonly start_time: string | null;
  readonly end_time: string | null;
  readonly duration_ms: number | null;
  readonly error_message: string | null;
}

export interface RunDetail extends RunView {
  readonly steps: readonly StepView[];
  readonly dq_results: readonly DqView[];
}

export const FINISHED = new Set(['SUCCESS', 'FAILED', 'CANCELLED', 'TIMEOUT']);
const STEP_DONE = new Set(['SUCCESS', 'FAILED', 'SKIPPED', 'CANCELLED']);

export function formatDuration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return '-';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const s = Math.round(ms / 1000);
  return s < 3600 ? `${Math.floor(s / 60)} min ${s % 60} s` : `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}

const clip = (text: string | null, n: number): string | null => (text === null || text.length <= n ? text : `${text.slice(0, n - 1)}…`);

/** The final table of steps: id, type, status, duration, rows, error; then data-quality results. */
export function printRunDetail(out: Output, run: RunDetail): void {
  out.print(`run ${run.pipeline_logging_id}  ${run.pipeline_path ?? run.pipeline_id}  ${run.status}${run.duration_ms === null ? '' : ` in ${formatDuration(run.duration_ms)}`}`);
  if (run.steps.length > 0) {
    out.table(
      ['step', 'type', 'status', 'duration', 'rows', 'error'],
      run.steps.map((s) => [s.step_id, s.ps_type, s.attempt > 1 ? `${s.status} (attempt ${s.attempt})` : s.status, formatDuration(s.duration_ms), s.rows_processed, clip(s.error_message, 60)]),
    );
  }
  for (const s of run.steps) if (s.error_message !== null && s.error_message.length > 60) out.print(`${s.step_id}: ${s.error_message}`);
  if (run.dq_results.length > 0) {
    const failed = run.dq_results.filter((d) => d.status !== 'PASS');
    out.print(`data quality: ${run.dq_results.length} checks, ${run.dq_results.length - failed.length} passed${failed.length === 0 ? '' : `, ${failed.length} not`}`);
    for (const d of failed) out.print(`  ${d.status} ${d.check_name} (${d.severity}): ${d.message ?? `expected ${d.expected_value}, observed ${d.observed_value}`}`);
  }
  if (run.error_message !== null && run.status !== 'SUCCESS') out.print(`error: ${run.error_message}`);
}

export function printRunList(out: Output, runs: readonly RunView[]): void {
  out.table(
    ['run', 'pipeline', 'status', 'trigger', 'created (UTC)', 'duration'],
    runs.map((r) => [r.pipeline_logging_id, r.pipeline_path ?? r.pipeline_id, r.status, r.trigger_type, r.created_at.replace('T', ' ').slice(0, 19), formatDuration(r.duration_ms)]),
  );
}

export const getRun = (client: ApiClient, id: string, signal?: AbortSignal): Promise<RunDetail> =>
  client.call<RunDetail>('GET', `/api/v1/pipelines/runs/${encodeURIComponent(id)}`, { auth: 'org', ...(signal === undefined ? {} : { signal }) });

/**
 * Polls the run until it has finished, showing step progress; answers the final detail.
 * Stops (CliError INTERRUPTED) when `signal` aborts; the run itself is left alone.
 */
export async function waitForRun(client: ApiClient, id: string, out: Output, signal: AbortSignal, label = `run ${id}`, initialStatus = 'QUEUED'): Promise<RunDetail> {
  const progress = out.progress(`${label}: ${initialStatus}`);
  const began = Date.now();
  const seen = new Map<string, string>();
  let failures = 0;
  try {
    for (;;) {
      if (signal.aborted) throw new CliError(EXIT.INTERRUPTED, 'interrupted');
      let run: RunDetail;
      try {
        run = await getRun(client, id, signal);
        failures = 0;
      } catch (e) {
        // The server may be restarting: a few tries before giving up.
        if (e instanceof CliError && e.exitCode === EXIT.UNREACHABLE && ++failures < 5) {
          await sleep(1000, signal);
          continue;
        }
        throw e;
      }
      report(progress, run, seen, label, began);
      if (FINISHED.has(run.status)) {
        progress.done(`${label}: ${run.status}${run.duration_ms === null ? '' : ` in ${formatDuration(run.duration_ms)}`}`, run.status === 'SUCCESS');
        return run;
      }
      const elapsed = Date.now() - began;
      await sleep(elapsed < 3000 ? 200 : elapsed < 30_000 ? 500 : 1000, signal);
    }
  } catch (e) {
    progress.done();
    throw e;
  }
}

function report(progress: Progress, run: RunDetail, seen: Map<string, string>, label: string, began: number): void {
  const finished = FINISHED.has(run.status);
  if (!progress.live && !finished) progress.update(`${label}: ${run.status}`);
  for (const s of run.steps) {
    const key = `${s.status}/${s.attempt}`;
    if (seen.get(s.step_id) === key) continue;
    seen.set(s.step_id, key);
    if (s.status === 'PENDING') continue;
    if (STEP_DONE.has(s.status) || !progress.live) {
      const extra = STEP_DONE.has(s.status) && s.status !== 'SKIPPED' ? ` ${formatDuration(s.duration_ms)}${s.rows_processed === null ? '' : `, ${s.rows_processed} rows`}` : '';
      progress.log(`  step ${s.step_id}: ${s.status}${s.attempt > 1 ? ` (attempt ${s.attempt})` : ''}${extra}${s.error_message === null ? '' : ` — ${clip(s.error_message, 100)}`}`);
    }
  }
  if (progress.live && !finished) {
    const running = run.steps.filter((s) => s.status === 'RUNNING').map((s) => s.step_id);
    const done = run.steps.filter((s) => STEP_DONE.has(s.status)).length;
    progress.update(`${label}: ${run.status}${running.length === 0 ? '' : ` · ${running.join(', ')}`} · ${done}/${run.steps.length} steps · ${formatDuration(Date.now() - began)}`);
  }
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted === true) return resolve();
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}
