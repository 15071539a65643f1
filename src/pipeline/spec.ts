import fs from 'node:fs';
import path from 'node:path';
import { Type, type Static } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { parse as parseYaml } from 'yaml';
import type { ProcessorCatalog } from './processor.js';

/**
 * Pipeline documents (DESIGN.md §6.2) and their loading. Everything is checked at load time —
 * document shape, every step's config against its processor's schema, step references — and
 * errors name the file, the step and the field.
 */
export const TRIGGERS = ['always', 'on_failure', 'on_success', 'on_completion'] as const;
export type Trigger = (typeof TRIGGERS)[number];

const STEP_ID = '^[a-z][a-z0-9_]{0,63}$';

/** Keys every step has; the rest of a step's keys are its processor's config. */
const CommonStepKeys = Type.Object({
  step_id: Type.String({ pattern: STEP_ID, description: 'Unique id of the step in the pipeline.' }),
  ps_type: Type.String({ description: 'Processor that runs the step.' }),
  description: Type.Optional(Type.String()),
  depends_on: Type.Optional(Type.Array(Type.String({ pattern: STEP_ID }), { uniqueItems: true })),
  trigger: Type.Optional(Type.Union(TRIGGERS.map((t) => Type.Literal(t)), { default: 'always' })),
});
const COMMON_KEYS = new Set(Object.keys(CommonStepKeys.properties));

const PipelineDocument = Type.Object(
  {
    pipeline_id: Type.String({ minLength: 1, maxLength: 200 }),
    description: Type.Optional(Type.String()),
    steps: Type.Array(Type.Record(Type.String(), Type.Unknown()), { minItems: 1, maxItems: 500 }),
  },
  { additionalProperties: false },
);

export interface StepSpec {
  readonly stepId: string;
  readonly psType: string;
  readonly trigger: Trigger;
  readonly dependsOn: readonly string[];
  readonly config: Readonly<Record<string, unknown>>;
}

export interface PipelineSpec {
  readonly pipelineId: string;
  readonly description: string | undefined;
  /** The file it came from (or a label for stored configs). */
  readonly source: string;
  readonly dir: string;
  readonly steps: readonly StepSpec[];
}

export class PipelineSpecError extends Error {
  override name = 'PipelineSpecError';
}

/** Largest pipeline document accepted; YAML aliases are capped by the parser as well. */
export const MAX_PIPELINE_BYTES = 256 * 1024;

export function parsePipeline(text: string, source: string, catalog: ProcessorCatalog): PipelineSpec {
  if (Buffer.byteLength(text) > MAX_PIPELINE_BYTES) {
    throw new PipelineSpecError(`${source}: pipeline is larger than ${MAX_PIPELINE_BYTES} bytes`);
  }
  let doc: unknown;
  try {
    doc = parseYaml(text, { maxAliasCount: 50, uniqueKeys: true });
  } catch (e) {
    throw new PipelineSpecError(`${source}: invalid YAML: ${(e as Error).message}`);
  }
  const problem = firstError(PipelineDocument, doc);
  if (problem !== undefined) throw new PipelineSpecError(`${source}: ${problem}`);
  const d = doc as Static<typeof PipelineDocument>;

  const steps = d.steps.map((raw, i) => parseStep(raw, `${source}: steps[${i}]`, catalog));
  const ids = new Set<string>();
  for (const s of steps) {
    if (ids.has(s.stepId)) throw new PipelineSpecError(`${source}: duplicate step_id "${s.stepId}"`);
    ids.add(s.stepId);
  }
  for (const s of steps) {
    for (const dep of s.dependsOn) {
      if (!ids.has(dep)) throw new PipelineSpecError(`${source}: step "${s.stepId}": depends_on names unknown step "${dep}"`);
    }
  }
  return { pipelineId: d.pipeline_id, description: d.description, source, dir: path.dirname(source), steps };
}

function parseStep(raw: Record<string, unknown>, where: string, catalog: ProcessorCatalog): StepSpec {
  const common: Record<string, unknown> = {};
  const config: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(raw)) (COMMON_KEYS.has(k) ? common : config)[k] = v;
  const commonProblem = firstError(CommonStepKeys, common);
  const label = typeof raw.step_id === 'string' ? `${where} (step "${raw.step_id}")` : where;
  if (commonProblem !== undefined) throw new PipelineSpecError(`${label}: ${commonProblem}`);
  const c = common as Static<typeof CommonStepKeys>;
  const processor = catalog.get(c.ps_type);
  if (processor === undefined) {
    throw new PipelineSpecError(`${label}: unknown ps_type "${c.ps_type}" (known: ${[...catalog.keys()].sort().join(', ')})`);
  }
  const withDefaults = Value.Default(processor.configSchema, Value.Clone(config)) as Record<string, unknown>;
  const configProblem = firstError(processor.configSchema, withDefaults);
  if (configProblem !== undefined) throw new PipelineSpecError(`${label}: ${c.ps_type} config: ${configProblem}`);
  return { stepId: c.step_id, psType: c.ps_type, trigger: c.trigger ?? 'always', dependsOn: c.depends_on ?? [], config: withDefaults };
}

function firstError(schema: Parameters<typeof Value.Check>[0], value: unknown): string | undefined {
  if (Value.Check(schema, value)) return undefined;
  const e = Value.Errors(schema, value).First();
  if (e === undefined) return 'is invalid';
  const field = e.path === '' ? '(document)' : e.path.slice(1).replace(/\//g, '.');
  return `field "${field}": ${e.message}`;
}

export function loadPipelineFile(file: string, catalog: ProcessorCatalog): PipelineSpec {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new PipelineSpecError(`${file}: ${(e as Error).message}`);
  }
  return parsePipeline(text, file, catalog);
}
