import { Type } from '@sinclair/typebox';
import fc from 'fast-check';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { AppError } from '../core/errors.js';
import { defineProcessor, SqlText, StepError, type ProcessorCatalog } from './processor.js';
import { retryDelay, runPipeline, type RunHooks, type RunOutcome, type StepOutcome } from './runner.js';
import { parsePipeline, PipelineSpecError, type PipelineSpec, type RetrySpec } from './spec.js';
import type { TypedValue } from './variables.js';

const logger = pino({ level: 'silent' });

interface Deferred {
  readonly promise: Promise<void>;
  resolve(): void;
}
function deferred(): Deferred {
  let resolve!: () => void;
  const promise = new Promise<void>((res) => {
    resolve = res;
  });
  return { promise, resolve };
}

/** Lets every pending promise callback run (a macrotask turn, not a timed sleep). */
const settle = async (turns = 3): Promise<void> => {
  for (let i = 0; i < turns; i++) await new Promise((resolve) => setImmediate(resolve));
};

const StepConfig = Type.Object(
  {
    n: Type.Optional(Type.Integer()),
    text: Type.Optional(Type.String()),
    sql: Type.Optional(SqlText()),
    kind: Type.Optional(Type.String()),
  },
  { additionalProperties: false },
);

/**
 * What the fake processors did, as an event log (`start:a`, `end:a`, `abort:a`, `fail:a:1`), and the
 * means to wait for a condition on it and to release gated steps.
 */
class World {
  readonly log: string[] = [];
  readonly configs = new Map<string, Record<string, unknown>>();
  readonly sawAbort = new Set<string>();
  readonly signals = new Map<string, AbortSignal>();
  active = 0;
  maxActive = 0;
  private readonly gates = new Map<string, Deferred>();
  private readonly watchers = new Set<() => void>();
  readonly catalog: ProcessorCatalog;

  constructor() {
    const processors = [
      defineProcessor({
        psType: 't.ok',
        description: 'Succeeds with n rows',
        configSchema: StepConfig,
        run: (ctx, config) => {
          this.configs.set(ctx.stepId, config);
          this.emit(`start:${ctx.stepId}`);
          this.emit(`end:${ctx.stepId}`);
          return Promise.resolve({ rowsProcessed: config.n ?? 1, output: { label: `from_${ctx.stepId}` }, metadata: { seen: ctx.attempt } });
        },
      }),
      defineProcessor({
        psType: 't.fail',
        description: 'Throws',
        configSchema: StepConfig,
        run: (ctx, config) => {
          this.emit(`start:${ctx.stepId}`);
          const message = config.text ?? 'boom';
          switch (config.kind) {
            case 'step':
              return Promise.reject(new StepError(message));
            case 'step_retryable':
              return Promise.reject(new StepError(message, { retryable: true }));
            case 'app400':
              return Promise.reject(new AppError('VALIDATION_FAILED', message));
            case 'app503':
              return Promise.reject(new AppError('WAREHOUSE_UNAVAILABLE', message));
            default:
              return Promise.reject(new Error(message));
          }
        },
      }),
      defineProcessor({
        psType: 't.flaky',
        description: 'Fails its first n attempts',
        configSchema: StepConfig,
        run: async (ctx, config) => {
          this.emit(`start:${ctx.stepId}`);
          if (ctx.attempt <= (config.n ?? 1)) {
            this.emit(`fail:${ctx.stepId}:${ctx.attempt}`);
            throw new Error(`attempt ${ctx.attempt} failed`);
          }
          return { rowsProcessed: 7 };
        },
      }),
      defineProcessor({
        psType: 't.hang',
        description: 'Waits until its signal aborts',
        configSchema: StepConfig,
        run: (ctx) =>
          new Promise((_, reject) => {
            this.signals.set(ctx.stepId, ctx.signal);
            const onAbort = (): void => {
              this.sawAbort.add(ctx.stepId);
              this.emit(`abort:${ctx.stepId}`);
              reject(ctx.signal.reason as Error);
            };
            if (ctx.signal.aborted) onAbort();
            else ctx.signal.addEventListener('abort', onAbort, { once: true });
            this.emit(`start:${ctx.stepId}`);
          }),
      }),
      defineProcessor({
        psType: 't.deaf',
        description: 'Never settles and ignores its signal',
        configSchema: StepConfig,
        run: (ctx) => {
          this.emit(`start:${ctx.stepId}`);
          return new Promise(() => undefined);
        },
      }),
      defineProcessor({
        psType: 't.gate',
        description: 'Runs until the test releases it',
        configSchema: StepConfig,
        run: async (ctx) => {
          this.active++;
          this.maxActive = Math.max(this.maxActive, this.active);
          this.emit(`start:${ctx.stepId}`);
          try {
            await this.gate(ctx.stepId).promise;
          } finally {
            this.active--;
          }
          this.emit(`end:${ctx.stepId}`);
          return { rowsProcessed: 1 };
        },
      }),
    ];
    this.catalog = new Map(processors.map((p) => [p.psType, p]));
  }

  emit(event: string): void {
    this.log.push(event);
    for (const w of [...this.watchers]) w();
  }

  /** Resolves once `pred` holds (checked now and after every event). */
  until(pred: () => boolean): Promise<void> {
    if (pred()) return Promise.resolve();
    return new Promise((resolve) => {
      const check = (): void => {
        if (!pred()) return;
        this.watchers.delete(check);
        resolve();
      };
      this.watchers.add(check);
    });
  }

  untilEvent(event: string): Promise<void> {
    return this.until(() => this.log.includes(event));
  }

  gate(stepId: string): Deferred {
    let g = this.gates.get(stepId);
    if (g === undefined) {
      g = deferred();
      this.gates.set(stepId, g);
    }
    return g;
  }

  release(...stepIds: string[]): void {
    for (const id of stepIds) this.gate(id).resolve();
  }

  started(): string[] {
    return this.log.filter((e) => e.startsWith('start:')).map((e) => e.slice('start:'.length));
  }

  index(event: string): number {
    return this.log.indexOf(event);
  }

  load(steps: string, head = ''): PipelineSpec {
    return parsePipeline(`pipeline_id: runner_test\n${head}steps:\n${steps}`, 'test.yml', { catalog: this.catalog, configsDir: '/tmp' });
  }

  run(spec: PipelineSpec, opts: { signal?: AbortSignal; hooks?: RunHooks; random?: () => number; variables?: Record<string, TypedValue> } = {}): Promise<RunOutcome> {
    return runPipeline(
      spec,
      {
        orgSlug: 'acme',
        dataset: 'acme',
        pipelineLoggingId: '0b6f1c9e-3a5d-4f7e-9b2a-1c3d5e7f9a0b',
        configsDir: '/tmp',
        inputs: {},
        variables: opts.variables ?? VARIABLES,
        signal: opts.signal,
        hooks: opts.hooks,
      },
      { catalog: this.catalog, logger, random: opts.random ?? (() => 0) },
    );
  }
}

const VARIABLES: Record<string, TypedValue> = {
  org_slug: { type: 'identifier', value: 'acme' },
  dataset: { type: 'identifier', value: 'acme' },
  date: { type: 'date', value: '2025-01-01' },
  company_name: { type: 'string', value: 'Acme Inc.' },
  admin_email: { type: 'string', value: 'admin@acme.example' },
};

const stepOf = (o: RunOutcome, id: string): StepOutcome => {
  const s = o.steps.find((x) => x.stepId === id);
  if (s === undefined) throw new Error(`no outcome for ${id}`);
  return s;
};
const statuses = (o: RunOutcome): Record<string, string> => Object.fromEntries(o.steps.map((s) => [s.stepId, s.status]));

describe('runPipeline', () => {
  describe('scheduling', () => {
    it('runs independent steps in parallel', async () => {
      const w = new World();
      const spec = w.load('  - {step_id: a, ps_type: t.gate}\n  - {step_id: b, ps_type: t.gate}\n  - {step_id: c, ps_type: t.gate}\n');
      const done = w.run(spec);
      await w.until(() => w.started().length === 3);
      // All three are running at once: none has finished.
      expect(w.active).toBe(3);
      expect(w.log.some((e) => e.startsWith('end:'))).toBe(false);
      w.release('a', 'b', 'c');
      const outcome = await done;
      expect(outcome.status).toBe('SUCCESS');
      expect(outcome.errorMessage).toBeNull();
      expect(w.maxActive).toBe(3);
    });

    it('never runs more than max_parallel steps at once', async () => {
      const w = new World();
      const ids = ['a', 'b', 'c', 'd', 'e'];
      const spec = w.load(ids.map((id) => `  - {step_id: ${id}, ps_type: t.gate}\n`).join(''), 'max_parallel: 2\n');
      const done = w.run(spec);

      await w.until(() => w.started().length === 2);
      await settle();
      expect(w.started()).toEqual(['a', 'b']);

      w.release('a');
      await w.until(() => w.started().length === 3);
      await settle();
      expect(w.started()).toEqual(['a', 'b', 'c']);
      expect(w.active).toBe(2);

      w.release('b', 'c');
      await w.until(() => w.started().length === 5);
      expect(w.active).toBeLessThanOrEqual(2);
      w.release('d', 'e');

      const outcome = await done;
      expect(outcome.status).toBe('SUCCESS');
      expect(w.maxActive).toBe(2);
      expect(statuses(outcome)).toEqual({ a: 'SUCCESS', b: 'SUCCESS', c: 'SUCCESS', d: 'SUCCESS', e: 'SUCCESS' });
    });

    it('max_parallel: 1 runs steps one after the other', async () => {
      const w = new World();
      const spec = w.load('  - {step_id: a, ps_type: t.gate}\n  - {step_id: b, ps_type: t.gate}\n  - {step_id: c, ps_type: t.gate}\n', 'max_parallel: 1\n');
      w.release('a', 'b', 'c');
      const outcome = await w.run(spec);
      expect(outcome.status).toBe('SUCCESS');
      expect(w.maxActive).toBe(1);
      expect(w.log).toEqual(['start:a', 'end:a', 'start:b', 'end:b', 'start:c', 'end:c']);
    });

    it('makes dependents wait for all their dependencies', async () => {
      const w = new World();
      const spec = w.load(`  - {step_id: a, ps_type: t.gate}
  - {step_id: b, ps_type: t.gate}
  - {step_id: c, ps_type: t.gate, depends_on: [a, b]}
  - {step_id: d, ps_type: t.gate, depends_on: [c]}
  - {step_id: e, ps_type: t.gate, depends_on: [a]}
`);
      const done = w.run(spec);
      await w.until(() => w.started().length === 2);
      await settle();
      expect(w.started()).toEqual(['a', 'b']);

      w.release('a');
      await w.untilEvent('start:e');
      await settle();
      expect(w.started()).not.toContain('c');

      w.release('b');
      await w.untilEvent('start:c');
      await settle();
      expect(w.started()).not.toContain('d');

      w.release('c', 'e');
      await w.untilEvent('start:d');
      w.release('d');
      const outcome = await done;

      expect(outcome.status).toBe('SUCCESS');
      expect(w.index('start:c')).toBeGreaterThan(w.index('end:a'));
      expect(w.index('start:c')).toBeGreaterThan(w.index('end:b'));
      expect(w.index('start:d')).toBeGreaterThan(w.index('end:c'));
      expect(w.index('start:e')).toBeGreaterThan(w.index('end:a'));
    });

    it('reports the steps in the order of the pipeline, with timings', async () => {
      const w = new World();
      const spec = w.load('  - {step_id: b, ps_type: t.ok, n: 5}\n  - {step_id: a, ps_type: t.ok, depends_on: [b]}\n');
      const outcome = await w.run(spec);
      expect(outcome.steps.map((s) => s.stepId)).toEqual(['b', 'a']);
      const b = stepOf(outcome, 'b');
      expect(b).toMatchObject({ psType: 't.ok', status: 'SUCCESS', attempt: 1, rowsProcessed: 5, errorMessage: null, metadata: { seen: 1 }, timedOut: false });
      expect(b.startTime).toBeInstanceOf(Date);
      expect(b.durationMs).toBeGreaterThanOrEqual(0);
      expect(outcome.endTime.getTime()).toBeGreaterThanOrEqual(outcome.startTime.getTime());
      expect(outcome.outputs.get('b')).toEqual({ label: 'from_b', rows_processed: 5 });
    });
  });

  describe('failures', () => {
    it('after the first failure, starts nothing new: later ordinary steps are SKIPPED and the run FAILED', async () => {
      const w = new World();
      const spec = w.load(
        `  - {step_id: a, ps_type: t.fail, text: kaboom}
  - {step_id: b, ps_type: t.ok, depends_on: [a]}
  - {step_id: c, ps_type: t.ok}
  - {step_id: d, ps_type: t.ok, depends_on: [b]}
`,
        'max_parallel: 1\n',
      );
      const outcome = await w.run(spec);
      expect(outcome.status).toBe('FAILED');
      expect(outcome.errorMessage).toBe('kaboom');
      expect(outcome.error).toBeInstanceOf(Error);
      expect(statuses(outcome)).toEqual({ a: 'FAILED', b: 'SKIPPED', c: 'SKIPPED', d: 'SKIPPED' });
      expect(stepOf(outcome, 'a')).toMatchObject({ errorMessage: 'kaboom', attempt: 1, timedOut: false, rowsProcessed: null });
      expect(stepOf(outcome, 'c')).toMatchObject({ attempt: 0, startTime: null, metadata: { reason: 'an earlier step did not succeed' } });
      expect(w.started()).toEqual(['a']);
    });

    it('lets steps already running finish, but starts none of their dependents', async () => {
      const w = new World();
      const spec = w.load(`  - {step_id: a, ps_type: t.fail, text: first}
  - {step_id: b, ps_type: t.gate}
  - {step_id: c, ps_type: t.ok, depends_on: [b]}
`);
      const done = w.run(spec);
      await w.untilEvent('start:b');
      await settle();
      w.release('b');
      const outcome = await done;
      expect(statuses(outcome)).toEqual({ a: 'FAILED', b: 'SUCCESS', c: 'SKIPPED' });
      expect(outcome.status).toBe('FAILED');
      expect(outcome.errorMessage).toBe('first');
      expect(w.started()).not.toContain('c');
    });

    it('reports the first failure when several steps fail', async () => {
      const w = new World();
      const spec = w.load('  - {step_id: a, ps_type: t.fail, text: one}\n  - {step_id: b, ps_type: t.fail, text: two}\n');
      const outcome = await w.run(spec);
      expect(statuses(outcome)).toEqual({ a: 'FAILED', b: 'FAILED' });
      expect(outcome.errorMessage).toBe('one');
    });
  });

  describe('handlers', () => {
    const handlers = `  - {step_id: on_fail, ps_type: t.ok, trigger: on_failure}
  - {step_id: on_ok, ps_type: t.ok, trigger: on_success}
  - {step_id: finally, ps_type: t.ok, trigger: on_completion}
`;

    it('on success runs on_success and on_completion, not on_failure', async () => {
      const w = new World();
      const outcome = await w.run(w.load(`  - {step_id: a, ps_type: t.ok}\n${handlers}`));
      expect(outcome.status).toBe('SUCCESS');
      expect(statuses(outcome)).toEqual({ a: 'SUCCESS', on_fail: 'SKIPPED', on_ok: 'SUCCESS', finally: 'SUCCESS' });
      expect(stepOf(outcome, 'on_fail').metadata).toEqual({ reason: 'trigger on_failure not met (run SUCCESS)' });
      expect(w.started()).not.toContain('on_fail');
    });

    it('on failure runs on_failure and on_completion, not on_success, after the ordinary steps', async () => {
      const w = new World();
      const outcome = await w.run(w.load(`  - {step_id: a, ps_type: t.fail}\n  - {step_id: b, ps_type: t.ok, depends_on: [a]}\n${handlers}`));
      expect(outcome.status).toBe('FAILED');
      expect(statuses(outcome)).toEqual({ a: 'FAILED', b: 'SKIPPED', on_fail: 'SUCCESS', on_ok: 'SKIPPED', finally: 'SUCCESS' });
      expect(w.started().indexOf('on_fail')).toBeGreaterThan(w.started().indexOf('a'));
      expect(w.started()).not.toContain('on_ok');
    });

    it('a failing handler does not change the run status, and skips its dependent handlers', async () => {
      const w = new World();
      const outcome = await w.run(
        w.load(`  - {step_id: a, ps_type: t.fail, text: original}
  - {step_id: notify, ps_type: t.fail, trigger: on_failure, text: handler broke}
  - {step_id: after_notify, ps_type: t.ok, trigger: on_failure, depends_on: [notify]}
`),
      );
      expect(outcome.status).toBe('FAILED');
      expect(outcome.errorMessage).toBe('original');
      expect(statuses(outcome)).toEqual({ a: 'FAILED', notify: 'FAILED', after_notify: 'SKIPPED' });
    });
  });

  describe('retries', () => {
    it('retries until the third attempt succeeds, recording the failed attempts', async () => {
      const w = new World();
      const started: number[] = [];
      const spec = w.load('  - {step_id: a, ps_type: t.flaky, n: 2, retries: {max_attempts: 3, initial_delay: 1ms, max_delay: 1ms}}\n');
      const outcome = await w.run(spec, { hooks: { stepStarted: (_s, attempt) => started.push(attempt) } });
      expect(outcome.status).toBe('SUCCESS');
      const a = stepOf(outcome, 'a');
      expect(a.status).toBe('SUCCESS');
      expect(a.attempt).toBe(3);
      expect(a.rowsProcessed).toBe(7);
      expect(a.metadata).toEqual({
        failed_attempts: [
          { attempt: 1, error: 'attempt 1 failed', duration_ms: expect.any(Number) as number },
          { attempt: 2, error: 'attempt 2 failed', duration_ms: expect.any(Number) as number },
        ],
      });
      expect(started).toEqual([1, 2, 3]);
    });

    it('fails with the last error when the attempts run out', async () => {
      const w = new World();
      const spec = w.load('  - {step_id: a, ps_type: t.flaky, n: 5, retries: {max_attempts: 2, initial_delay: 1ms}}\n');
      const outcome = await w.run(spec);
      expect(outcome.status).toBe('FAILED');
      const a = stepOf(outcome, 'a');
      expect(a).toMatchObject({ status: 'FAILED', attempt: 2, errorMessage: 'attempt 2 failed' });
      expect((a.metadata as { failed_attempts: unknown[] }).failed_attempts).toHaveLength(2);
      expect(outcome.errorMessage).toBe('attempt 2 failed');
    });

    it('does not retry without a retry policy', async () => {
      const w = new World();
      const outcome = await w.run(w.load('  - {step_id: a, ps_type: t.flaky, n: 1}\n'));
      expect(stepOf(outcome, 'a')).toMatchObject({ status: 'FAILED', attempt: 1, metadata: null });
      expect(w.started()).toEqual(['a']);
    });

    it.each([
      ['step', 1],
      ['app400', 1],
      ['step_retryable', 3],
      ['app503', 3],
      ['plain', 3],
    ])('a %s error is tried %d time(s)', async (kind, tries) => {
      const w = new World();
      const started: number[] = [];
      const spec = w.load(`  - {step_id: a, ps_type: t.fail, kind: ${kind}, text: nope, retries: {max_attempts: 3, initial_delay: 1ms}}\n`);
      const outcome = await w.run(spec, { hooks: { stepStarted: (_s, attempt) => started.push(attempt) } });
      expect(stepOf(outcome, 'a')).toMatchObject({ status: 'FAILED', attempt: tries, errorMessage: 'nope' });
      expect(started).toHaveLength(tries);
      expect(w.started()).toHaveLength(tries);
    });

    it('a StepError with retryable false is not retried', async () => {
      const w = new World();
      const spec = w.load('  - {step_id: a, ps_type: t.fail, kind: step, text: bad config, retries: {max_attempts: 5, initial_delay: 1ms}}\n');
      const outcome = await w.run(spec);
      expect(stepOf(outcome, 'a')).toMatchObject({ status: 'FAILED', attempt: 1, errorMessage: 'bad config', metadata: null });
      expect(outcome.error).toBeInstanceOf(StepError);
      expect(w.started()).toEqual(['a']);
    });
  });

  describe('timeouts', () => {
    it('a step that exceeds its timeout is aborted: step FAILED, run TIMEOUT', async () => {
      const w = new World();
      const spec = w.load('  - {step_id: a, ps_type: t.hang, timeout: 50ms}\n  - {step_id: b, ps_type: t.ok, depends_on: [a]}\n  - {step_id: h, ps_type: t.ok, trigger: on_failure}\n');
      const outcome = await w.run(spec);
      expect(w.sawAbort.has('a')).toBe(true);
      expect(w.signals.get('a')?.aborted).toBe(true);
      expect(stepOf(outcome, 'a')).toMatchObject({ status: 'FAILED', timedOut: true, errorMessage: 'step timed out after 50ms' });
      expect(outcome.status).toBe('TIMEOUT');
      expect(outcome.errorMessage).toBe('step timed out after 50ms');
      expect(statuses(outcome)).toEqual({ a: 'FAILED', b: 'SKIPPED', h: 'SUCCESS' });
    });

    it('a processor that ignores its signal cannot hang the run', async () => {
      const w = new World();
      const outcome = await w.run(w.load('  - {step_id: a, ps_type: t.deaf, timeout: 20ms}\n'));
      expect(outcome.status).toBe('TIMEOUT');
      expect(stepOf(outcome, 'a')).toMatchObject({ status: 'FAILED', timedOut: true, errorMessage: 'step timed out after 20ms' });
    });

    it('a timed-out attempt is retried, each attempt with a fresh signal', async () => {
      const w = new World();
      const seen: AbortSignal[] = [];
      const spec = w.load('  - {step_id: a, ps_type: t.hang, timeout: 10ms, retries: {max_attempts: 2, initial_delay: 1ms}}\n');
      const outcome = await w.run(spec, {
        hooks: {
          stepStarted: () => {
            const s = w.signals.get('a');
            if (s !== undefined) seen.push(s);
          },
        },
      });
      expect(stepOf(outcome, 'a')).toMatchObject({ status: 'FAILED', attempt: 2, timedOut: true });
      expect(w.log.filter((e) => e === 'abort:a')).toHaveLength(2);
      expect(seen).toHaveLength(1);
      expect(w.signals.get('a')).not.toBe(seen[0]);
    });

    it('the pipeline timeout stops the run: run TIMEOUT, the running step aborted, the rest SKIPPED, handlers still run', async () => {
      const w = new World();
      const spec = w.load(
        `  - {step_id: a, ps_type: t.hang}
  - {step_id: b, ps_type: t.ok, depends_on: [a]}
  - {step_id: h, ps_type: t.ok, trigger: on_failure}
`,
        'timeout: 50ms\n',
      );
      const outcome = await w.run(spec);
      expect(outcome.status).toBe('TIMEOUT');
      expect(outcome.errorMessage).toBe('pipeline timed out after 50ms');
      expect(w.sawAbort.has('a')).toBe(true);
      expect(stepOf(outcome, 'a')).toMatchObject({ status: 'FAILED', timedOut: true, errorMessage: 'pipeline timed out after 50ms' });
      expect(statuses(outcome)).toEqual({ a: 'FAILED', b: 'SKIPPED', h: 'SUCCESS' });
      expect(stepOf(outcome, 'b').metadata).toEqual({ reason: 'run stopped before this step started' });
    });

    // Regression (fixed): runner.ts passes timeouts straight to setTimeout, whose delay is a signed 32-bit number
    // of milliseconds; anything above 2^31-1 ms (~24.8 days) is replaced by 1 ms (TimeoutOverflowWarning).
    // parseDuration and the schema accept such durations, so `timeout: 30d` on a pipeline makes every
    // run time out about 1 ms after it starts. (Refusing such durations at load time would also do.)
    it('a pipeline timeout of 30d does not fire after 1 ms', async () => {
      const w = new World();
      let spec: PipelineSpec;
      try {
        spec = w.load('  - {step_id: a, ps_type: t.hang, timeout: 100ms}\n', 'timeout: 30d\n');
      } catch (e) {
        expect(e).toBeInstanceOf(PipelineSpecError);
        return;
      }
      const outcome = await w.run(spec);
      // The step's own 100ms timeout should be what stops it.
      expect(outcome.errorMessage).toBe('step timed out after 100ms');
    });

    it('a step timeout of 30d does not fire after 1 ms', async () => {
      const w = new World();
      let spec: PipelineSpec;
      try {
        spec = w.load('  - {step_id: a, ps_type: t.hang, timeout: 30d}\n', 'timeout: 100ms\n');
      } catch (e) {
        expect(e).toBeInstanceOf(PipelineSpecError);
        return;
      }
      const outcome = await w.run(spec);
      expect(outcome.errorMessage).toBe('pipeline timed out after 100ms');
    });
  });

  describe('cancellation', () => {
    it('aborting req.signal cancels the running step, skips the rest and still runs on_failure', async () => {
      const w = new World();
      const spec = w.load(
        `  - {step_id: a, ps_type: t.hang}
  - {step_id: b, ps_type: t.ok, depends_on: [a]}
  - {step_id: c, ps_type: t.ok}
  - {step_id: on_fail, ps_type: t.ok, trigger: on_failure}
  - {step_id: on_ok, ps_type: t.ok, trigger: on_success}
`,
        'max_parallel: 1\n',
      );
      const ctl = new AbortController();
      const done = w.run(spec, { signal: ctl.signal });
      await w.untilEvent('start:a');
      ctl.abort();
      const outcome = await done;
      expect(outcome.status).toBe('CANCELLED');
      expect(outcome.errorMessage).toBe('run cancelled');
      expect(w.sawAbort.has('a')).toBe(true);
      expect(stepOf(outcome, 'a')).toMatchObject({ status: 'CANCELLED', errorMessage: 'run cancelled', timedOut: false });
      expect(statuses(outcome)).toEqual({ a: 'CANCELLED', b: 'SKIPPED', c: 'SKIPPED', on_fail: 'SUCCESS', on_ok: 'SKIPPED' });
      expect(stepOf(outcome, 'c').metadata).toEqual({ reason: 'run stopped before this step started' });
      expect(w.started()).toEqual(['a', 'on_fail']);
    });

    it('cancelling during the wait before a retry ends the step at once', async () => {
      const w = new World();
      const spec = w.load('  - {step_id: a, ps_type: t.flaky, n: 1, retries: {max_attempts: 3, initial_delay: 1h, max_delay: 1h}}\n');
      const ctl = new AbortController();
      const done = w.run(spec, { signal: ctl.signal });
      await w.untilEvent('fail:a:1');
      await settle();
      ctl.abort();
      const outcome = await done;
      expect(outcome.status).toBe('CANCELLED');
      expect(stepOf(outcome, 'a')).toMatchObject({ status: 'CANCELLED', attempt: 1, errorMessage: 'run cancelled' });
      expect(w.started()).toEqual(['a']);
    });

    it('a signal aborted before the run starts skips every ordinary step', async () => {
      const w = new World();
      const ctl = new AbortController();
      ctl.abort();
      const outcome = await w.run(w.load('  - {step_id: a, ps_type: t.ok}\n  - {step_id: h, ps_type: t.ok, trigger: on_completion}\n'), { signal: ctl.signal });
      expect(outcome.status).toBe('CANCELLED');
      expect(statuses(outcome)).toEqual({ a: 'SKIPPED', h: 'SUCCESS' });
      expect(w.started()).toEqual(['h']);
    });

    it('aborting after the run ended changes nothing', async () => {
      const w = new World();
      const ctl = new AbortController();
      const outcome = await w.run(w.load('  - {step_id: a, ps_type: t.ok}\n'), { signal: ctl.signal });
      ctl.abort();
      expect(outcome.status).toBe('SUCCESS');
    });
  });

  // Regression (fixed): the loader accepts an ordinary step that depends_on a handler step (spec.ts checkGraph checks
  // only that the step exists), but runPhase drops dependencies outside the phase, so the ordinary
  // step starts at once, before the handler it depends on has run (handlers run only after every
  // ordinary step). A `{steps.h.rows_processed}` reference in it passes the load-time check and then
  // fails at run time with 'unknown variable'. Either the loader should refuse it or the step must wait.
  it('an ordinary step that depends_on a handler step is refused or waits for it', async () => {
    const w = new World();
    let spec: PipelineSpec;
    try {
      spec = w.load('  - {step_id: b, ps_type: t.ok, depends_on: [h]}\n  - {step_id: h, ps_type: t.ok, trigger: on_completion}\n');
    } catch (e) {
      expect(e).toBeInstanceOf(PipelineSpecError);
      return;
    }
    await w.run(spec);
    const started = w.started();
    if (started.includes('b')) expect(started.indexOf('b')).toBeGreaterThan(started.indexOf('h'));
  });

  describe('hooks', () => {
    it('stepStarted and stepFinished are called in order for every attempt and step', async () => {
      const w = new World();
      const calls: string[] = [];
      const spec = w.load(`  - {step_id: a, ps_type: t.flaky, n: 1, retries: {max_attempts: 2, initial_delay: 1ms}}
  - {step_id: b, ps_type: t.ok, depends_on: [a]}
  - {step_id: hf, ps_type: t.ok, trigger: on_failure}
  - {step_id: hs, ps_type: t.ok, trigger: on_success}
`);
      const outcome = await w.run(spec, {
        hooks: {
          stepStarted: (step, attempt, at) => {
            expect(at).toBeInstanceOf(Date);
            calls.push(`started ${step.stepId} #${attempt}`);
          },
          stepFinished: (o) => calls.push(`finished ${o.stepId} ${o.status}`),
        },
      });
      expect(outcome.status).toBe('SUCCESS');
      expect(calls).toEqual(['started a #1', 'started a #2', 'finished a SUCCESS', 'started b #1', 'finished b SUCCESS', 'finished hf SKIPPED', 'started hs #1', 'finished hs SUCCESS']);
    });

    it('stepFinished reports skipped steps too, once each', async () => {
      const w = new World();
      const finished: string[] = [];
      const spec = w.load('  - {step_id: a, ps_type: t.fail}\n  - {step_id: b, ps_type: t.ok, depends_on: [a]}\n  - {step_id: c, ps_type: t.ok, depends_on: [b]}\n');
      await w.run(spec, { hooks: { stepFinished: (o) => finished.push(`${o.stepId} ${o.status}`) } });
      expect(finished).toEqual(['a FAILED', 'b SKIPPED', 'c SKIPPED']);
    });
  });

  describe('rendering', () => {
    it('substitutes variables and earlier steps’ outputs into a later step’s config', async () => {
      const w = new World();
      const spec = w.load(`  - {step_id: a, ps_type: t.ok, n: 42}
  - step_id: b
    ps_type: t.ok
    depends_on: [a]
    sql: SELECT {steps.a.rows_processed} FROM {dataset}.t WHERE d = '{date}' AND who = @admin_email
    text: "{steps.a.label} for {company_name}: {steps.a.rows_processed}"
`);
      const outcome = await w.run(spec);
      expect(outcome.status).toBe('SUCCESS');
      expect(w.configs.get('b')).toEqual({
        sql: "SELECT 42 FROM acme.t WHERE d = '2025-01-01' AND who = @admin_email",
        text: 'from_a for Acme Inc.: 42',
      });
      // The spec itself is left as written.
      expect(spec.steps[1]?.config.sql).toContain('{steps.a.rows_processed}');
    });

    it('a variable missing at run time fails the step without retrying', async () => {
      const w = new World();
      const spec = w.load('  - {step_id: a, ps_type: t.ok, sql: "SELECT * FROM {dataset}.t", retries: {max_attempts: 3, initial_delay: 1ms}}\n');
      const outcome = await w.run(spec, { variables: {} });
      expect(stepOf(outcome, 'a')).toMatchObject({ status: 'FAILED', attempt: 1, errorMessage: 'unknown variable "dataset"' });
      expect(w.started()).toEqual([]);
    });

    it('a free-form string variable is still refused in SQL text at run time', async () => {
      const w = new World();
      // `date` is a date at load time but the caller binds a string: the runner checks again.
      const spec = w.load('  - {step_id: a, ps_type: t.ok, sql: "SELECT \'{date}\'"}\n');
      const outcome = await w.run(spec, { variables: { ...VARIABLES, date: { type: 'string', value: "x' OR '1'='1" } } });
      expect(stepOf(outcome, 'a').status).toBe('FAILED');
      expect(stepOf(outcome, 'a').errorMessage).toContain('@date');
      expect(w.started()).toEqual([]);
    });
  });
});

describe('retryDelay', () => {
  const policy = (initialDelayMs: number, maxDelayMs: number, backoff: RetrySpec['backoff'] = 'exponential'): { retry: RetrySpec } => ({
    retry: { maxAttempts: 10, backoff, initialDelayMs, maxDelayMs },
  });

  it('is exponential in the failed attempt, capped by max_delay', () => {
    const p = policy(100, 1000);
    // random() = 0.999… gives (almost) the whole base; 0 gives half.
    const top = (attempt: number): number => retryDelay(p, attempt, () => 0.999999999);
    expect([1, 2, 3, 4, 5, 6, 10].map(top)).toEqual([100, 200, 400, 800, 1000, 1000, 1000]);
    expect([1, 2, 3, 4, 5].map((a) => retryDelay(p, a, () => 0))).toEqual([50, 100, 200, 400, 500]);
    expect(retryDelay(p, 3, () => 0.5)).toBe(300);
  });

  it('stays at the initial delay with fixed backoff', () => {
    const p = policy(300, 1000, 'fixed');
    expect([1, 2, 5].map((a) => retryDelay(p, a, () => 0.999999999))).toEqual([300, 300, 300]);
    expect(retryDelay(policy(5000, 1000, 'fixed'), 1, () => 0.999999999)).toBe(1000);
  });

  it('does not overflow for late attempts', () => {
    expect(retryDelay(policy(1000, 60_000), 2000, () => 0)).toBe(30_000);
  });

  it('is within [base/2, base] for any jitter', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 1_000_000 }),
        fc.integer({ min: 0, max: 10_000_000 }),
        fc.integer({ min: 1, max: 12 }),
        fc.constantFrom<RetrySpec['backoff']>('exponential', 'fixed'),
        fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        (initial, max, attempt, backoff, r) => {
          const base = Math.min(max, backoff === 'fixed' ? initial : initial * 2 ** (attempt - 1));
          const d = retryDelay(policy(initial, max, backoff), attempt, () => r);
          expect(Number.isInteger(d)).toBe(true);
          expect(d).toBeGreaterThanOrEqual(base / 2);
          expect(d).toBeLessThanOrEqual(base);
        },
      ),
      { numRuns: 2000 },
    );
  });
});
