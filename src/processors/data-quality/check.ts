import { Type, type Static } from '@sinclair/typebox';
import { parseDuration } from '../../core/duration.js';
import { errorMessage } from '../../core/errors.js';
import { newId } from '../../core/ids.js';
import type { SqlValue } from '../../core/sql.js';
import { defineProcessor, SqlText, StepError, type Processor, type StepContext } from '../../pipeline/processor.js';
import { DURATION_PATTERN } from '../../pipeline/spec-document.js';
import type { DqResultRecord } from '../../control-store/records.js';
import { decimalEquals } from '../../core/money.js';
import { asStepError, bindParameters, checkScope, ownTable, type DataDeps } from '../data-deps.js';

/**
 * `data_quality.check`: expectations over a table of the org. Every result goes to
 * `org_meta_dq_results`; a failed check of severity `error` fails the step (and so the run),
 * `warn` is recorded only. Checks run as aggregate queries in the warehouse, never row by row here.
 */
const COLUMN = '^[A-Za-z_][A-Za-z0-9_]{0,127}$';
const base = {
  name: Type.String({ pattern: '^[A-Za-z0-9_.-]{1,100}$' }),
  severity: Type.Union([Type.Literal('warn'), Type.Literal('error')], { default: 'error' }),
  where: Type.Optional(SqlText({ maxLength: 5000, description: 'Only rows matching this condition are checked.' })),
};
const Check = Type.Union([
  Type.Object({ ...base, type: Type.Literal('not_null'), column: Type.String({ pattern: COLUMN }) }, { additionalProperties: false }),
  Type.Object(
    { ...base, type: Type.Literal('unique'), columns: Type.Array(Type.String({ pattern: COLUMN }), { minItems: 1, maxItems: 20, uniqueItems: true }) },
    { additionalProperties: false },
  ),
  Type.Object(
    { ...base, type: Type.Literal('accepted_values'), column: Type.String({ pattern: COLUMN }), values: Type.Array(Type.Union([Type.String(), Type.Number()]), { minItems: 1, maxItems: 1000 }) },
    { additionalProperties: false },
  ),
  Type.Object({ ...base, type: Type.Literal('row_count'), min: Type.Optional(Type.Integer({ minimum: 0 })), max: Type.Optional(Type.Integer({ minimum: 0 })) }, { additionalProperties: false }),
  Type.Object({ ...base, type: Type.Literal('freshness'), column: Type.String({ pattern: COLUMN }), max_age: Type.String({ pattern: DURATION_PATTERN }) }, { additionalProperties: false }),
  Type.Object({ ...base, type: Type.Literal('expression'), expression: SqlText({ minLength: 1, maxLength: 5000, description: 'Must hold for every row.' }) }, { additionalProperties: false }),
  Type.Object(
    {
      ...base,
      type: Type.Literal('reconciliation'),
      expression: SqlText({ minLength: 1, maxLength: 2000, description: 'Aggregate over the checked rows, e.g. SUM(BilledCost)' }),
      group_by: Type.Optional(Type.String({ pattern: COLUMN, description: 'Compare per value of this column (e.g. the currency)' })),
      compare_to: Type.Union([
        Type.Object(
          {
            table: SqlText({ minLength: 1, maxLength: 300 }),
            expression: SqlText({ minLength: 1, maxLength: 2000 }),
            where: Type.Optional(SqlText({ maxLength: 5000 })),
            group_by: Type.Optional(Type.String({ pattern: COLUMN })),
          },
          { additionalProperties: false },
        ),
        Type.Object(
          {
            step: Type.String({ pattern: '^[A-Za-z0-9_-]{1,100}$', description: 'An earlier step (listed in depends_on)' }),
            output: Type.String({ pattern: '^[A-Za-z0-9_]{1,100}$', description: 'Its output: a total, or totals by group' }),
          },
          { additionalProperties: false },
        ),
      ], { description: 'The other side: another table of the org, or totals an earlier step reported (e.g. the provider API)' }),
    },
    { additionalProperties: false },
  ),
]);
type CheckSpec = Static<typeof Check>;

const Config = Type.Object(
  {
    table: SqlText({ minLength: 1, maxLength: 300, description: 'table or {dataset}.table to check' }),
    where: Type.Optional(SqlText({ maxLength: 5000, description: 'Condition applied to every check (e.g. one day).' })),
    checks: Type.Array(Check, { minItems: 1, maxItems: 100 }),
  },
  { additionalProperties: false },
);

interface Measured {
  readonly passed: boolean;
  readonly observed: string;
  readonly expected: string;
  readonly rowCount: number | null;
  readonly failedRows: number | null;
}

export function dataQualityProcessor(deps: DataDeps): Processor {
  const w = deps.warehouse;

  async function measure(ctx: StepContext, table: string, where: string, c: CheckSpec): Promise<Measured> {
    const from = `${w.tableReference(ctx.dataset, table)}`;
    const filter = [where, c.where].filter((x): x is string => x !== undefined && x !== '').map((x) => `(${x})`);
    const whereSql = filter.length === 0 ? '' : ` WHERE ${filter.join(' AND ')}`;
    const run = async (sql: string, extra: Record<string, SqlValue> = {}): Promise<Record<string, unknown>> => {
      await checkScope(w, sql, ctx.dataset);
      const [row] = await w.runQuery(sql, { params: bindParameters(sql, ctx, extra), defaultDataset: ctx.dataset, signal: ctx.signal });
      return row ?? {};
    };
    const num = (v: unknown): number => Number(v ?? 0);
    switch (c.type) {
      case 'not_null': {
        const col = w.quoteIdentifier(c.column);
        const r = await run(`SELECT COUNT(*) AS n, SUM(CASE WHEN ${col} IS NULL THEN 1 ELSE 0 END) AS bad FROM ${from}${whereSql}`);
        return { passed: num(r.bad) === 0, observed: `${num(r.bad)} nulls`, expected: '0 nulls', rowCount: num(r.n), failedRows: num(r.bad) };
      }
      case 'unique': {
        const cols = c.columns.map((x) => w.quoteIdentifier(x)).join(', ');
        const r = await run(
          `SELECT COUNT(*) AS groups, SUM(c) AS bad, (SELECT COUNT(*) FROM ${from}${whereSql}) AS n
           FROM (SELECT ${cols}, COUNT(*) AS c FROM ${from}${whereSql} GROUP BY ${cols} HAVING COUNT(*) > 1) AS d`,
        );
        return { passed: num(r.groups) === 0, observed: `${num(r.groups)} duplicated keys`, expected: `unique (${c.columns.join(', ')})`, rowCount: num(r.n), failedRows: num(r.bad) };
      }
      case 'accepted_values': {
        const col = w.quoteIdentifier(c.column);
        // Listed values are bound, never spliced: they may hold quotes.
        const extra = Object.fromEntries(c.values.map((v, i) => [`dq_value_${i}`, v]));
        const list = c.values.map((_, i) => `@dq_value_${i}`).join(', ');
        const r = await run(`SELECT COUNT(*) AS n, SUM(CASE WHEN ${col} IS NOT NULL AND ${col} NOT IN (${list}) THEN 1 ELSE 0 END) AS bad FROM ${from}${whereSql}`, extra);
        return { passed: num(r.bad) === 0, observed: `${num(r.bad)} rows outside the list`, expected: `one of ${c.values.length} values`, rowCount: num(r.n), failedRows: num(r.bad) };
      }
      case 'row_count': {
        const r = await run(`SELECT COUNT(*) AS n FROM ${from}${whereSql}`);
        const n = num(r.n);
        const passed = (c.min === undefined || n >= c.min) && (c.max === undefined || n <= c.max);
        return { passed, observed: String(n), expected: `${c.min ?? 0}..${c.max ?? '∞'}`, rowCount: n, failedRows: null };
      }
      case 'freshness': {
        const r = await run(`SELECT COUNT(*) AS n, MAX(${w.quoteIdentifier(c.column)}) AS latest FROM ${from}${whereSql}`);
        const latest = r.latest instanceof Date ? r.latest : typeof r.latest === 'string' ? new Date(r.latest.length === 10 ? `${r.latest}T00:00:00Z` : r.latest) : undefined;
        const maxAge = parseDuration(c.max_age) ?? 0;
        const age = latest === undefined ? undefined : deps.now().getTime() - latest.getTime();
        return { passed: age !== undefined && age <= maxAge, observed: latest === undefined ? 'no rows' : latest.toISOString(), expected: `newer than ${c.max_age}`, rowCount: num(r.n), failedRows: null };
      }
      case 'reconciliation': {
        const totals = async (tableRef: string, expression: string, filters: string, groupBy: string | undefined): Promise<{ totals: Map<string, string>; n: number }> => {
          const g = groupBy === undefined ? `''` : `CAST(${w.quoteIdentifier(groupBy)} AS VARCHAR)`;
          await checkScope(w, `SELECT ${expression} AS x FROM ${tableRef}${filters}`, ctx.dataset);
          const rows = await w.runQuery<{ g: string | null; total: string | null; n: unknown }>(
            `SELECT ${g} AS g, CAST(${expression} AS VARCHAR) AS total, COUNT(*) AS n FROM ${tableRef}${filters} GROUP BY 1`,
            { params: bindParameters(`${expression} ${filters}`, ctx), defaultDataset: ctx.dataset, signal: ctx.signal },
          );
          return { totals: new Map(rows.map((r) => [r.g ?? '', r.total ?? '0'])), n: rows.reduce((a, r) => a + num(r.n), 0) };
        };
        const left = await totals(from, c.expression, whereSql, c.group_by);
        let right: Map<string, string>;
        if ('step' in c.compare_to) {
          const value = ctx.outputs.get(c.compare_to.step)?.[c.compare_to.output];
          if (value === undefined) throw new StepError(`reconciliation ${c.name}: step ${c.compare_to.step} has no output ${c.compare_to.output} (is it in depends_on?)`);
          right = new Map(typeof value === 'object' && value !== null ? Object.entries(value as Record<string, unknown>).map(([k, v]) => [k, String(v)]) : [['', String(value)]]);
        } else {
          const other = c.compare_to;
          const otherTable = w.tableReference(ctx.dataset, ownTable(other.table, ctx.dataset));
          right = (await totals(otherTable, other.expression, other.where === undefined || other.where === '' ? '' : ` WHERE (${other.where})`, other.group_by)).totals;
        }
        const groups = [...new Set([...left.totals.keys(), ...right.keys()])].sort();
        const differing = groups.filter((k) => !decimalEquals(left.totals.get(k) ?? '0', right.get(k) ?? '0'));
        const show = (m: Map<string, string>): string => groups.map((k) => `${k === '' ? '' : `${k} `}${m.get(k) ?? '0'}`).join(', ') || '0';
        return { passed: differing.length === 0, observed: show(left.totals), expected: show(right), rowCount: left.n, failedRows: differing.length };
      }
      case 'expression': {
        const r = await run(`SELECT COUNT(*) AS n, SUM(CASE WHEN (${c.expression}) THEN 0 ELSE 1 END) AS bad FROM ${from}${whereSql}`);
        return { passed: num(r.bad) === 0, observed: `${num(r.bad)} rows violate it`, expected: c.expression, rowCount: num(r.n), failedRows: num(r.bad) };
      }
    }
  }

  return defineProcessor({
    psType: 'data_quality.check',
    description: 'Check expectations (not_null, unique, accepted_values, row_count, freshness, expression, reconciliation) over a table; error-severity failures fail the run.',
    configSchema: Config,
    async preflight(ctx, config) {
      ownTable(config.table, ctx.dataset);
      // The user-written parts (filters, expressions) checked as one query over a stand-in table.
      const parts = [config.where, ...config.checks.flatMap((c) => [c.where, c.type === 'expression' ? c.expression : undefined])].filter((x): x is string => x !== undefined && x !== '');
      if (parts.length > 0) {
        const sql = `SELECT 1 AS x FROM (SELECT 1) AS t WHERE ${parts.map((p) => `(${p})`).join(' AND ')}`;
        await checkScope(w, sql, ctx.dataset);
      }
    },
    async run(ctx, config) {
      const table = ownTable(config.table, ctx.dataset);
      if (!(await w.listTables(ctx.dataset)).includes(table)) throw new StepError(`table ${ctx.dataset}.${table} does not exist`);
      const results: DqResultRecord[] = [];
      for (const c of config.checks) {
        let m: Measured | undefined;
        let error: string | undefined;
        try {
          m = await measure(ctx, table, config.where ?? '', c);
        } catch (e) {
          if (ctx.signal.aborted) throw e;
          error = errorMessage(e);
        }
        results.push({
          dq_result_id: newId(),
          pipeline_logging_id: ctx.pipelineLoggingId,
          org_slug: ctx.orgSlug,
          step_id: ctx.stepId,
          check_name: c.name,
          check_type: c.type,
          target_table: `${ctx.dataset}.${table}`,
          status: error !== undefined ? 'ERROR' : m?.passed === true ? 'PASS' : 'FAIL',
          severity: c.severity,
          observed_value: m?.observed ?? null,
          expected_value: m?.expected ?? null,
          row_count: m?.rowCount ?? null,
          failed_row_count: m?.failedRows ?? null,
          message: error ?? (m?.passed === true ? null : `${c.name}: expected ${m?.expected}, observed ${m?.observed}`),
          created_at: deps.now(),
        });
      }
      // An attempt abandoned on timeout or cancellation records nothing (a retry would duplicate it).
      ctx.signal.throwIfAborted();
      try {
        await deps.controlStore.runs.insertDqResults(results);
      } catch (e) {
        throw asStepError(e);
      }
      const failed = results.filter((r) => r.status !== 'PASS');
      const blocking = failed.filter((r) => r.severity === 'error');
      const summary = { checks: results.length, passed: results.length - failed.length, failed: failed.length, failed_errors: blocking.length, warnings: failed.length - blocking.length };
      if (blocking.length > 0) {
        throw new StepError(`data quality: ${blocking.length} check(s) failed: ${blocking.map((r) => r.message).join('; ')}`);
      }
      return { rowsProcessed: results[0]?.row_count ?? 0, metadata: summary, output: summary };
    },
  });
}
