import { addDecimals } from '../../core/money.js';
import type { Processor } from '../../pipeline/processor.js';
import { costReport, defineApiSource, withIsoBuckets } from '../api-source.js';
import type { SourceDeps } from '../source-deps.js';

/**
 * `anthropic.usage`: the day's Messages usage per model, workspace, tier and context window.
 * Priority-tier usage has no cost lines in the cost report, so it is priced here from the org's
 * price table (`estimated_cost`, with the price id used); other tiers are left to the cost report.
 */
export const ESTIMATED_TIERS: ReadonlySet<string> = new Set(['priority', 'priority_on_demand']);

export function anthropicUsageProcessor(deps: SourceDeps): Processor {
  return defineApiSource(deps, {
    psType: 'anthropic.usage',
    description: 'Pull one day of Anthropic Messages usage into a table of the org; priority-tier usage is priced from the price table.',
    provider: 'anthropic',
    async fetch(ctx, credential, day) {
      const rows = await deps.clients.anthropic(credential.secret).messagesUsage(day, ctx.signal);
      const prices = await deps.prices.tableFor(ctx.orgSlug, 'anthropic');
      const unpriced = new Set<string>();
      const out = rows.map((r) => {
        let estimated_cost: string | null = null;
        let price_model: string | null = null;
        if (r.service_tier !== null && ESTIMATED_TIERS.has(r.service_tier) && r.model !== null) {
          const e = prices.estimate(r.model, {
            uncachedInput: r.uncached_input_tokens,
            cachedInput: r.cache_read_input_tokens,
            cacheWrite5m: r.cache_creation_5m_input_tokens,
            cacheWrite1h: r.cache_creation_1h_input_tokens,
            output: r.output_tokens,
          });
          if (e === undefined) unpriced.add(r.model);
          else [estimated_cost, price_model] = [e.cost, e.price.model];
        }
        return { ...withIsoBuckets(r), estimated_cost, price_model };
      });
      if (unpriced.size > 0) ctx.logger.warn({ models: [...unpriced] }, 'priority-tier usage of models without a price: set one with PUT /api/v1/integrations/{org}/anthropic/pricing');
      const estimated = out.filter((r) => r.estimated_cost !== null).map((r) => r.estimated_cost as string);
      return {
        rows: out,
        metadata: { source_rows: rows.length, estimated_rows: estimated.length, unpriced_models: [...unpriced] },
        output: { estimated_total: addDecimals(estimated) },
      };
    },
  });
}

/** `anthropic.cost`: the day's cost report per workspace and description; cents converted exactly to dollars. */
export function anthropicCostProcessor(deps: SourceDeps): Processor {
  return defineApiSource(deps, {
    psType: 'anthropic.cost',
    description: 'Pull one day of the Anthropic cost report (per workspace and line) into a table of the org.',
    provider: 'anthropic',
    async fetch(ctx, credential, day) {
      return costReport(await deps.clients.anthropic(credential.secret).costReport(day, ctx.signal), credential.config.organization_id);
    },
  });
}
