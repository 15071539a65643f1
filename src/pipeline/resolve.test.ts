import { Type } from '@sinclair/typebox';
import { describe, expect, it } from 'vitest';
import { defineProcessor, SqlText, type ProcessorCatalog } from './processor.js';
import { resolveVariables, utcDay, type BuiltinValues } from './resolve.js';
import { parsePipeline, type PipelineSpec } from './spec.js';
import { VariableError } from './variables.js';

const echo = defineProcessor({
  psType: 'test.echo',
  description: 'Echoes its config',
  configSchema: Type.Object({ sql: Type.Optional(SqlText()), text: Type.Optional(Type.String()) }),
  run: () => Promise.resolve({}),
});
const catalog: ProcessorCatalog = new Map([[echo.psType, echo]]);

const TODAY = '2025-03-01';
const builtins: BuiltinValues = {
  orgSlug: 'acme',
  dataset: 'acme_prod',
  pipelineLoggingId: '0b6f1c9e-3a5d-4f7e-9b2a-1c3d5e7f9a0b',
  adminEmail: 'admin@acme.example',
  companyName: 'Acme Inc.',
  projectId: 'acme-project-1',
  env: 'prod',
  today: TODAY,
};

/** A pipeline with the given `parameters:` block (YAML, indented under the key). */
function spec(parameters = '', extra = ''): PipelineSpec {
  const text = `pipeline_id: resolve_test
${parameters === '' ? '' : `parameters:\n${parameters}`}
${extra}
steps:
  - step_id: a
    ps_type: test.echo
    sql: SELECT 1
`;
  return parsePipeline(text, 'test.yml', { catalog, configsDir: '/tmp' });
}

describe('resolveVariables', () => {
  describe('dates', () => {
    it('defaults date to yesterday relative to today, and start/end to the date', () => {
      const r = resolveVariables(spec(), {}, builtins);
      expect(r.parameters).toEqual({ date: '2025-02-28', start_date: '2025-02-28', end_date: '2025-02-28' });
      expect(r.variables.date).toEqual({ type: 'date', value: '2025-02-28' });
      expect(r.variables.start_date).toEqual({ type: 'date', value: '2025-02-28' });
      expect(r.variables.end_date).toEqual({ type: 'date', value: '2025-02-28' });
    });

    it('computes yesterday across a year boundary', () => {
      expect(resolveVariables(spec(), {}, { ...builtins, today: '2025-01-01' }).parameters.date).toBe('2024-12-31');
    });

    it('uses a declared default for date, resolving relative words', () => {
      expect(resolveVariables(spec('  date: {type: date, default: today}\n'), {}, builtins).parameters.date).toBe(TODAY);
      expect(resolveVariables(spec('  date: {type: date, default: "2024-06-01"}\n'), {}, builtins).parameters.date).toBe('2024-06-01');
    });

    it('lets the request date win over the default', () => {
      const s = spec('  date: {type: date, default: "2024-06-01"}\n');
      expect(resolveVariables(s, { date: '2025-01-15' }, builtins).parameters.date).toBe('2025-01-15');
      expect(resolveVariables(s, { parameters: { date: '2025-01-16' } }, builtins).parameters.date).toBe('2025-01-16');
      expect(resolveVariables(spec(), { date: 'today' }, builtins).parameters.date).toBe(TODAY);
    });

    it('accepts date both top-level and in parameters when they agree', () => {
      expect(resolveVariables(spec(), { date: '2025-01-15', parameters: { date: '2025-01-15' } }, builtins).parameters.date).toBe('2025-01-15');
    });

    it('refuses date given top-level and in parameters with different values', () => {
      expect(() => resolveVariables(spec(), { date: '2025-01-15', parameters: { date: '2025-01-16' } }, builtins)).toThrow(VariableError);
      expect(() => resolveVariables(spec(), { date: '2025-01-15', parameters: { date: '2025-01-16' } }, builtins)).toThrow('"date" is given twice');
    });

    it('refuses invalid dates, naming the parameter', () => {
      expect(() => resolveVariables(spec(), { date: '2025-02-30' }, builtins)).toThrow(/parameter "date".*2025-02-30/);
      expect(() => resolveVariables(spec(), { date: "2025-01-01' OR '1'='1" }, builtins)).toThrow(VariableError);
      expect(() => resolveVariables(spec(), { parameters: { start_date: 'last week' } }, builtins)).toThrow('parameter "start_date"');
    });

    it('takes start_date and end_date from the request, each defaulting to date', () => {
      const r = resolveVariables(spec(), { date: '2025-01-31', parameters: { start_date: '2025-01-01' } }, builtins);
      expect(r.parameters).toEqual({ date: '2025-01-31', start_date: '2025-01-01', end_date: '2025-01-31' });
      expect(r.variables.start_date).toEqual({ type: 'date', value: '2025-01-01' });
    });

    it('refuses start_date after end_date', () => {
      expect(() => resolveVariables(spec(), { parameters: { start_date: '2025-02-02', end_date: '2025-02-01' } }, builtins)).toThrow(
        /"start_date" \(2025-02-02\) is after "end_date" \(2025-02-01\)/,
      );
      expect(() => resolveVariables(spec(), { date: '2025-01-01', parameters: { start_date: '2025-01-02' } }, builtins)).toThrow(VariableError);
    });

    it('accepts start_date equal to end_date', () => {
      expect(() => resolveVariables(spec(), { parameters: { start_date: '2025-02-01', end_date: '2025-02-01' } }, builtins)).not.toThrow();
    });
  });

  it('refuses an unknown parameter, naming it and listing the known ones', () => {
    const s = spec('  limit: {type: integer, default: 10}\n');
    expect(() => resolveVariables(s, { parameters: { limt: 5 } }, builtins)).toThrow(VariableError);
    expect(() => resolveVariables(s, { parameters: { limt: 5 } }, builtins)).toThrow(/unknown parameter "limt".*limit/);
    expect(() => resolveVariables(s, { parameters: { org_slug: 'other' } }, builtins)).toThrow('"org_slug"');
  });

  describe('declared parameters', () => {
    const s = spec(`  limit: {type: integer, default: 10, minimum: 1, maximum: 100}
  ratio: {type: number, minimum: 0, maximum: 1}
  region: {type: enum, values: [us, eu], default: us}
  table: {type: identifier, required: true}
  note: {type: string}
  dry_run: {type: boolean, default: false}
`);
    const table = { table: 'costs' };

    it('applies defaults and records the parameters as used', () => {
      const r = resolveVariables(s, { parameters: table }, builtins);
      expect(r.parameters).toEqual({ date: '2025-02-28', start_date: '2025-02-28', end_date: '2025-02-28', limit: 10, region: 'us', table: 'costs', dry_run: false });
      expect(r.variables.limit).toEqual({ type: 'integer', value: 10 });
      expect(r.variables.region).toEqual({ type: 'enum', value: 'us' });
      expect(r.variables.table).toEqual({ type: 'identifier', value: 'costs' });
      expect(r.variables.dry_run).toEqual({ type: 'boolean', value: false });
      expect(r.variables.note).toBeUndefined();
      expect(r.variables.ratio).toBeUndefined();
    });

    it('coerces given values to their type', () => {
      const r = resolveVariables(s, { parameters: { ...table, limit: '25', ratio: '0.5', note: "it's fine" } }, builtins);
      expect(r.variables.limit).toEqual({ type: 'integer', value: 25 });
      expect(r.variables.ratio).toEqual({ type: 'number', value: 0.5 });
      expect(r.variables.note).toEqual({ type: 'string', value: "it's fine" });
    });

    it('enforces integer minimum and maximum, inclusive', () => {
      expect(resolveVariables(s, { parameters: { ...table, limit: 1 } }, builtins).parameters.limit).toBe(1);
      expect(resolveVariables(s, { parameters: { ...table, limit: 100 } }, builtins).parameters.limit).toBe(100);
      expect(() => resolveVariables(s, { parameters: { ...table, limit: 0 } }, builtins)).toThrow('parameter "limit": 0 is outside [1, 100]');
      expect(() => resolveVariables(s, { parameters: { ...table, limit: 101 } }, builtins)).toThrow('parameter "limit": 101 is outside [1, 100]');
      expect(() => resolveVariables(s, { parameters: { ...table, ratio: 1.5 } }, builtins)).toThrow('parameter "ratio"');
    });

    it('refuses values of the wrong type', () => {
      expect(() => resolveVariables(s, { parameters: { ...table, limit: 1.5 } }, builtins)).toThrow('parameter "limit"');
      expect(() => resolveVariables(s, { parameters: { ...table, limit: '1e3' } }, builtins)).toThrow('parameter "limit"');
      expect(() => resolveVariables(s, { parameters: { table: 'costs; DROP TABLE x' } }, builtins)).toThrow('parameter "table"');
      expect(() => resolveVariables(s, { parameters: { ...table, dry_run: 'yes' } }, builtins)).toThrow('parameter "dry_run"');
    });

    it('accepts only the declared enum values', () => {
      expect(resolveVariables(s, { parameters: { ...table, region: 'eu' } }, builtins).variables.region).toEqual({ type: 'enum', value: 'eu' });
      expect(() => resolveVariables(s, { parameters: { ...table, region: 'asia' } }, builtins)).toThrow(/parameter "region".*one of us, eu/);
    });

    it('refuses a missing required parameter', () => {
      expect(() => resolveVariables(s, {}, builtins)).toThrow('parameter "table" is required');
    });
  });

  it('provides the built-ins with their types', () => {
    const r = resolveVariables(spec(), {}, builtins);
    expect(r.variables.org_slug).toEqual({ type: 'identifier', value: 'acme' });
    expect(r.variables.dataset).toEqual({ type: 'identifier', value: 'acme_prod' });
    expect(r.variables.admin_email).toEqual({ type: 'string', value: 'admin@acme.example' });
    expect(r.variables.company_name).toEqual({ type: 'string', value: 'Acme Inc.' });
    expect(r.variables.project_id).toEqual({ type: 'string', value: 'acme-project-1' });
    expect(r.variables.env).toEqual({ type: 'enum', value: 'prod' });
    expect(r.variables.pipeline_logging_id).toEqual({ type: 'uuid', value: '0b6f1c9e-3a5d-4f7e-9b2a-1c3d5e7f9a0b' });
  });

  it("includes the pipeline's constants", () => {
    const r = resolveVariables(spec('', 'variables:\n  region: us_east\n  label: two words\n  cap: 5\n'), {}, builtins);
    expect(r.variables.region).toEqual({ type: 'identifier', value: 'us_east' });
    expect(r.variables.label).toEqual({ type: 'string', value: 'two words' });
    expect(r.variables.cap).toEqual({ type: 'integer', value: 5 });
    expect(r.parameters).not.toHaveProperty('region');
  });
});

describe('utcDay', () => {
  it('is the UTC calendar day', () => {
    expect(utcDay(new Date('2025-03-01T23:59:59.999Z'))).toBe('2025-03-01');
    expect(utcDay(new Date('2025-03-01T23:30:00-02:00'))).toBe('2025-03-02');
  });
});
