import { AnthropicClient } from './anthropic.js';
import { DeepSeekClient } from './deepseek.js';
import { CredentialFormatError, ImportPathError, parseServiceAccount, resolveImportFiles } from './gcp.js';
import { OpenAiClient } from './openai.js';
import { DEFAULT_PROVIDER_HTTP, ProviderHttp, type ProviderHttpOptions } from './provider-http.js';

/** Provider API clients on the operator's base URLs, and the validation each provider gets at setup. */
export interface ProviderEndpoints {
  readonly openai: string;
  readonly anthropic: string;
  readonly deepseek: string;
}

/**
 * Someone is waiting on a setup or validate request: a shorter timeout and one retry, so an
 * unreachable provider is a 503 within seconds rather than after a pipeline's patient backoff.
 */
export const INTERACTIVE_PROVIDER_HTTP: ProviderHttpOptions = {
  timeoutMs: 10_000,
  retry: { maxAttempts: 2, baseDelayMs: 500, maxDelayMs: 2000 },
  maxResponseBytes: DEFAULT_PROVIDER_HTTP.maxResponseBytes,
};

type Https = { readonly openai: ProviderHttp; readonly anthropic: ProviderHttp; readonly deepseek: ProviderHttp };
const https = (o: ProviderHttpOptions): Https => ({ openai: new ProviderHttp('openai', o), anthropic: new ProviderHttp('anthropic', o), deepseek: new ProviderHttp('deepseek', o) });

export class ProviderClients {
  private readonly pipeline: Https;
  private readonly interactive: Https;

  constructor(
    private readonly endpoints: ProviderEndpoints,
    readonly importDir: string,
    opts: { pipeline?: ProviderHttpOptions; interactive?: ProviderHttpOptions } = {},
  ) {
    this.pipeline = https(opts.pipeline ?? DEFAULT_PROVIDER_HTTP);
    this.interactive = https(opts.interactive ?? INTERACTIVE_PROVIDER_HTTP);
  }

  /** Clients for pipeline steps: patient retries with backoff. */
  openai(adminKey: string, http: Https = this.pipeline): OpenAiClient {
    return new OpenAiClient(http.openai, this.endpoints.openai, adminKey);
  }

  anthropic(adminKey: string, http: Https = this.pipeline): AnthropicClient {
    return new AnthropicClient(http.anthropic, this.endpoints.anthropic, adminKey);
  }

  deepseek(apiKey: string, http: Https = this.pipeline): DeepSeekClient {
    return new DeepSeekClient(http.deepseek, this.endpoints.deepseek, apiKey);
  }

  /**
   * Proves the credential works for what the pipelines need: admin scope for OpenAI and Anthropic
   * usage/cost reports, the balance call for DeepSeek; for GCP the key's structure and a billing
   * source that exists. Throws ProviderError, CredentialFormatError or ImportPathError.
   */
  async validate(provider: 'gcp' | 'openai' | 'anthropic' | 'deepseek', secret: string, config: Readonly<Record<string, unknown>>, signal?: AbortSignal): Promise<void> {
    switch (provider) {
      case 'openai':
        return this.openai(secret, this.interactive).validateAdminKey(signal);
      case 'anthropic':
        return this.anthropic(secret, this.interactive).validateAdminKey(signal);
      case 'deepseek':
        return this.deepseek(secret, this.interactive).validateKey(signal);
      case 'gcp': {
        parseServiceAccount(secret);
        const pattern = config.billing_export_path;
        if (typeof pattern === 'string') {
          const files = await resolveImportFiles(this.importDir, pattern);
          if (files.length === 0) throw new ImportPathError(`billing_export_path "${pattern}" matches no file under IMPORT_DIR`);
        } else if (typeof config.billing_export_table !== 'string') {
          throw new CredentialFormatError('config needs billing_export_table (BigQuery export) or billing_export_path (export files under IMPORT_DIR)');
        }
        return;
      }
    }
  }
}
