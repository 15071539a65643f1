import fs from 'node:fs';
import path from 'node:path';
import type { Static, TSchema } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { parse as parseYaml } from 'yaml';
import { parseDuration } from '../core/duration.js';
import { findNamedParameters } from '../core/sql-lexer.js';
import { ancestors, findCycle } from './dag.js';
import { SQL_TEXT, type ProcessorCatalog } from './processor.js';
import { COMMON_STEP_KEYS, CommonStepKeys, PipelineDocument, SeedDocument, TRIGGERS, type Trigger } from './spec-document.js';
import { BUILTIN_VARIABLES, coerceValue, inferVariableType, SQL_SAFE_TYPES, VariableError, variableReferences, type VariableType, type VariableValue } from './variables.js';

export { TRIGGERS, type Trigger };

/**
 * Pipeline documents and their loading (DESIGN.md §6.2–6.3). Both the canonical form and the older
 * seed form load into one model. Everything is checked at load time — document shape, every step's
 * config against its processor's schema, references between steps, cycles, variables and where they
 * may appear — and errors name the file, the step and the field.
 */
export interface RetrySpec {
  readonly maxAttempts: number;
  readonly backoff: 'exponential' | 'fixed';
  readonly initialDelayMs: number;
  readonly maxDelayMs: number;
}

export interface StepSpec {
  readonly stepId: string;
  readonly psType: string;
  readonly description: string | undefined;
  readonly trigger: Trigger;
  readonly dependsOn: readonly string[];
  readonly timeoutMs: number | undefined;
  readonly retry: RetrySpec;
  /** The processor's config with defaults applied; strings may hold `{variables}`. */
  readonly config: Readonly<Record<string, unknown>>;
}

export interface ParameterSpec {
  readonly name: string;
  readonly type: VariableType;
  readonly description: string | undefined;
  readonly default: VariableValue | undefined;
  readonly required: boolean;
  readonly values: readonly string[] | undefined;
  readonly minimum: number | undefined;
  readonly maximum: number | undefined;
}

export interface PipelineSpec {
  readonly pipelineId: string;
  readonly description: string | undefined;
  /** The file it came from (or a label for stored configs). */
  readonly source: string;
  readonly dir: string;
  readonly parameters: readonly ParameterSpec[];
  readonly variables: Readonly<Record<string, { type: VariableType; value: VariableValue }>>;
  readonly timeoutMs: number | undefined;
  readonly maxParallel: number;
  readonly steps: readonly StepSpec[];
}

export class PipelineSpecError extends Error {
  override name = 'PipelineSpecError';
}

export interface LoadOptions {
  readonly catalog: ProcessorCatalog;
  /** The `configs/` root, for processors that check referenced files. */
  readonly configsDir: string;
  /** Directory that relative file references of the pipeline resolve against (default: the file's). */
  readonly dir?: string;
}

/** Largest pipeline document accepted; YAML aliases are capped by the parser as well. */
export const MAX_PIPELINE_BYTES = 256 * 1024;
export const DEFAULT_MAX_PARALLEL = 4;
const NO_RETRY: RetrySpec = { maxAttempts: 1, backoff: 'exponential', initialDelayMs: 1000, maxDelayMs: 60_000 };

export function parsePipeline(text: string, source: string, opts: LoadOptions): PipelineSpec {
  const fail = (msg: string): never => {
    throw new PipelineSpecError(`${source}: ${msg}`);
  };
  if (Buffer.byteLength(text) > MAX_PIPELINE_BYTES) fail(`pipeline is larger than ${MAX_PIPELINE_BYTES} bytes`);
  let raw: unknown;
  try {
    raw = parseYaml(text, { maxAliasCount: 50, uniqueKeys: true, prettyErrors: true });
  } catch (e) {
    fail(`invalid YAML: ${(e as Error).message}`);
  }
  const doc = isSeedForm(raw) ? normalizeSeed(raw, fail) : raw;
  const problem = firstError(PipelineDocument, doc);
  if (problem !== undefined) fail(problem);
  const d = doc as Static<typeof PipelineDocument>;

  const parameters = Object.entries(d.parameters ?? {}).map(([name, p]) => parameterSpec(name, p, fail));
  const variables = variableSpecs(d.variables ?? {}, parameters, fail);
  const steps = d.steps.map((s, i) => parseStep(s, `steps[${i}]`, opts, source, fail));
  if (d.timeout !== undefined) checkDuration(d.timeout, 'timeout', fail);
  checkGraph(steps, fail);

  const spec: PipelineSpec = {
    pipelineId: d.pipeline_id,
    description: d.description,
    source,
    dir: opts.dir ?? path.dirname(source),
    parameters,
    variables,
    timeoutMs: d.timeout === undefined ? undefined : parseDuration(d.timeout),
    maxParallel: d.max_parallel ?? DEFAULT_MAX_PARALLEL,
    steps,
  };
  checkVariables(spec, opts.catalog, fail);
  for (const step of steps) {
    const problem = opts.catalog.get(step.psType)?.checkConfig?.(step.config as never, { pipelineDir: spec.dir, configsDir: opts.configsDir });
    if (problem !== undefined) fail(`step "${step.stepId}": ${problem}`);
  }
  return spec;
}

export function loadPipelineFile(file: string, opts: LoadOptions): PipelineSpec {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new PipelineSpecError(`${file}: ${(e as Error).message}`);
  }
  return parsePipeline(text, file, opts);
}

const isSeedForm = (doc: unknown): boolean => typeof doc === 'object' && doc !== null && 'pipeline' in doc && !('pipeline_id' in doc);

/** Seed form → canonical: `pipeline.id` is the id, each level depends on every step of the level before. */
function normalizeSeed(doc: unknown, fail: (msg: string) => never): unknown {
  const problem = firstError(SeedDocument, doc);
  if (problem !== undefined) fail(`(seed form) ${problem}`);
  const d = doc as Static<typeof SeedDocument>;
  const levels = Object.entries(d.dependencies ?? {})
    .map(([k, v]) => ({ level: Number(k.slice('level_'.length)), steps: v.map((s) => s.step) }))
    .sort((a, b) => a.level - b.level);
  const levelDeps = new Map<string, string[]>();
  levels.forEach((l, i) => {
    for (const s of l.steps) levelDeps.set(s, i === 0 ? [] : (levels[i - 1]?.steps ?? []));
  });
  const { pipeline, dependencies: _dependencies, steps, ...rest } = d;
  return {
    ...rest,
    pipeline_id: pipeline.id,
    description: d.description ?? pipeline.name,
    ...(pipeline.version === undefined ? {} : { version: pipeline.version }),
    steps: steps.map(({ id, config, ...step }) => {
      const dependsOn = ((step as Record<string, unknown>).depends_on as string[] | undefined) ?? levelDeps.get(id);
      return { step_id: id, ...step, ...(config ?? {}), ...(dependsOn === undefined || dependsOn.length === 0 ? {} : { depends_on: dependsOn }) };
    }),
  };
}

function parameterSpec(name: string, p: NonNullable<Static<typeof PipelineDocument>['parameters']>[string], fail: (msg: string) => never): ParameterSpec {
  const where = `parameters.${name}`;
  if (name in BUILTIN_VARIABLES && !(['date', 'start_date', 'end_date'] as string[]).includes(name)) fail(`${where}: "${name}" is a built-in variable`);
  if (['date', 'start_date', 'end_date'].includes(name) && p.type !== 'date') fail(`${where}: must be of type date`);
  if (p.type === 'enum' && p.values === undefined) fail(`${where}: an enum needs "values"`);
  if (p.default !== undefined) {
    // Checked now, kept as written: relative dates (`yesterday`) resolve when the run starts.
    try {
      coerceValue(p.type, p.default, { values: p.values, today: '2000-01-01' });
    } catch (e) {
      fail(`${where}.default: ${(e as Error).message}`);
    }
  }
  return { name, type: p.type, description: p.description, default: p.default, required: p.required ?? false, values: p.values, minimum: p.minimum, maximum: p.maximum };
}

function variableSpecs(
  vars: Record<string, string | number | boolean>,
  parameters: readonly ParameterSpec[],
  fail: (msg: string) => never,
): Record<string, { type: VariableType; value: VariableValue }> {
  const out: Record<string, { type: VariableType; value: VariableValue }> = {};
  for (const [name, value] of Object.entries(vars)) {
    if (name in BUILTIN_VARIABLES || parameters.some((p) => p.name === name)) fail(`variables.${name}: shadows a built-in variable or parameter`);
    const type = inferVariableType(value);
    if (type === undefined) fail(`variables.${name}: unsupported value`);
    out[name] = { type: type as VariableType, value };
  }
  return out;
}

function parseStep(raw: Record<string, unknown>, where: string, opts: LoadOptions, _source: string, fail: (msg: string) => never): StepSpec {
  const common: Record<string, unknown> = {};
  const config: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(raw)) (COMMON_STEP_KEYS.has(k) ? common : config)[k] = v;
  const label = typeof raw.step_id === 'string' ? `${where} (step "${raw.step_id}")` : where;
  const commonProblem = firstError(CommonStepKeys, common);
  if (commonProblem !== undefined) fail(`${label}: ${commonProblem}`);
  const c = common as Static<typeof CommonStepKeys>;
  const processor = opts.catalog.get(c.ps_type);
  if (processor === undefined) fail(`${label}: unknown ps_type "${c.ps_type}" (known: ${[...opts.catalog.keys()].sort().join(', ')})`);
  const schema = (processor as NonNullable<typeof processor>).configSchema;
  const withDefaults = Value.Default(schema, Value.Clone(config)) as Record<string, unknown>;
  const configProblem = firstError(schema, withDefaults);
  if (configProblem !== undefined) fail(`${label}: ${c.ps_type} config: ${configProblem}`);
  const r = c.retries;
  if (c.timeout !== undefined) checkDuration(c.timeout, `${label}: timeout`, fail);
  if (r?.initial_delay !== undefined) checkDuration(r.initial_delay, `${label}: retries.initial_delay`, fail);
  if (r?.max_delay !== undefined) checkDuration(r.max_delay, `${label}: retries.max_delay`, fail);
  return {
    stepId: c.step_id,
    psType: c.ps_type,
    description: c.description,
    trigger: c.trigger ?? 'always',
    dependsOn: c.depends_on ?? [],
    timeoutMs: c.timeout === undefined ? undefined : parseDuration(c.timeout),
    retry:
      r === undefined
        ? NO_RETRY
        : {
            maxAttempts: r.max_attempts,
            backoff: r.backoff ?? 'exponential',
            initialDelayMs: r.initial_delay === undefined ? NO_RETRY.initialDelayMs : (parseDuration(r.initial_delay) ?? 0),
            maxDelayMs: r.max_delay === undefined ? NO_RETRY.maxDelayMs : (parseDuration(r.max_delay) ?? 0),
          },
    config: withDefaults,
  };
}

/** Timers cannot wait longer than 2^31-1 ms (about 24.8 days); longer durations are refused, not wrapped. */
export const MAX_DURATION_MS = 7 * 86_400_000;

function checkDuration(text: string, where: string, fail: (msg: string) => never): void {
  const ms = parseDuration(text);
  if (ms === undefined) fail(`${where}: "${text}" is not a duration`);
  if ((ms as number) > MAX_DURATION_MS) fail(`${where}: ${text} is longer than the maximum of 7d`);
}

function checkGraph(steps: readonly StepSpec[], fail: (msg: string) => never): void {
  const ids = new Set<string>();
  for (const s of steps) {
    if (ids.has(s.stepId)) fail(`duplicate step_id "${s.stepId}"`);
    ids.add(s.stepId);
  }
  for (const s of steps) {
    for (const dep of s.dependsOn) {
      if (!ids.has(dep)) fail(`step "${s.stepId}": depends_on names unknown step "${dep}"`);
      if (dep === s.stepId) fail(`step "${s.stepId}": depends_on names itself`);
      const target = steps.find((x) => x.stepId === dep);
      if (s.trigger === 'always' && target !== undefined && target.trigger !== 'always') {
        fail(`step "${s.stepId}": depends_on names "${dep}", a ${target.trigger} step, which runs only after the ordinary steps`);
      }
    }
  }
  const cycle = findCycle(steps.map((s) => ({ id: s.stepId, dependsOn: s.dependsOn })));
  if (cycle !== undefined) fail(`steps form a cycle: ${cycle.join(' → ')}`);
}

/** Type of a variable reference as seen from `step`, or a reason it cannot be used there. */
export function referenceType(spec: PipelineSpec, step: StepSpec | undefined, name: string): VariableType | string {
  if (name.startsWith('steps.')) {
    const [, stepId, key] = name.split('.') as [string, string, string];
    if (step === undefined) return `"${name}": step outputs are only available inside steps`;
    if (!spec.steps.some((s) => s.stepId === stepId)) return `"${name}" names unknown step "${stepId}"`;
    const upstream = ancestors(spec.steps.map((s) => ({ id: s.stepId, dependsOn: s.dependsOn })), step.stepId);
    if (!upstream.has(stepId)) return `"${name}": step "${stepId}" is not among the steps "${step.stepId}" depends on`;
    return key === 'rows_processed' ? 'integer' : 'string';
  }
  const param = spec.parameters.find((p) => p.name === name);
  if (param !== undefined) return param.type;
  const builtin = BUILTIN_VARIABLES[name];
  if (builtin !== undefined) return builtin;
  const variable = spec.variables[name];
  if (variable !== undefined) return variable.type;
  return `unknown variable "${name}"`;
}

/** Every `{var}` known, every `@param` in SQL known, and only strict types spliced into SQL text. */
function checkVariables(spec: PipelineSpec, catalog: ProcessorCatalog, fail: (msg: string) => never): void {
  for (const [field, text] of [['pipeline_id', spec.pipelineId] as const, ['description', spec.description ?? ''] as const]) {
    for (const name of variableReferences(text)) {
      const t = referenceType(spec, undefined, name);
      if (!isVariableType(t)) fail(`field "${field}": ${t}`);
    }
  }
  for (const step of spec.steps) {
    const schema = catalog.get(step.psType)?.configSchema;
    if (schema === undefined) continue;
    visitStrings(schema, step.config, '', (field, text, sql) => {
      const where = `step "${step.stepId}": field "${field}"`;
      for (const name of variableReferences(text)) {
        const t = referenceType(spec, step, name);
        if (!isVariableType(t)) fail(`${where}: ${t}`);
        if (sql && !SQL_SAFE_TYPES.has(t as VariableType)) {
          fail(`${where}: variable "${name}" is of type ${t} and cannot be placed in SQL text; bind it as @${name}`);
        }
      }
      if (sql) {
        for (const p of findNamedParameters(text)) {
          const t = referenceType(spec, step, p.name);
          if (!isVariableType(t)) fail(`${where}: query parameter @${p.name}: ${t}`);
        }
      }
    });
  }
}

const isVariableType = (t: string): t is VariableType => !t.includes(' ');

/** Calls `visit` for every string in `value`, saying whether the schema marks it as SQL text. */
export function visitStrings(schema: TSchema, value: unknown, at: string, visit: (field: string, text: string, sql: boolean) => void): void {
  mapStrings(schema, value, at, (field, text, sql) => {
    visit(field, text, sql);
    return text;
  });
}

/** A copy of `value` with every string replaced by `fn(field, text, isSql)`; the schema says which strings are SQL. */
export function mapStrings(schema: TSchema, value: unknown, at: string, fn: (field: string, text: string, sql: boolean) => string): unknown {
  const s = schema as { [SQL_TEXT]?: boolean; properties?: Record<string, TSchema>; items?: TSchema; anyOf?: TSchema[] };
  const branches = (s.anyOf ?? []) as { [SQL_TEXT]?: boolean; properties?: Record<string, TSchema> }[];
  if (typeof value === 'string') return fn(at.slice(1) || '(value)', value, s[SQL_TEXT] === true || branches.some((b) => b[SQL_TEXT] === true));
  if (Array.isArray(value)) return value.map((v, i) => mapStrings(s.items ?? ({} as TSchema), v, `${at}[${i}]`, fn));
  if (typeof value === 'object' && value !== null) {
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) => {
        const sub = s.properties?.[k] ?? branches.map((b) => b.properties?.[k]).find((x) => x !== undefined);
        return [k, mapStrings(sub ?? ({} as TSchema), v, `${at}.${k}`, fn)];
      }),
    );
  }
  return value;
}

function firstError(schema: TSchema, value: unknown): string | undefined {
  if (Value.Check(schema, value)) return undefined;
  const e = Value.Errors(schema, value).First();
  if (e === undefined) return 'is invalid';
  const field = e.path === '' ? '(document)' : e.path.slice(1).replace(/\//g, '.');
  return `field "${field}": ${e.message}`;
}

export { VariableError };
