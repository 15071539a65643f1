import { Type } from '@sinclair/typebox';
import { describe, expect, it } from 'vitest';
import { defineProcessor, SqlText, type ProcessorCatalog } from './processor.js';
import { MAX_PIPELINE_BYTES, parsePipeline, PipelineSpecError, type PipelineSpec } from './spec.js';
import { pipelineJsonSchema } from './spec-document.js';

const echo = defineProcessor({
  psType: 'test.echo',
  description: 'Echoes its config',
  configSchema: Type.Object({ sql: Type.Optional(SqlText()), text: Type.Optional(Type.String()) }),
  run: () => Promise.resolve({}),
});
const strict = defineProcessor({
  psType: 'test.strict',
  description: 'Needs a table and a positive limit',
  configSchema: Type.Object(
    {
      table: SqlText({ pattern: '^[a-z_]+$' }),
      limit: Type.Optional(Type.Integer({ minimum: 1, default: 100 })),
      mode: Type.Optional(Type.Union([Type.Literal('append'), Type.Literal('replace')], { default: 'append' })),
    },
    { additionalProperties: false },
  ),
  checkConfig: (config) => (config.table === 'forbidden' ? 'table "forbidden" may not be used' : undefined),
  run: () => Promise.resolve({}),
});
const catalog: ProcessorCatalog = new Map([
  [echo.psType, echo],
  [strict.psType, strict],
]);

const load = (text: string): PipelineSpec => parsePipeline(text, 'test.yml', { catalog, configsDir: '/tmp' });

/** The PipelineSpecError `text` fails with (the test fails if it loads or throws something else). */
function loadError(text: string): string {
  try {
    load(text);
  } catch (e) {
    expect(e).toBeInstanceOf(PipelineSpecError);
    const message = (e as Error).message;
    expect(message.startsWith('test.yml: ')).toBe(true);
    return message;
  }
  throw new Error('expected the pipeline to be refused');
}

/** A canonical pipeline whose steps are `steps` (YAML list items, indented by two). */
const withSteps = (steps: string, head = ''): string => `pipeline_id: p\n${head}steps:\n${steps}`;

const CANONICAL = `
$schema: ./pipeline.schema.json
pipeline_id: "{org_slug}_daily"
description: Daily costs
version: 3
parameters:
  limit: {type: integer, default: 10, minimum: 1, maximum: 100, description: Rows}
  region: {type: enum, values: [us, eu], default: us}
  start_date: {type: date, default: yesterday}
variables:
  schema_name: raw_costs
  label: daily costs
timeout: 1h30m
max_parallel: 2
steps:
  - step_id: extract
    ps_type: test.echo
    description: Pulls the rows
    sql: SELECT * FROM {dataset}.{schema_name} WHERE d BETWEEN '{start_date}' AND '{end_date}' AND r = @region LIMIT {limit}
    timeout: 30s
    retries: {max_attempts: 3, backoff: fixed, initial_delay: 2s, max_delay: 1m}
  - step_id: load
    ps_type: test.strict
    depends_on: [extract]
    table: costs
  - step_id: report
    ps_type: test.echo
    depends_on: [load]
    text: "{label} for {company_name}: {steps.extract.rows_processed} rows, by {admin_email}"
    sql: SELECT {steps.extract.rows_processed} AS n, @admin_email AS who
  - step_id: notify
    ps_type: test.echo
    trigger: on_failure
    text: failed {pipeline_logging_id}
`;

describe('parsePipeline', () => {
  describe('canonical form', () => {
    it('loads into the model', () => {
      const spec = load(CANONICAL);
      expect(spec.pipelineId).toBe('{org_slug}_daily');
      expect(spec.description).toBe('Daily costs');
      expect(spec.source).toBe('test.yml');
      expect(spec.dir).toBe('.');
      expect(spec.timeoutMs).toBe(5_400_000);
      expect(spec.maxParallel).toBe(2);
      expect(spec.parameters).toEqual([
        { name: 'limit', type: 'integer', description: 'Rows', default: 10, required: false, values: undefined, minimum: 1, maximum: 100 },
        { name: 'region', type: 'enum', description: undefined, default: 'us', required: false, values: ['us', 'eu'], minimum: undefined, maximum: undefined },
        { name: 'start_date', type: 'date', description: undefined, default: 'yesterday', required: false, values: undefined, minimum: undefined, maximum: undefined },
      ]);
      expect(spec.variables).toEqual({ schema_name: { type: 'identifier', value: 'raw_costs' }, label: { type: 'string', value: 'daily costs' } });
      expect(spec.steps.map((s) => s.stepId)).toEqual(['extract', 'load', 'report', 'notify']);

      const [extract, loadStep, report, notify] = spec.steps;
      expect(extract).toEqual({
        stepId: 'extract',
        psType: 'test.echo',
        description: 'Pulls the rows',
        trigger: 'always',
        dependsOn: [],
        timeoutMs: 30_000,
        retry: { maxAttempts: 3, backoff: 'fixed', initialDelayMs: 2000, maxDelayMs: 60_000 },
        config: { sql: "SELECT * FROM {dataset}.{schema_name} WHERE d BETWEEN '{start_date}' AND '{end_date}' AND r = @region LIMIT {limit}" },
      });
      // Schema defaults are applied to the config; common keys are not part of it.
      expect(loadStep?.config).toEqual({ table: 'costs', limit: 100, mode: 'append' });
      expect(loadStep?.dependsOn).toEqual(['extract']);
      expect(loadStep?.retry).toEqual({ maxAttempts: 1, backoff: 'exponential', initialDelayMs: 1000, maxDelayMs: 60_000 });
      expect(loadStep?.timeoutMs).toBeUndefined();
      expect(report?.dependsOn).toEqual(['load']);
      expect(notify?.trigger).toBe('on_failure');
    });

    it('uses opts.dir for relative references when given', () => {
      expect(parsePipeline(CANONICAL, 'pipelines/x/test.yml', { catalog, configsDir: '/tmp' }).dir).toBe('pipelines/x');
      expect(parsePipeline(CANONICAL, 'stored:42', { catalog, configsDir: '/tmp', dir: '/srv/p' }).dir).toBe('/srv/p');
    });

    it('defaults max_parallel to 4 and leaves the timeout unset', () => {
      const spec = load(withSteps('  - {step_id: a, ps_type: test.echo}\n'));
      expect(spec.maxParallel).toBe(4);
      expect(spec.timeoutMs).toBeUndefined();
      expect(spec.parameters).toEqual([]);
      expect(spec.variables).toEqual({});
    });
  });

  describe('seed form', () => {
    const SEED = `
pipeline:
  id: seed_pipe
  name: Seed pipeline
  version: 1
dependencies:
  level_1:
    - step: a
  level_2:
    - step: b
steps:
  - id: a
    ps_type: test.echo
    config:
      text: hello {org_slug}
  - id: b
    ps_type: test.strict
    timeout: 10m
    config:
      table: costs
      limit: 5
`;

    it('loads into the same model as the canonical form', () => {
      const seed = load(SEED);
      const canonical = load(`
pipeline_id: seed_pipe
description: Seed pipeline
version: 1
steps:
  - step_id: a
    ps_type: test.echo
    text: hello {org_slug}
  - step_id: b
    ps_type: test.strict
    depends_on: [a]
    timeout: 10m
    table: costs
    limit: 5
`);
      expect(seed).toEqual(canonical);
      const b = seed.steps.find((s) => s.stepId === 'b');
      expect(b?.dependsOn).toEqual(['a']);
      expect(b?.config).toEqual({ table: 'costs', limit: 5, mode: 'append' });
      expect(b?.timeoutMs).toBe(600_000);
      expect(seed.steps.find((s) => s.stepId === 'a')?.dependsOn).toEqual([]);
    });

    it('makes every step of a level depend on every step of the level before, ordering levels numerically', () => {
      const spec = load(`
pipeline: {id: levels}
dependencies:
  level_10: [{step: d}]
  level_2: [{step: b}, {step: c}]
  level_1: [{step: a}]
steps:
  - {id: a, ps_type: test.echo}
  - {id: b, ps_type: test.echo}
  - {id: c, ps_type: test.echo}
  - {id: d, ps_type: test.echo}
  - {id: e, ps_type: test.echo}
`);
      expect(Object.fromEntries(spec.steps.map((s) => [s.stepId, s.dependsOn]))).toEqual({ a: [], b: ['a'], c: ['a'], d: ['b', 'c'], e: [] });
      expect(spec.description).toBeUndefined();
    });

    it('checks seed documents too', () => {
      expect(loadError('pipeline: {id: x}\nsteps: []\n')).toContain('(seed form)');
      expect(loadError('pipeline: {id: x}\nsteps:\n  - {id: a, ps_type: test.strict, config: {table: 7}}\n')).toMatch(/step "a".*table/);
      expect(loadError('pipeline: {id: x}\ndependencies: {level_1: [{step: ghost}], level_2: [{step: a}]}\nsteps:\n  - {id: a, ps_type: test.echo}\n')).toContain(
        'unknown step "ghost"',
      );
    });

    // Regression (fixed): SeedDocument declares dependency keys as Type.Record(Type.String({ pattern: '^level_\\d{1,3}$' }), …),
    // which TypeBox turns into patternProperties without additionalProperties: false, so keys that do
    // not match are not checked at all. normalizeSeed then reads the level as Number(key.slice(6)):
    // 'first' becomes level 0 and 'levels_2' becomes NaN (unordered), instead of an error.
    it('refuses dependency keys other than level_<n>', () => {
      expect(loadError('pipeline: {id: x}\ndependencies: {first: [{step: a}], level_1: [{step: b}]}\nsteps:\n  - {id: a, ps_type: test.echo}\n  - {id: b, ps_type: test.echo}\n')).toContain(
        'dependencies',
      );
    });
  });

  describe('refuses', () => {
    it('malformed YAML', () => {
      expect(loadError('pipeline_id: p\nsteps: [a\n')).toContain('invalid YAML');
      expect(loadError('pipeline_id: p\n  bad: indent\n')).toContain('invalid YAML');
    });

    it('duplicate keys', () => {
      expect(loadError('pipeline_id: p\npipeline_id: q\nsteps:\n  - {step_id: a, ps_type: test.echo}\n')).toContain('invalid YAML');
    });

    it('a YAML alias bomb', () => {
      const lines = ['a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]'];
      let prev = 'a';
      for (const name of ['b', 'c', 'd', 'e', 'f', 'g', 'h', 'i']) {
        lines.push(`${name}: &${name} [${Array.from({ length: 9 }, () => `*${prev}`).join(', ')}]`);
        prev = name;
      }
      const message = loadError(`${lines.join('\n')}\npipeline_id: p\nsteps:\n  - {step_id: a, ps_type: test.echo}\n`);
      expect(message).toContain('invalid YAML');
      expect(message).toMatch(/alias/i);
    });

    it('a document larger than 256 KiB, before parsing it', () => {
      const padding = `# ${'x'.repeat(MAX_PIPELINE_BYTES)}\n`;
      expect(loadError(`${padding}${withSteps('  - {step_id: a, ps_type: test.echo}\n')}`)).toContain(`larger than ${MAX_PIPELINE_BYTES} bytes`);
      expect(loadError(`${'x: ['.repeat(100_000)}`)).toContain('larger than');
    });

    it('counts bytes, not characters', () => {
      // 100k three-byte characters: fewer than 256 Ki characters but more than 256 KiB.
      expect(loadError(`${withSteps('  - {step_id: a, ps_type: test.echo}\n')}# ${'€'.repeat(100_000)}\n`)).toContain('larger than');
    });

    it('a document that is not a pipeline', () => {
      expect(loadError('')).toContain('test.yml');
      expect(loadError('just a string')).toContain('test.yml');
      expect(loadError('pipeline_id: p\n')).toContain('steps');
      expect(loadError('pipeline_id: p\nsteps: []\n')).toContain('steps');
      expect(loadError(withSteps('  - {step_id: a, ps_type: test.echo}\n', 'colour: blue\n'))).toContain('colour');
    });

    it('an unknown ps_type, listing the known ones', () => {
      const message = loadError(withSteps('  - {step_id: a, ps_type: test.nope}\n'));
      expect(message).toContain('unknown ps_type "test.nope"');
      expect(message).toContain('step "a"');
      expect(message).toContain('test.echo, test.strict');
    });

    it('a step config failing its schema, naming the step and the field', () => {
      const typeError = loadError(withSteps('  - {step_id: a, ps_type: test.echo}\n  - {step_id: b, ps_type: test.echo, text: 5}\n'));
      expect(typeError).toContain('steps[1] (step "b")');
      expect(typeError).toContain('test.echo config');
      expect(typeError).toContain('field "text"');

      const rangeError = loadError(withSteps('  - {step_id: load, ps_type: test.strict, table: costs, limit: 0}\n'));
      expect(rangeError).toContain('step "load"');
      expect(rangeError).toContain('field "limit"');

      expect(loadError(withSteps('  - {step_id: load, ps_type: test.strict}\n'))).toContain('field "table"');
      expect(loadError(withSteps('  - {step_id: load, ps_type: test.strict, table: costs, tabel: x}\n'))).toContain('step "load"');
      expect(loadError(withSteps('  - {step_id: load, ps_type: test.strict, table: costs, mode: upsert}\n'))).toContain('field "mode"');
    });

    it('bad common step keys', () => {
      expect(loadError(withSteps('  - {step_id: Bad-Id, ps_type: test.echo}\n'))).toContain('step_id');
      expect(loadError(withSteps('  - {ps_type: test.echo}\n'))).toContain('step_id');
      expect(loadError(withSteps('  - {step_id: a, ps_type: test.echo, trigger: sometimes}\n'))).toContain('trigger');
      expect(loadError(withSteps('  - {step_id: a, ps_type: test.echo, retries: {max_attempts: 0}}\n'))).toContain('max_attempts');
      expect(loadError(withSteps('  - {step_id: a, ps_type: test.echo, retries: {max_attempts: 2, jitter: true}}\n'))).toContain('retries');
    });

    it('a processor check failing', () => {
      expect(loadError(withSteps('  - {step_id: a, ps_type: test.strict, table: forbidden}\n'))).toContain('step "a": table "forbidden" may not be used');
    });

    it('depends_on naming a missing step', () => {
      expect(loadError(withSteps('  - {step_id: a, ps_type: test.echo}\n  - {step_id: b, ps_type: test.echo, depends_on: [a, c]}\n'))).toContain(
        'step "b": depends_on names unknown step "c"',
      );
    });

    it('depends_on naming the step itself', () => {
      expect(loadError(withSteps('  - {step_id: a, ps_type: test.echo, depends_on: [a]}\n'))).toContain('step "a": depends_on names itself');
    });

    it('a cycle, showing it', () => {
      expect(loadError(withSteps('  - {step_id: a, ps_type: test.echo, depends_on: [b]}\n  - {step_id: b, ps_type: test.echo, depends_on: [a]}\n'))).toContain(
        'steps form a cycle: a → b → a',
      );
      const longer = loadError(
        withSteps(
          '  - {step_id: x, ps_type: test.echo}\n  - {step_id: a, ps_type: test.echo, depends_on: [x, c]}\n  - {step_id: b, ps_type: test.echo, depends_on: [a]}\n  - {step_id: c, ps_type: test.echo, depends_on: [b]}\n',
        ),
      );
      expect(longer).toContain('steps form a cycle: a → c → b → a');
    });

    it('duplicate step ids', () => {
      expect(loadError(withSteps('  - {step_id: a, ps_type: test.echo}\n  - {step_id: a, ps_type: test.echo}\n'))).toContain('duplicate step_id "a"');
    });

    it('an unknown variable in a step field', () => {
      const message = loadError(withSteps('  - {step_id: a, ps_type: test.echo, text: "hello {nope}"}\n'));
      expect(message).toContain('step "a": field "text"');
      expect(message).toContain('unknown variable "nope"');
      expect(loadError(withSteps('  - {step_id: a, ps_type: test.echo, sql: "SELECT ${nope}"}\n'))).toContain('unknown variable "nope"');
    });

    it('an unknown variable in pipeline_id or description', () => {
      expect(loadError('pipeline_id: "{nope}_x"\nsteps:\n  - {step_id: a, ps_type: test.echo}\n')).toContain('field "pipeline_id": unknown variable "nope"');
      expect(loadError('pipeline_id: p\ndescription: "{steps.a.rows_processed}"\nsteps:\n  - {step_id: a, ps_type: test.echo}\n')).toContain('field "description"');
    });

    it.each(['admin_email', 'company_name', 'project_id', 'label'])('the free-form string variable {%s} in a SqlText field, suggesting @%s', (name) => {
      const message = loadError(withSteps(`  - {step_id: a, ps_type: test.echo, sql: "SELECT '{${name}}'"}\n`, 'variables: {label: two words}\n'));
      expect(message).toContain('step "a": field "sql"');
      expect(message).toContain(`bind it as @${name}`);
    });

    it('string, boolean and number parameters in a SqlText field', () => {
      const head = 'parameters:\n  note: {type: string}\n  flag: {type: boolean}\n  ratio: {type: number}\n';
      for (const name of ['note', 'flag', 'ratio']) {
        expect(loadError(withSteps(`  - {step_id: a, ps_type: test.echo, sql: "SELECT {${name}}"}\n`, head))).toContain(`@${name}`);
      }
    });

    it('a non-integer step output in a SqlText field', () => {
      expect(
        loadError(withSteps('  - {step_id: a, ps_type: test.echo}\n  - {step_id: b, ps_type: test.echo, depends_on: [a], sql: "SELECT {steps.a.label}"}\n')),
      ).toContain('@steps.a.label');
    });

    it('an unknown @param in a SqlText field', () => {
      const message = loadError(withSteps('  - {step_id: a, ps_type: test.echo, sql: "SELECT * FROM t WHERE x = @nope"}\n'));
      expect(message).toContain('step "a": field "sql"');
      expect(message).toContain('query parameter @nope');
      expect(message).toContain('unknown variable "nope"');
    });

    it('bad durations', () => {
      expect(loadError(withSteps('  - {step_id: a, ps_type: test.echo, timeout: 30}\n'))).toMatch(/step "a".*timeout/);
      expect(loadError(withSteps('  - {step_id: a, ps_type: test.echo, timeout: 5x}\n'))).toMatch(/step "a".*timeout/);
      expect(loadError(withSteps('  - {step_id: a, ps_type: test.echo, timeout: "1.5s"}\n'))).toMatch(/timeout/);
      expect(loadError(withSteps('  - {step_id: a, ps_type: test.echo, retries: {max_attempts: 2, initial_delay: 10}}\n'))).toMatch(/initial_delay/);
      expect(loadError(withSteps('  - {step_id: a, ps_type: test.echo}\n', 'timeout: 30\n'))).toMatch(/timeout/);
      expect(loadError(withSteps('  - {step_id: a, ps_type: test.echo}\n', 'timeout: 5x\n'))).toMatch(/timeout/);
    });

    it('a step reference to a step that is not upstream', () => {
      const message = loadError(
        withSteps(
          '  - {step_id: a, ps_type: test.echo}\n  - {step_id: x, ps_type: test.echo}\n  - {step_id: b, ps_type: test.echo, depends_on: [a], text: "{steps.x.rows_processed}"}\n',
        ),
      );
      expect(message).toContain('step "b": field "text"');
      expect(message).toContain('"steps.x.rows_processed": step "x" is not among the steps "b" depends on');
      // Downstream is not upstream.
      expect(loadError(withSteps('  - {step_id: a, ps_type: test.echo, text: "{steps.b.rows_processed}"}\n  - {step_id: b, ps_type: test.echo, depends_on: [a]}\n'))).toContain(
        'step "b" is not among the steps "a" depends on',
      );
      expect(loadError(withSteps('  - {step_id: a, ps_type: test.echo, text: "{steps.ghost.rows_processed}"}\n'))).toContain('names unknown step "ghost"');
    });

    it('parameters that clash with built-ins or have the wrong shape', () => {
      expect(loadError(withSteps('  - {step_id: a, ps_type: test.echo}\n', 'parameters:\n  org_slug: {type: identifier}\n'))).toContain('built-in');
      expect(loadError(withSteps('  - {step_id: a, ps_type: test.echo}\n', 'parameters:\n  date: {type: string}\n'))).toContain('must be of type date');
      expect(loadError(withSteps('  - {step_id: a, ps_type: test.echo}\n', 'parameters:\n  region: {type: enum}\n'))).toContain('needs "values"');
      expect(loadError(withSteps('  - {step_id: a, ps_type: test.echo}\n', 'parameters:\n  n: {type: integer, default: 1.5}\n'))).toContain('parameters.n.default');
      expect(loadError(withSteps('  - {step_id: a, ps_type: test.echo}\n', 'variables:\n  dataset: other\n'))).toContain('shadows');
      expect(loadError(withSteps('  - {step_id: a, ps_type: test.echo}\n', 'parameters:\n  region: {type: enum, values: ["us\' OR \'1\'=\'1"]}\n'))).toContain(
        'parameters.region.values',
      );
    });

    // Regression (fixed): PipelineDocument declares `parameters` and `variables` as Type.Record(Type.String({ pattern: NAME_PATTERN }), …)
    // (spec-document.ts). TypeBox compiles that to patternProperties without additionalProperties: false, so an entry
    // whose name does not match the pattern (here `Region`, with a capital) is not checked against
    // ParameterDeclaration at all: its enum values escape the ^[A-Za-z0-9_.-]{1,64}$ check, and since enum is a
    // SQL-safe type, `'{Region}'` in SQL text renders to `'us' OR '1'='1'`.
    it('parameter names outside ^[a-z_][a-z0-9_]{0,63}$ (their declarations escape validation)', () => {
      loadError(
        withSteps(`  - {step_id: a, ps_type: test.echo, sql: "SELECT * FROM t WHERE r = '{Region}'"}\n`, 'parameters:\n  Region: {type: enum, values: ["us\' OR \'1\'=\'1"]}\n'),
      );
    });

    it('variable names outside ^[a-z_][a-z0-9_]{0,63}$', () => {
      loadError(withSteps('  - {step_id: a, ps_type: test.echo}\n', 'variables:\n  Bad-Name: 1\n'));
    });
  });

  it('accepts what is allowed in SQL: strict variables, upstream row counts, bound parameters, transitive ancestors', () => {
    const spec = load(
      withSteps(
        `  - {step_id: a, ps_type: test.echo}
  - {step_id: b, ps_type: test.echo, depends_on: [a]}
  - step_id: c
    ps_type: test.echo
    depends_on: [b]
    sql: "SELECT {steps.a.rows_processed}, @admin_email, @company_name, '{date}', {dataset}.t, '@not_a_param', u@host -- @comment"
    text: "{steps.a.label} {company_name}"
`,
        'parameters:\n  note: {type: string}\n',
      ),
    );
    expect(spec.steps).toHaveLength(3);
  });
});

describe('pipelineJsonSchema', () => {
  it('has a steps.items.oneOf branch per processor', () => {
    const schema = pipelineJsonSchema(catalog) as {
      $schema: string;
      required: string[];
      properties: Record<string, unknown> & { steps: { items: { oneOf: { title: string; properties: Record<string, unknown>; required: string[]; additionalProperties: boolean }[] } } };
    };
    expect(schema.$schema).toBe('https://json-schema.org/draft/2020-12/schema');
    expect(schema.required).toEqual(expect.arrayContaining(['pipeline_id', 'steps']));
    const branches = schema.properties.steps.items.oneOf;
    expect(branches.map((b) => b.title)).toEqual(['test.echo', 'test.strict']);
    const echoBranch = branches[0];
    expect(echoBranch?.properties.ps_type).toEqual({ const: 'test.echo', description: 'Echoes its config' });
    expect(Object.keys(echoBranch?.properties ?? {})).toEqual(expect.arrayContaining(['step_id', 'depends_on', 'timeout', 'retries', 'sql', 'text']));
    expect(echoBranch?.required).toEqual(['step_id', 'ps_type']);
    expect(echoBranch?.additionalProperties).toBe(false);
    expect(branches[1]?.required).toEqual(['step_id', 'ps_type', 'table']);
    expect(branches[1]?.properties.sql).toBeUndefined();
  });

  it('is plain JSON', () => {
    const schema = pipelineJsonSchema(catalog);
    expect(JSON.parse(JSON.stringify(schema))).toEqual(schema);
  });

  it('has no branches for an empty catalog', () => {
    const schema = pipelineJsonSchema(new Map()) as { properties: { steps: { items: { oneOf: unknown[] } } } };
    expect(schema.properties.steps.items.oneOf).toEqual([]);
  });
});
