import fs from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { act, type Context } from '../context.js';
import { EXIT, usageError } from '../errors.js';
import { shownPath } from '../paths.js';
import { REPO_ROOT } from '../version.js';

/**
 * `validate [paths...]`: offline lint of pipeline YAML, for pipeline authors' CI. Problems print as
 * `file:line:column: error: message` (the form editors and CI annotations recognise); exit 1 when
 * any file has one, 2 when a path does not exist.
 */
export function registerValidateCommand(program: Command, ctx: Context): void {
  program
    .command('validate')
    .description('lint pipeline YAML files or directories offline (default: configs/); exit 1 on any problem')
    .argument('[paths...]', 'files or directories (searched recursively for .yml/.yaml pipelines)')
    .option('--configs-dir <dir>', 'the configs/ root that file references (schemas, seeds) resolve against (env CONVERGENCE_CONFIGS_DIR; default: ./configs if it exists, else the service\'s)')
    .option('-q, --quiet', 'print problems only')
    .option('--json', 'print the report as JSON')
    .action(
      act(ctx, async (paths: string[], opts: { configsDir?: string; quiet?: boolean; json?: boolean }) => {
        const local = path.join(ctx.cwd, 'configs');
        const configsDir = path.resolve(ctx.cwd, opts.configsDir ?? ctx.env.CONVERGENCE_CONFIGS_DIR ?? (fs.existsSync(local) ? local : path.join(REPO_ROOT, 'configs')));
        const targets = paths.length > 0 ? paths : [shownPath(ctx.cwd, configsDir)];
        // Loaded on demand: the processors' schemas are only needed here.
        const [{ lintPaths }, { processorCatalogForSchema }] = await Promise.all([import('../pipeline-lint.js'), import('../../processors/catalog.js')]);
        const report = lintPaths(targets, { catalog: processorCatalogForSchema(), configsDir, cwd: ctx.cwd });
        const out = ctx.out;
        if (report.missing.length > 0 && report.files.length === 0) throw usageError(`no such file or directory: ${report.missing.join(', ')}`);
        out.result(report, () => {
          for (const m of report.missing) out.print(`${m}: error: no such file or directory`);
          for (const f of report.files) {
            for (const e of f.errors) out.print(`${f.file}:${e.line}:${e.column}: error: ${e.message}`);
            if (f.ok && opts.quiet !== true) out.print(`${f.file}: ok (${f.pipeline_id}, ${f.steps} steps)`);
          }
          const bad = report.files.filter((f) => !f.ok).length;
          if (opts.quiet !== true || !report.ok) {
            out.note(`${report.files.length} pipeline file(s) checked: ${report.files.length - bad} valid, ${bad} with problems${report.skipped.length === 0 ? '' : `; ${report.skipped.length} other YAML file(s) skipped`}`);
          }
        });
        if (report.files.length === 0 && report.missing.length === 0) out.warn('no pipeline files found');
        return report.ok ? EXIT.OK : report.missing.length > 0 ? EXIT.USAGE : EXIT.FAILURE;
      }),
    );
}
