import type { Processor } from '../../pipeline/processor.js';
import { StepError } from '../../pipeline/processor.js';
import { defineApiSource } from '../api-source.js';
import type { SourceDeps } from '../source-deps.js';

/**
 * `deepseek.balance`: DeepSeek exposes only the current balance, so this records a snapshot for
 * today (UTC); a re-run the same day replaces it with a newer one. A past date cannot be
 * snapshotted and is refused rather than recorded with today's numbers.
 */
export function deepSeekBalanceProcessor(deps: SourceDeps): Processor {
  return defineApiSource(deps, {
    psType: 'deepseek.balance',
    description: 'Record the DeepSeek account balance (per currency) as the snapshot of today (UTC).',
    provider: 'deepseek',
    async fetch(ctx, credential, day) {
      const now = deps.now();
      const today = now.toISOString().slice(0, 10);
      if (day !== today) throw new StepError(`DeepSeek reports only the current balance: the snapshot date must be today (${today} UTC), not ${day}`);
      const snapshot = await deps.clients.deepseek(credential.secret).balance(ctx.signal);
      const account = typeof credential.config.account_id === 'string' ? credential.config.account_id : null;
      return {
        rows: snapshot.balances.map((b) => ({ ...b, is_available: snapshot.is_available, captured_at: now.toISOString(), billing_account_id: account })),
        metadata: { currencies: snapshot.balances.map((b) => b.currency), is_available: snapshot.is_available },
      };
    },
  });
}
