import type { Provider } from '../control-store/records.js';
import { errorMessage, isAppError } from '../core/errors.js';
import type { PriceProvider, PriceTable } from '../pricing/price-table.js';
import type { ProviderClients } from '../providers/provider-clients.js';
import { ProviderError } from '../providers/provider-http.js';
import { StepError } from '../pipeline/processor.js';
import type { DataDeps } from './data-deps.js';

/** What the cost-source processors need: the data deps, the org's credentials, provider clients, prices. */
export interface SourceDeps extends DataDeps {
  readonly credentials: {
    credentialFor(orgSlug: string, provider: Provider): Promise<{ readonly credentialId: string; readonly secret: string; readonly config: Readonly<Record<string, unknown>> }>;
  };
  readonly clients: ProviderClients;
  readonly prices: { tableFor(orgSlug: string, provider: PriceProvider): Promise<PriceTable> };
}

/**
 * Provider failures as step errors: 429/5xx/timeouts stay retryable (the runner backs off and
 * tries again), a rejected key or a malformed answer does not — and the message says what to do.
 */
export function providerStepError(e: unknown, provider: string): unknown {
  if (e instanceof ProviderError) {
    if (e.kind === 'auth' || e.kind === 'forbidden') {
      return new StepError(`${e.message}; the stored ${provider} credential was rejected — set it up again (POST /api/v1/integrations/{org}/${provider}/setup)`);
    }
    return new StepError(e.message, { retryable: e.retryable, cause: e });
  }
  if (e instanceof Error && e.name === 'DecryptionError') {
    return new StepError(`the stored ${provider} credential cannot be decrypted (was the master key changed without rotating?); set it up again`);
  }
  if (isAppError(e) && e.status < 500) return new StepError(e.message, { cause: e });
  return e instanceof Error ? e : new Error(errorMessage(e));
}
