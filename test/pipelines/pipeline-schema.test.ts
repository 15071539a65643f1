import fs from 'node:fs';
import path from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { renderPipelineSchema, SCHEMA_FILE } from '../../scripts/pipeline-schema.js';

/** The published JSON Schema is generated from the loader's schemas and agrees with the pipelines we ship. */
function pipelineFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((d) => {
    const p = path.join(dir, d.name);
    if (d.isDirectory()) return pipelineFiles(p);
    return /\.ya?ml$/.test(d.name) && !p.includes(`${path.sep}system${path.sep}`) ? [p] : [];
  });
}

describe('docs/pipeline.schema.json', () => {
  it('is current (regenerate with npm run schema:pipeline)', () => {
    expect(fs.readFileSync(SCHEMA_FILE, 'utf8')).toBe(renderPipelineSchema());
  });

  const ajv = new Ajv2020({ strict: false, allErrors: true });
  const validate = ajv.compile(JSON.parse(renderPipelineSchema()) as object);

  it.each(pipelineFiles(path.resolve('configs')))('accepts %s', (file) => {
    const ok = validate(parseYaml(fs.readFileSync(file, 'utf8')));
    expect(validate.errors ?? [], file).toEqual([]);
    expect(ok).toBe(true);
  });

  it('refuses an unknown step key and an unknown ps_type', () => {
    const doc = { pipeline_id: 'x', steps: [{ step_id: 'a', ps_type: 'gcp.bq_etl', source: { query: 'SELECT 1' }, destination: { table: 't' }, bogus: 1 }] };
    expect(validate(doc)).toBe(false);
    expect(validate({ pipeline_id: 'x', steps: [{ step_id: 'a', ps_type: 'nope.nope' }] })).toBe(false);
  });
});
