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

export class ProviderClients {
  private readonly http: { openai: ProviderHttp; anthropic: ProviderHttp; deepseek: ProviderHttp };

  constructor(
    private readonly endpoints: ProviderEndpoints,
    readonly importDir: string,
    httpOptions: ProviderHttpOptions = DEFAULT_PROVIDER_HTTP,
  ) {
    this.http = {
      openai: new ProviderHttp('openai', httpOptions),
      anthropic: new ProviderHttp('anthropic', httpOptions),
      deepseek: new ProviderHttp('deepseek', httpOptions),
    };
  }

  openai(adminKey: string): OpenAiClient {
    return new OpenAiClient(this.http.openai, this.endpoints.openai, adminKey);
  }

  anthropic(adminKey: string): AnthropicClient {
    return new AnthropicClient(this.http.anthropic, this.endpoints.anthropic, adminKey);
  }

  deepseek(apiKey: string): DeepSeekClient {
    return new DeepSeekClient(this.http.deepseek, this.endpoints.deepseek, apiKey);
  }

  /**
   * Proves the credential works for what the pipelines need: admin scope for OpenAI and Anthropic
   * usage/cost reports, the balance call for DeepSeek; for GCP the key's structure and a billing
   * source that exists. Throws ProviderError, CredentialFormatError or ImportPathError.
   */
  async validate(provider: 'gcp' | 'openai' | 'anthropic' | 'deepseek', secret: string, config: Readonly<Record<string, unknown>>, signal?: AbortSignal): Promise<void> {
    switch (provider) {
      case 'openai':
        return this.openai(secret).validateAdminKey(signal);
      case 'anthropic':
        return this.anthropic(secret).validateAdminKey(signal);
      case 'deepseek':
        return this.deepseek(secret).validateKey(signal);
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
