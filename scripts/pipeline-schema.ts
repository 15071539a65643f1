// Writes docs/pipeline.schema.json: the JSON Schema of the pipeline format, generated from the
// same TypeBox schemas the loader checks (npm run schema:pipeline). A test keeps the file current.
import fs from 'node:fs';
import path from 'node:path';
import { processorCatalogForSchema } from '../src/processors/catalog.js';
import { pipelineJsonSchema } from '../src/pipeline/spec-document.js';

export const SCHEMA_FILE = path.join(path.dirname(new URL(import.meta.url).pathname), '..', 'docs', 'pipeline.schema.json');

export function renderPipelineSchema(): string {
  return `${JSON.stringify(pipelineJsonSchema(processorCatalogForSchema()), null, 2)}\n`;
}

if (process.argv[1] !== undefined && path.resolve(process.argv[1]) === path.resolve(new URL(import.meta.url).pathname)) {
  fs.writeFileSync(SCHEMA_FILE, renderPipelineSchema());
  console.log(`wrote ${SCHEMA_FILE}`);
}
