import { coerceValue, VariableError, addDays, type TypedValue, type VariableValue } from './variables.js';
import type { PipelineSpec } from './spec.js';

/**
 * Turns a run request into the run's typed variables: built-ins, the pipeline's constants and its
 * declared parameters, each validated against its type before anything can use it.
 */
export interface RunInputs {
  readonly date?: string;
  readonly parameters?: Readonly<Record<string, unknown>>;
}

export interface BuiltinValues {
  readonly orgSlug: string;
  readonly dataset: string;
  readonly pipelineLoggingId: string;
  readonly adminEmail: string;
  readonly companyName: string;
  readonly projectId: string;
  readonly env: string;
  /** Today in UTC (`YYYY-MM-DD`), for `today`/`yesterday`. */
  readonly today: string;
}

export interface ResolvedVariables {
  readonly variables: Readonly<Record<string, TypedValue>>;
  /** The parameters as the run will use them (defaults applied), for the run log. */
  readonly parameters: Readonly<Record<string, VariableValue>>;
}

const DATE_PARAMS = ['date', 'start_date', 'end_date'];

export function resolveVariables(spec: PipelineSpec, inputs: RunInputs, b: BuiltinValues): ResolvedVariables {
  const given = inputs.parameters ?? {};
  const declared = new Map(spec.parameters.map((p) => [p.name, p]));
  const unknown = Object.keys(given).filter((k) => !declared.has(k) && !DATE_PARAMS.includes(k));
  if (unknown.length > 0) {
    const known = [...new Set([...declared.keys(), ...DATE_PARAMS])].join(', ');
    throw new VariableError(`unknown parameter ${unknown.map((u) => `"${u}"`).join(', ')} (this pipeline takes: ${known})`);
  }
  if (inputs.date !== undefined && given.date !== undefined && inputs.date !== given.date) {
    throw new VariableError('"date" is given twice, with different values');
  }
  const coerce = (name: string, type: Parameters<typeof coerceValue>[0], raw: unknown, values?: readonly string[]): VariableValue => {
    try {
      return coerceValue(type, raw, { values, today: b.today });
    } catch (e) {
      throw new VariableError(`parameter "${name}": ${(e as Error).message}`);
    }
  };

  const parameters: Record<string, VariableValue> = {};
  const dateParam = declared.get('date');
  const date = coerce('date', 'date', inputs.date ?? given.date ?? dateParam?.default ?? 'yesterday') as string;
  parameters.date = date;
  for (const name of ['start_date', 'end_date']) {
    const raw = given[name] ?? declared.get(name)?.default;
    parameters[name] = raw === undefined ? date : coerce(name, 'date', raw);
  }
  if ((parameters.start_date as string) > (parameters.end_date as string)) {
    throw new VariableError(`parameter "start_date" (${String(parameters.start_date)}) is after "end_date" (${String(parameters.end_date)})`);
  }
  for (const p of spec.parameters) {
    if (DATE_PARAMS.includes(p.name)) continue;
    const raw = given[p.name] ?? p.default;
    if (raw === undefined) {
      if (p.required) throw new VariableError(`parameter "${p.name}" is required`);
      continue;
    }
    const v = coerce(p.name, p.type, raw, p.values);
    if (typeof v === 'number' && ((p.minimum !== undefined && v < p.minimum) || (p.maximum !== undefined && v > p.maximum))) {
      throw new VariableError(`parameter "${p.name}": ${v} is outside [${p.minimum ?? '-∞'}, ${p.maximum ?? '∞'}]`);
    }
    parameters[p.name] = v;
  }

  const variables: Record<string, TypedValue> = {
    org_slug: { type: 'identifier', value: b.orgSlug },
    dataset: { type: 'identifier', value: b.dataset },
    pipeline_logging_id: { type: 'uuid', value: b.pipelineLoggingId },
    admin_email: { type: 'string', value: b.adminEmail },
    company_name: { type: 'string', value: b.companyName },
    project_id: { type: 'string', value: b.projectId },
    env: { type: 'enum', value: b.env },
  };
  for (const [name, v] of Object.entries(spec.variables)) variables[name] = v;
  for (const [name, value] of Object.entries(parameters)) {
    variables[name] = { type: DATE_PARAMS.includes(name) ? 'date' : (declared.get(name)?.type ?? 'string'), value };
  }
  return { variables, parameters };
}

/** `today` in UTC as `YYYY-MM-DD`. */
export const utcDay = (d: Date): string => d.toISOString().slice(0, 10);
export { addDays };
