import { Type, type TString } from '@sinclair/typebox';
import type { ProcessorCatalog } from './processor.js';
import { VARIABLE_TYPES } from './variables.js';

/**
 * The shape of a pipeline file (DESIGN.md §6.2), as TypeBox schemas. The loader checks documents
 * against these, and `pipelineJsonSchema` publishes the same schemas, with every processor's config,
 * as a JSON Schema for editors.
 */
export const TRIGGERS = ['always', 'on_failure', 'on_success', 'on_completion'] as const;
export type Trigger = (typeof TRIGGERS)[number];

export const STEP_ID_PATTERN = '^[a-z][a-z0-9_]{0,63}$';
const NAME_PATTERN = '^[a-z_][a-z0-9_]{0,63}$';
export const DURATION_PATTERN = '^(\\d{1,9}(ms|s|m|h|d))+$';

const Duration = (description: string): TString => Type.String({ pattern: DURATION_PATTERN, description: `${description} (e.g. 30s, 10m, 1h30m)` });

export const RetryPolicy = Type.Object(
  {
    max_attempts: Type.Integer({ minimum: 1, maximum: 10, description: 'Tries in total, the first included.' }),
    backoff: Type.Optional(Type.Union([Type.Literal('exponential'), Type.Literal('fixed')], { default: 'exponential' })),
    initial_delay: Type.Optional(Duration('Wait before the second attempt')),
    max_delay: Type.Optional(Duration('Longest wait between attempts')),
  },
  { additionalProperties: false },
);

export const ParameterDeclaration = Type.Object(
  {
    type: Type.Union(VARIABLE_TYPES.map((t) => Type.Literal(t))),
    description: Type.Optional(Type.String({ maxLength: 500 })),
    default: Type.Optional(Type.Union([Type.String({ maxLength: 1000 }), Type.Number(), Type.Boolean()])),
    required: Type.Optional(Type.Boolean()),
    values: Type.Optional(Type.Array(Type.String({ pattern: '^[A-Za-z0-9_.-]{1,64}$' }), { minItems: 1, maxItems: 100, uniqueItems: true })),
    minimum: Type.Optional(Type.Number()),
    maximum: Type.Optional(Type.Number()),
  },
  { additionalProperties: false },
);

/** Keys every step has; the rest of a step's keys are its processor's config. */
export const CommonStepKeys = Type.Object({
  step_id: Type.String({ pattern: STEP_ID_PATTERN, description: 'Unique id of the step in the pipeline.' }),
  ps_type: Type.String({ description: 'Processor that runs the step.' }),
  description: Type.Optional(Type.String({ maxLength: 1000 })),
  depends_on: Type.Optional(Type.Array(Type.String({ pattern: STEP_ID_PATTERN }), { uniqueItems: true, maxItems: 100 })),
  trigger: Type.Optional(Type.Union(TRIGGERS.map((t) => Type.Literal(t)), { default: 'always' })),
  timeout: Type.Optional(Duration('Longest time one attempt may take')),
  retries: Type.Optional(RetryPolicy),
});
export const COMMON_STEP_KEYS: ReadonlySet<string> = new Set(Object.keys(CommonStepKeys.properties));

export const PipelineDocument = Type.Object(
  {
    $schema: Type.Optional(Type.String()),
    pipeline_id: Type.String({ minLength: 1, maxLength: 200, description: 'Id recorded with every run; may use variables.' }),
    description: Type.Optional(Type.String({ maxLength: 2000 })),
    version: Type.Optional(Type.Union([Type.String({ maxLength: 50 }), Type.Number()])),
    // additionalProperties: false makes names outside the pattern an error instead of unchecked.
    parameters: Type.Optional(
      Type.Record(Type.String({ pattern: NAME_PATTERN }), ParameterDeclaration, { description: 'Run inputs, typed and validated.', additionalProperties: false }),
    ),
    variables: Type.Optional(
      Type.Record(Type.String({ pattern: NAME_PATTERN }), Type.Union([Type.String({ maxLength: 1000 }), Type.Number(), Type.Boolean()]), {
        description: 'Constants available to steps.',
        additionalProperties: false,
      }),
    ),
    timeout: Type.Optional(Duration('Longest time the whole run may take')),
    max_parallel: Type.Optional(Type.Integer({ minimum: 1, maximum: 16, description: 'Independent steps run at once (default 4).' })),
    steps: Type.Array(Type.Record(Type.String(), Type.Unknown()), { minItems: 1, maxItems: 200 }),
  },
  { additionalProperties: false },
);

/** The older seed form: `pipeline: {id, name, version}`, `dependencies: {level_N: [{step}]}`, steps with `id` and `config`. */
export const SeedDocument = Type.Object(
  {
    pipeline: Type.Object({ id: Type.String({ minLength: 1, maxLength: 200 }), name: Type.Optional(Type.String()), version: Type.Optional(Type.Union([Type.String(), Type.Number()])) }),
    description: Type.Optional(Type.String({ maxLength: 2000 })),
    parameters: Type.Optional(Type.Unknown()),
    variables: Type.Optional(Type.Unknown()),
    timeout: Type.Optional(Type.Unknown()),
    max_parallel: Type.Optional(Type.Unknown()),
    dependencies: Type.Optional(
      Type.Record(Type.String({ pattern: '^level_\\d{1,3}$' }), Type.Array(Type.Object({ step: Type.String() }, { additionalProperties: false })), {
        additionalProperties: false,
      }),
    ),
    steps: Type.Array(
      Type.Object({ id: Type.String(), ps_type: Type.String(), config: Type.Optional(Type.Record(Type.String(), Type.Unknown())) }, { additionalProperties: true }),
      { minItems: 1, maxItems: 200 },
    ),
  },
  { additionalProperties: false },
);

/** JSON Schema (draft 2020-12) of the canonical pipeline format, one branch per `ps_type`. */
export function pipelineJsonSchema(catalog: ProcessorCatalog): Record<string, unknown> {
  const stepBranches = [...catalog.values()]
    .sort((a, b) => a.psType.localeCompare(b.psType))
    .map((p) => {
      const own = p.configSchema as { properties?: Record<string, unknown>; required?: string[] };
      return {
        title: p.psType,
        description: p.description,
        type: 'object',
        properties: { ...CommonStepKeys.properties, ps_type: { const: p.psType, description: p.description }, ...(own.properties ?? {}) },
        required: ['step_id', 'ps_type', ...(own.required ?? [])],
        additionalProperties: false,
      };
    });
  const doc = PipelineDocument as unknown as { properties: Record<string, unknown>; required: string[] };
  return optionalDefaults(
    JSON.parse(
    JSON.stringify({
      $schema: 'https://json-schema.org/draft/2020-12/schema',
      $id: 'https://convergence.dev/schemas/pipeline.schema.json',
      title: 'Convergence pipeline',
      type: 'object',
      properties: { ...doc.properties, steps: { type: 'array', minItems: 1, maxItems: 200, items: { oneOf: stepBranches } } },
      required: doc.required,
      additionalProperties: false,
    }),
    ) as Record<string, unknown>,
  );
}

/** The loader fills defaults before checking; in the published schema a key with a default is optional. */
function optionalDefaults<T>(node: T): T {
  if (Array.isArray(node)) return node.map(optionalDefaults) as T;
  if (typeof node !== 'object' || node === null) return node;
  const o = Object.fromEntries(Object.entries(node).map(([k, v]) => [k, optionalDefaults(v)])) as Record<string, unknown>;
  const props = o.properties as Record<string, { default?: unknown }> | undefined;
  if (Array.isArray(o.required) && props !== undefined) {
    o.required = (o.required as string[]).filter((name) => props[name]?.default === undefined);
  }
  return o as T;
}
