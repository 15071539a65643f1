import type { Processor } from '../../pipeline/processor.js';
import { costReport, defineApiSource, withIsoBuckets } from '../api-source.js';
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
        rows: rows.map(withIsoBuckets),
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
      return costReport(await deps.clients.openai(credential.secret).costs(day, ctx.signal), credential.config.organization_id);
    },
  });
}
