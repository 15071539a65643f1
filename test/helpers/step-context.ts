import crypto from 'node:crypto';
import path from 'node:path';
import { Value } from '@sinclair/typebox/value';
import { pino } from 'pino';
import { expect } from 'vitest';
import { StepError, type Processor, type StepContext, type StepResult } from '../../src/pipeline/processor.js';

/** What the runner hands a processor, built by hand for processor tests; `over` replaces any field. */
export function stepContext(over: Partial<StepContext> = {}): StepContext {
  return {
    orgSlug: 'acme',
    dataset: 'acme',
    pipelineLoggingId: crypto.randomUUID(),
    stepId: 'step',
    attempt: 1,
    pipelineDir: path.resolve('configs/demo/sample'),
    configsDir: path.resolve('configs'),
    inputs: {},
    variables: {},
    outputs: new Map(),
    run: { pipelineId: 'test_pipeline', status: 'RUNNING', failures: [] },
    signal: new AbortController().signal,
    logger: pino({ level: 'silent' }),
    ...over,
  };
}

/** Runs `p` with `config` as the loader would give it: defaults applied, schema checked. */
export function runWithDefaults(p: Processor, config: Record<string, unknown>, ctx: StepContext): Promise<StepResult> {
  const c = Value.Default(p.configSchema, Value.Clone(config));
  expect(Value.Check(p.configSchema, c)).toBe(true);
  return p.run(ctx, c as never);
}

/** The StepError `p` rejects with (fails the test if it resolves or rejects otherwise). */
export async function stepError(p: Promise<unknown>): Promise<StepError> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e, 'expected a StepError').toBeInstanceOf(StepError);
  return e as StepError;
}
