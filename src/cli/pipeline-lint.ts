import fs from 'node:fs';
import path from 'node:path';
import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Document, type Node } from 'yaml';
import type { ProcessorCatalog } from '../pipeline/processor.js';
import { MAX_PIPELINE_BYTES, parsePipeline } from '../pipeline/spec.js';
import { shownPath } from './paths.js';

/**
 * Offline lint of pipeline YAML (`convergence validate`): every YAML syntax error of a file, then
 * the loader's own check (the same `parsePipeline` the service runs at start and on upload, with a
 * catalog that validates configs but runs nothing). The loader stops at a file's first problem;
 * its message names a step, field or parameter, which is mapped back to its line here.
 */
export interface LintProblem {
  readonly line: number;
  readonly column: number;
  readonly message: string;
}

export interface LintedFile {
  readonly file: string;
  readonly ok: boolean;
  readonly pipeline_id?: string;
  readonly steps?: number;
  readonly errors: readonly LintProblem[];
}

export interface LintReport {
  readonly ok: boolean;
  readonly files: readonly LintedFile[];
  /** YAML files found in directories that are not pipelines (no pipeline_id, steps or pipeline key). */
  readonly skipped: readonly string[];
  /** Paths given that do not exist. */
  readonly missing: readonly string[];
}

export interface LintOptions {
  readonly catalog: ProcessorCatalog;
  readonly configsDir: string;
  /** Paths are shown relative to this. */
  readonly cwd: string;
}

const YAML_FILE = /\.ya?ml$/i;
const PLATFORM_ONLY = 'setup.';

export function lintPaths(paths: readonly string[], opts: LintOptions): LintReport {
  const files: LintedFile[] = [];
  const skipped: string[] = [];
  const missing: string[] = [];
  const seen = new Set<string>();
  for (const p of paths) {
    const abs = path.resolve(opts.cwd, p);
    let stat: fs.Stats;
    try {
      stat = fs.statSync(abs);
    } catch {
      missing.push(p);
      continue;
    }
    const candidates = stat.isDirectory() ? yamlFilesUnder(abs) : [abs];
    for (const file of candidates) {
      if (seen.has(file)) continue;
      seen.add(file);
      const shown = display(file, opts.cwd);
      const text = readText(file);
      if (typeof text !== 'string') {
        files.push({ file: shown, ok: false, errors: [{ line: 1, column: 1, message: text.error }] });
        continue;
      }
      if (stat.isDirectory() && !looksLikePipeline(text)) {
        skipped.push(shown);
        continue;
      }
      files.push(lintText(text, shown, file, opts));
    }
  }
  return { ok: missing.length === 0 && files.every((f) => f.ok), files, skipped, missing };
}

export function lintText(text: string, shown: string, file: string, opts: LintOptions): LintedFile {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, uniqueKeys: true, prettyErrors: true });
  if (doc.errors.length > 0) {
    return {
      file: shown,
      ok: false,
      errors: doc.errors.map((e) => ({ line: e.linePos?.[0].line ?? 1, column: e.linePos?.[0].col ?? 1, message: `invalid YAML: ${e.message.split('\n')[0]?.replace(/ at line \d+, column \d+:?$/, '') ?? e.code}` })),
    };
  }
  try {
    const spec = parsePipeline(text, shown, { catalog: opts.catalog, configsDir: opts.configsDir, dir: path.dirname(file) });
    // As the service's registry: setup.* steps belong to the platform's own pipelines (configs/setup/).
    const inSetup = !path.relative(path.join(opts.configsDir, 'setup'), file).startsWith('..');
    const platformStep = inSetup ? undefined : spec.steps.find((s) => s.psType.startsWith(PLATFORM_ONLY));
    if (platformStep !== undefined) {
      throw new Error(`step "${platformStep.stepId}": ${platformStep.psType} is reserved to the platform's setup pipelines`);
    }
    return { file: shown, ok: true, pipeline_id: spec.pipelineId, steps: spec.steps.length, errors: [] };
  } catch (e) {
    const raw = e instanceof Error ? e.message : String(e);
    const message = raw.startsWith(`${shown}: `) ? raw.slice(shown.length + 2) : raw;
    const at = locate(doc, message, lines);
    return { file: shown, ok: false, errors: [{ ...at, message }] };
  }
}

/** A YAML file of a directory is linted when it has a top-level pipeline_id, steps or pipeline key. */
function looksLikePipeline(text: string): boolean {
  return /^(pipeline_id|steps|pipeline)\s*:/m.test(text) || !/^[A-Za-z_][\w-]*\s*:/m.test(text);
}

function yamlFilesUnder(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const entry of fs.readdirSync(d, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      if (entry.name.startsWith('.') || entry.name === 'node_modules') continue;
      const p = path.join(d, entry.name);
      if (entry.isDirectory()) walk(p);
      else if (entry.isFile() && YAML_FILE.test(entry.name)) out.push(p);
    }
  };
  walk(dir);
  return out;
}

function readText(file: string): string | { error: string } {
  try {
    if (fs.statSync(file).size > MAX_PIPELINE_BYTES) return { error: `larger than ${MAX_PIPELINE_BYTES} bytes` };
    return fs.readFileSync(file, 'utf8');
  } catch (e) {
    return { error: `cannot read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}` };
  }
}

const display = (file: string, cwd: string): string => shownPath(cwd, file);

type Segment = string | number;

/**
 * The line of what a loader message names: `steps[2] (step "x"): … field "a.b"`, `step "x": field "f"`,
 * `parameters.p…`, `variables.v…`, `field "a.b"`, `duplicate step_id "x"`, `cycle: a → b`, `timeout`.
 * Falls back to the step, then to the top of the file.
 */
function locate(doc: Document, message: string, lines: LineCounter): { line: number; column: number } {
  const steps = doc.get('steps', true);
  const stepIds = isSeq(steps) ? steps.items.map((s) => (isMap(s) ? String(s.get('step_id') ?? s.get('id') ?? '') : '')) : [];
  const candidates: Segment[][] = [];
  const field = /field "([^"]+)"/.exec(message)?.[1];
  const fieldPath = field === undefined || field === '(document)' || field === '(value)' ? [] : splitField(field);

  let step: number | undefined;
  const indexed = /^(?:\(seed form\) )?steps\[(\d+)\]/.exec(message);
  const named = /step(?:_id)? "([^"]+)"/.exec(message);
  const cycle = /cycle: ([^\s→]+)/.exec(message);
  if (indexed !== null) step = Number(indexed[1]);
  else if (named !== null) step = message.startsWith('duplicate') ? stepIds.lastIndexOf(named[1] as string) : stepIds.indexOf(named[1] as string);
  else if (cycle !== null) step = stepIds.indexOf(cycle[1] as string);
  if (step !== undefined && step >= 0) {
    const base: Segment[] = ['steps', step];
    if (/depends_on/.test(message)) candidates.push([...base, 'depends_on']);
    if (fieldPath.length > 0) candidates.push([...base, ...fieldPath], [...base, 'config', ...fieldPath]);
    candidates.push(base);
  }
  const section = /^(parameters|variables)\.([A-Za-z_][\w]*)(?:\.(\w+))?/.exec(message);
  if (section !== null) candidates.push([section[1] as string, section[2] as string, ...(section[3] === undefined ? [] : [section[3]])]);
  if (step === undefined && fieldPath.length > 0) candidates.push(fieldPath);
  if (/^timeout/.test(message)) candidates.push(['timeout']);
  for (const c of candidates) {
    const offset = offsetOf(doc, c);
    if (offset !== undefined) {
      const pos = lines.linePos(offset);
      return { line: pos.line, column: pos.col };
    }
  }
  return { line: 1, column: 1 };
}

/** `a.b[0].c` or `a.b.0.c` → ['a', 'b', 0, 'c']. */
function splitField(field: string): Segment[] {
  return field
    .replace(/\[(\d+)\]/g, '.$1')
    .split('.')
    .filter((s) => s !== '')
    .map((s) => (/^\d+$/.test(s) ? Number(s) : s));
}

/** Start of the deepest node along the path (the key, for a map entry), if the path's first segment exists. */
function offsetOf(doc: Document, segments: readonly Segment[]): number | undefined {
  let node: unknown = doc.contents;
  let offset: number | undefined;
  for (const seg of segments) {
    if (isMap(node)) {
      const pair = node.items.find((p) => isScalar(p.key) && String(p.key.value) === String(seg));
      if (pair === undefined) break;
      offset = (pair.key as Node).range?.[0] ?? offset;
      node = pair.value;
    } else if (isSeq(node) && typeof seg === 'number') {
      const item = node.items[seg] as Node | undefined;
      if (item === undefined) break;
      offset = item.range?.[0] ?? offset;
      node = item;
    } else {
      break;
    }
  }
  return offset;
}
