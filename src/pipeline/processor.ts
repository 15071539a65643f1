import type { TSchema, Static } from '@sinclair/typebox';
import type { Logger } from 'pino';

/**
 * A processor is the code behind a step type (`ps_type`). Its config schema is checked when the
 * pipeline loads, so `run` receives a config of the declared type; everything a processor needs
 * from the outside world (stores, warehouse, clock) is given to its factory, not imported.
 */
export interface StepContext {
  /** The org the run belongs to (`_platform` for platform-wide setup runs). */
  readonly orgSlug: string;
  readonly pipelineLoggingId: string;
  readonly stepId: string;
  /** Directory of the pipeline file, for config files named relative to it. */
  readonly pipelineDir: string;
  /** Run inputs (request body or parameters), already validated by the caller. */
  readonly inputs: Readonly<Record<string, unknown>>;
  /** Outputs of earlier steps, by step id. */
  readonly outputs: ReadonlyMap<string, Readonly<Record<string, unknown>>>;
  readonly signal: AbortSignal;
  readonly logger: Logger;
}

export interface StepResult {
  readonly rowsProcessed?: number;
  /** Written to the step log: must hold no secrets. */
  readonly metadata?: Readonly<Record<string, unknown>>;
  /** Handed to later steps and to the caller; never logged (may hold a one-time API key). */
  readonly output?: Readonly<Record<string, unknown>>;
}

export interface Processor<S extends TSchema = TSchema> {
  readonly psType: string;
  readonly description: string;
  /** JSON Schema (TypeBox) of the step's own keys, i.e. everything but the common step keys. */
  readonly configSchema: S;
  run(ctx: StepContext, config: Static<S>): Promise<StepResult>;
}

/** The registered processors, by `ps_type`. */
export type ProcessorCatalog = ReadonlyMap<string, Processor>;

/** Helper that keeps the config type of each processor precise while storing them uniformly. */
export function defineProcessor<S extends TSchema>(p: Processor<S>): Processor {
  return p as unknown as Processor;
}
