import { addDecimals } from '../../core/money.js';
import type { Processor } from '../../pipeline/processor.js';
import { defineApiSource, totalsByCurrency } from '../api-source.js';
import type { SourceDeps } from '../source-deps.js';

/** `openai.usage`: the day's completions usage per model and project → e.g. openai_usage_daily_raw. */
export function openAiUsageProcessor(deps: SourceDeps): Processor {
  return defineApiSource(deps, {
    psType: 'openai.usage',
    description: 'Pull one day of OpenAI completions usage (per model and project) into a table of the org.',
    provider: 'openai',
    async fetch(ctx, credential, day) {
      const rows = await deps.clients.openai(credential.secret).completionsUsage(day, ctx.signal);
      const requests = rows.reduce((n, r) => n + r.num_model_requests, 0);
      return {
        rows: rows.map((r) => ({ ...r, bucket_start: r.bucket_start.toISOString(), bucket_end: r.bucket_end.toISOString() })),
        metadata: { source_rows: rows.length, model_requests: requests },
      };
    },
  });
}

/** `openai.cost`: the day's costs per line item and project (the billing source of truth) → e.g. openai_cost_daily. */
export function openAiCostProcessor(deps: SourceDeps): Processor {
  return defineApiSource(deps, {
    psType: 'openai.cost',
    description: 'Pull one day of OpenAI costs (per line item and project) into a table of the org.',
    provider: 'openai',
    async fetch(ctx, credential, day) {
      const rows = await deps.clients.openai(credential.secret).costs(day, ctx.signal);
      const totals = totalsByCurrency(rows, addDecimals);
      return {
        rows: rows.map((r) => ({
          ...r,
          bucket_start: r.bucket_start.toISOString(),
          bucket_end: r.bucket_end.toISOString(),
          billing_account_id: typeof credential.config.organization_id === 'string' ? credential.config.organization_id : null,
        })),
        metadata: { source_rows: rows.length, source_totals: totals },
        output: { source_totals: totals },
      };
    },
  });
}
