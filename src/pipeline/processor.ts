import { Type, type StringOptions, type TSchema, type Static, type TString } from '@sinclair/typebox';
import type { Logger } from 'pino';
import type { TypedValue } from './variables.js';

/**
 * A processor is the code behind a step type (`ps_type`). Its config schema is checked when the
 * pipeline loads, so `run` receives a config of the declared type with variables substituted;
 * everything a processor needs from the outside world (stores, warehouse, clock) is given to its
 * factory, not imported.
 */
export interface StepContext {
  /** The org the run belongs to (`_platform` for platform-wide setup runs). */
  readonly orgSlug: string;
  /** The org's dataset in the warehouse. */
  readonly dataset: string;
  readonly pipelineLoggingId: string;
  readonly stepId: string;
  /** 1 for the first try, then 2, 3… when the step is retried. */
  readonly attempt: number;
  /** Directory of the pipeline file, for config files named relative to it. */
  readonly pipelineDir: string;
  /** The `configs/` root, for files named relative to it. */
  readonly configsDir: string;
  /** Run inputs (request body or parameters), already validated by the caller. */
  readonly inputs: Readonly<Record<string, unknown>>;
  /** Every variable of the run with its type, for binding `@name` query parameters. */
  readonly variables: Readonly<Record<string, TypedValue>>;
  /** Outputs of earlier steps, by step id. */
  readonly outputs: ReadonlyMap<string, Readonly<Record<string, unknown>>>;
  /** The run as it stands when the step starts (handlers such as notifications report it). */
  readonly run: RunSummary;
  /** Aborted on cancellation and timeouts; pass it to every query and request. */
  readonly signal: AbortSignal;
  readonly logger: Logger;
}

export interface RunSummary {
  readonly pipelineId: string;
  /** RUNNING for ordinary steps; the run's outcome for on_success/on_failure/on_completion steps. */
  readonly status: 'RUNNING' | 'SUCCESS' | 'FAILED' | 'CANCELLED' | 'TIMEOUT';
  readonly failures: readonly { readonly step_id: string; readonly error: string }[];
}

export interface StepResult {
  readonly rowsProcessed?: number;
  /** Written to the step log: must hold no secrets. */
  readonly metadata?: Readonly<Record<string, unknown>>;
  /** Handed to later steps and to the caller; never logged (may hold a one-time API key). */
  readonly output?: Readonly<Record<string, unknown>>;
}

export interface ConfigCheckContext {
  readonly pipelineDir: string;
  readonly configsDir: string;
}

export interface Processor<S extends TSchema = TSchema> {
  readonly psType: string;
  readonly description: string;
  /** JSON Schema (TypeBox) of the step's own keys, i.e. everything but the common step keys. */
  readonly configSchema: S;
  /** Checks beyond the schema that can be made at load time (e.g. a referenced file exists); returns the problem. */
  checkConfig?(config: Static<S>, ctx: ConfigCheckContext): string | undefined;
  run(ctx: StepContext, config: Static<S>): Promise<StepResult>;
  /**
   * Checks a dry run makes with the rendered config, touching nothing (e.g. SQL scope, target
   * table, recipients); throws a StepError naming the problem.
   */
  preflight?(ctx: StepContext, config: Static<S>): Promise<void>;
}

/** The registered processors, by `ps_type`. */
export type ProcessorCatalog = ReadonlyMap<string, Processor>;

/** Helper that keeps the config type of each processor precise while storing them uniformly. */
export function defineProcessor<S extends TSchema>(p: Processor<S>): Processor {
  return p as unknown as Processor;
}

/** Schema keyword marking a string as SQL text, where only strictly typed variables may be substituted. */
export const SQL_TEXT = 'x-sql';

/** A config string that ends up in SQL (a query, an expression, a table name). */
export const SqlText = (options: StringOptions = {}): TString => Type.String({ ...options, [SQL_TEXT]: true });

/** A failure that retrying cannot fix (bad config, refused SQL, a check that failed). */
export class StepError extends Error {
  override name = 'StepError';
  readonly retryable: boolean;

  constructor(message: string, opts: { retryable?: boolean; cause?: unknown } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.retryable = opts.retryable ?? false;
  }
}
