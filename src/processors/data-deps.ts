import { Type, type TString } from '@sinclair/typebox';
import type { Logger } from 'pino';
import type { ControlStore } from '../control-store/control-store.js';
import { AppError, errorMessage, isAppError } from '../core/errors.js';
import type { SqlValue } from '../core/sql.js';
import { findNamedParameters } from '../core/sql-lexer.js';
import { StepError, type StepContext } from '../pipeline/processor.js';
import type { Warehouse } from '../warehouse/warehouse.js';

/** What the data processors (ETL, data quality) need from the outside world. */
export interface DataDeps {
  readonly warehouse: Warehouse;
  readonly controlStore: ControlStore;
  readonly now: () => Date;
  readonly logger: Logger;
}

/** Values for the `@name` parameters `sql` uses, from the run's typed variables. */
export function bindParameters(sql: string, ctx: StepContext, extra: Readonly<Record<string, SqlValue>> = {}): Record<string, SqlValue> {
  const params: Record<string, SqlValue> = {};
  for (const { name } of findNamedParameters(sql)) {
    if (Object.hasOwn(extra, name)) params[name] = extra[name] as SqlValue;
    else if (Object.hasOwn(ctx.variables, name)) params[name] = ctx.variables[name]?.value as SqlValue;
    else throw new StepError(`query parameter @${name} is not a variable of this run`);
  }
  return params;
}

/** Refusals of SQL are final: retrying will not make the query allowed. */
export async function checkScope(warehouse: Warehouse, sql: string, dataset: string, relations?: readonly string[]): Promise<void> {
  try {
    await warehouse.checkQueryScope(sql, dataset, relations === undefined ? undefined : { relations });
  } catch (e) {
    if (isAppError(e) && e.code === 'SQL_NOT_ALLOWED') throw new StepError(`SQL refused: ${e.message}`);
    throw e;
  }
}

/** `table` or `dataset.table`; the dataset, when given, must be the org's own. */
export function ownTable(ref: string, dataset: string): string {
  const m = /^(?:([A-Za-z0-9_]{1,128})\.)?([A-Za-z_][A-Za-z0-9_]{0,127})$/.exec(ref);
  if (m === null) throw new StepError(`"${ref}" is not a table name (table or dataset.table)`);
  if (m[1] !== undefined && m[1] !== dataset) throw new StepError(`table "${ref}" is outside dataset ${dataset}`);
  return m[2] as string;
}

/** Engine errors keep their message (the user needs it); 4xx application errors are not retried. */
export function asStepError(e: unknown): unknown {
  if (isAppError(e) && e.status < 500) return new StepError(e.message, { cause: e });
  if (e instanceof AppError) return e;
  return e instanceof Error ? e : new Error(errorMessage(e));
}

/** Config key holding the day a step loads: `{date}` (the run date) unless set; checked when the step runs. */
export const DayOption = (description = 'UTC day (default: the run date)'): TString => Type.String({ default: '{date}', minLength: 1, maxLength: 40, description });

/** The rendered day of a DayOption, or a StepError naming it. */
export function dayOf(value: string): string {
  const ok = /^\d{4}-\d{2}-\d{2}$/.test(value) && new Date(`${value}T00:00:00Z`).toISOString().slice(0, 10) === value;
  if (!ok) throw new StepError(`date "${value.slice(0, 40)}" is not a day (YYYY-MM-DD)`);
  return value;
}
