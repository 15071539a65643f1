import type { Logger } from 'pino';
import type { ControlStore } from '../control-store/control-store.js';
import { PROVIDERS, type IntegrationRecord, type Provider, type ValidationStatus } from '../control-store/records.js';

export { PROVIDERS };
import { AppError } from '../core/errors.js';
import { newId } from '../core/ids.js';
import { credentialFingerprint, decryptSecret, DecryptionError, encryptSecret, type CredentialBinding } from '../crypto/envelope.js';
import type { Keyring } from '../crypto/keyring.js';
import { ProviderError } from '../providers/provider-http.js';
import { BILLING_EXPORT_TABLE, CredentialFormatError, IMPORT_PATTERN, ImportPathError, parseServiceAccount, refuseForeignFolders, resolveImportFiles } from '../providers/gcp.js';
import type { ProviderClients } from '../providers/provider-clients.js';
import { actorOf, type CallContext } from './principal.js';

/**
 * Provider credentials of an org (`/api/v1/integrations/{org}/{provider}`): validated against the
 * provider before anything is stored, envelope-encrypted (a fresh data key per write, bound to
 * org, provider and credential id), never returned or logged. Pipelines read them through
 * `credentialFor`, which decrypts at the moment of use.
 */
export interface SetupInput {
  readonly credential: string | Readonly<Record<string, unknown>>;
  readonly credential_name?: string;
  readonly config?: Readonly<Record<string, unknown>>;
  readonly skip_validation?: boolean;
}

export interface IntegrationView {
  readonly credential_id: string;
  readonly org_slug: string;
  readonly provider: Provider;
  readonly credential_name: string | null;
  readonly fingerprint: string | null;
  readonly config: Readonly<Record<string, unknown>>;
  readonly validation_status: ValidationStatus;
  readonly last_validated_at: Date | null;
  readonly last_error: string | null;
  readonly created_at: Date;
  readonly updated_at: Date;
}

/** What a pipeline step gets: the plaintext secret, for the length of the step. */
export interface ResolvedCredential {
  readonly credentialId: string;
  readonly secret: string;
  readonly config: Readonly<Record<string, unknown>>;
}

interface Validation {
  readonly status: ValidationStatus;
  readonly error: string | null;
}

export class IntegrationService {
  constructor(
    private readonly store: ControlStore,
    private readonly keyring: Keyring,
    private readonly clients: ProviderClients,
    private readonly logger: Logger,
    private readonly now: () => Date,
  ) {}

  async setup(call: CallContext, orgSlug: string, provider: Provider, input: SetupInput, signal?: AbortSignal): Promise<IntegrationView> {
    const secret = this.secretOf(provider, input.credential);
    const config = await this.checkConfig(orgSlug, provider, input.config ?? {});
    const validation: Validation = input.skip_validation === true ? { status: 'UNVERIFIED', error: null } : await this.validate(provider, secret, config, signal, 'refuse');
    const now = this.now();
    const credentialId = newId();
    const sealed = await encryptSecret(this.keyring, secret, { orgSlug, provider, credentialId });
    const record: IntegrationRecord = {
      credential_id: credentialId,
      org_slug: orgSlug,
      provider,
      credential_name: input.credential_name ?? null,
      encrypted_credential: sealed.envelope,
      key_version: sealed.keyVersion,
      fingerprint: this.fingerprint(provider, secret),
      config,
      validation_status: validation.status,
      last_validated_at: validation.status === 'UNVERIFIED' ? null : now,
      last_error: validation.error,
      created_at: now,
      updated_at: now,
    };
    await this.store.transaction((tx) => tx.integrations.replace(record));
    this.logger.info({ org_slug: orgSlug, provider, credential_id: credentialId, validation_status: validation.status, by: actorOf(call.principal) }, 'integration stored');
    return view(record);
  }

  /** Checks the stored credential against the provider again and records the outcome. */
  async revalidate(orgSlug: string, provider: Provider, signal?: AbortSignal): Promise<IntegrationView> {
    const record = await this.record(orgSlug, provider);
    const secret = await this.open(record);
    const validation = await this.validate(provider, secret, record.config ?? {}, signal, 'record');
    const at = this.now();
    if (!(await this.store.integrations.recordValidation(record.credential_id, { status: validation.status, at, error: validation.error }))) {
      throw notFound(provider);
    }
    return view({ ...record, validation_status: validation.status, last_validated_at: at, last_error: validation.error, updated_at: at });
  }

  async list(orgSlug: string): Promise<IntegrationView[]> {
    return (await this.store.integrations.list(orgSlug)).map(view);
  }

  async get(orgSlug: string, provider: Provider): Promise<IntegrationView> {
    return view(await this.record(orgSlug, provider));
  }

  async remove(call: CallContext, orgSlug: string, provider: Provider): Promise<void> {
    if (!(await this.store.integrations.delete(orgSlug, provider))) throw notFound(provider);
    this.logger.info({ org_slug: orgSlug, provider, by: actorOf(call.principal) }, 'integration removed');
  }

  /** The decrypted credential for a run; a clear error when the org has none. */
  async credentialFor(orgSlug: string, provider: Provider): Promise<ResolvedCredential> {
    const record = await this.store.integrations.get(orgSlug, provider);
    if (record === undefined) {
      throw new AppError('INTEGRATION_NOT_FOUND', `no ${provider} integration is set up for this organization: POST /api/v1/integrations/${orgSlug}/${provider}/setup`);
    }
    return { credentialId: record.credential_id, secret: await this.open(record), config: record.config ?? {} };
  }

  /** Decrypts; an envelope that does not open (other master key, altered row) is the org's to replace. */
  private async open(record: IntegrationRecord): Promise<string> {
    try {
      return await decryptSecret(this.keyring, record.encrypted_credential, binding(record));
    } catch (e) {
      if (!(e instanceof DecryptionError)) throw e;
      this.logger.error({ org_slug: record.org_slug, provider: record.provider, credential_id: record.credential_id, key_version: record.key_version, err: e.message }, 'stored credential cannot be decrypted');
      throw new AppError('CREDENTIAL_UNREADABLE', `the stored ${record.provider} credential cannot be decrypted (the master key changed or the stored row was altered); set it up again`);
    }
  }

  private async record(orgSlug: string, provider: Provider): Promise<IntegrationRecord> {
    const record = await this.store.integrations.get(orgSlug, provider);
    if (record === undefined) throw notFound(provider);
    return record;
  }

  /** Non-secret settings per provider; unknown keys are refused so a typo is not silently ignored. */
  private async checkConfig(orgSlug: string, provider: Provider, config: Readonly<Record<string, unknown>>): Promise<Record<string, unknown>> {
    const allowed = CONFIG_KEYS[provider];
    const out: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(config)) {
      const pattern = allowed[key];
      if (pattern === undefined) throw new AppError('INVALID_INTEGRATION_CONFIG', `config.${key} is not a ${provider} setting (known: ${Object.keys(allowed).join(', ') || 'none'})`);
      if (typeof value !== 'string' || !pattern.test(value)) throw new AppError('INVALID_INTEGRATION_CONFIG', `config.${key} is not valid${key.endsWith('_path') ? ': a path or glob relative to IMPORT_DIR, without ".." or a leading "/"' : ''}`);
      out[key] = value;
    }
    if (provider === 'gcp') {
      if (out.billing_export_table === undefined && out.billing_export_path === undefined) {
        throw new AppError('INVALID_INTEGRATION_CONFIG', 'a GCP integration needs config.billing_export_table (project.dataset.gcp_billing_export_v1_…) or config.billing_export_path (export files under IMPORT_DIR)');
      }
    }
    for (const key of ['billing_export_path', 'usage_log_path']) {
      const pattern = out[key];
      if (typeof pattern !== 'string') continue;
      // Checked on what the pattern matches (also with skip_validation): no file may be another org's.
      try {
        const files = await resolveImportFiles(this.clients.importDir, pattern);
        await refuseForeignFolders(files, orgSlug, async (slug) => (await this.store.orgs.getProfile(slug)) !== undefined);
      } catch (e) {
        if (e instanceof ImportPathError) throw new AppError('INVALID_INTEGRATION_CONFIG', `config.${key}: ${e.message}`);
        throw e;
      }
    }
    return out;
  }

  private secretOf(provider: Provider, credential: SetupInput['credential']): string {
    if (provider === 'gcp') {
      try {
        return parseServiceAccount(credential).json;
      } catch (e) {
        if (e instanceof CredentialFormatError) throw new AppError('INVALID_CREDENTIAL', `GCP service account: ${e.message}`);
        throw e;
      }
    }
    if (typeof credential !== 'string') throw new AppError('INVALID_CREDENTIAL', `the ${provider} credential must be an API key string`);
    const key = credential.trim();
    if (!/^[\x21-\x7e]{16,500}$/.test(key)) throw new AppError('INVALID_CREDENTIAL', `the ${provider} credential does not look like an API key (16–500 printable characters, no spaces)`);
    return key;
  }

  private fingerprint(provider: Provider, secret: string): string {
    if (provider === 'gcp') {
      const sa = parseServiceAccount(secret);
      return `${sa.client_email} (key ${sa.private_key_id.slice(0, 8)})`;
    }
    return credentialFingerprint(secret);
  }

  /**
   * Asks the provider. At setup (`refuse`) a rejected credential is a 422 and an unreachable
   * provider a 503, and nothing is stored; on re-validation (`record`) a rejection is recorded as
   * INVALID, while an unreachable provider still answers 503 and leaves the stored status alone.
   */
  private async validate(provider: Provider, secret: string, config: Readonly<Record<string, unknown>>, signal: AbortSignal | undefined, mode: 'refuse' | 'record'): Promise<Validation> {
    try {
      await this.clients.validate(provider, secret, config, signal);
      return { status: 'VALID', error: null };
    } catch (e) {
      if (e instanceof ProviderError) {
        if (e.retryable || e.kind === 'bad_response') {
          throw new AppError('PROVIDER_UNAVAILABLE', `${providerName(provider)} could not validate the credential now (${e.message}); try again, or set skip_validation to store it unverified`);
        }
        const why = e.kind === 'auth' || e.kind === 'forbidden' ? `${providerName(provider)} rejected the credential (${e.message})` : `${providerName(provider)} refused the validation request (${e.message})`;
        if (mode === 'refuse') throw new AppError('INVALID_CREDENTIAL', why);
        return { status: 'INVALID', error: why };
      }
      if (e instanceof ImportPathError || e instanceof CredentialFormatError) {
        if (mode === 'refuse') throw new AppError('INVALID_INTEGRATION_CONFIG', e.message);
        return { status: 'INVALID', error: e.message };
      }
      throw e;
    }
  }
}

const ACCOUNT_ID = /^[A-Za-z0-9_.:-]{1,100}$/;
const CONFIG_KEYS: Readonly<Record<Provider, Readonly<Record<string, RegExp>>>> = {
  gcp: { billing_export_table: BILLING_EXPORT_TABLE, billing_export_path: IMPORT_PATTERN },
  openai: { organization_id: ACCOUNT_ID },
  anthropic: { organization_id: ACCOUNT_ID },
  deepseek: { account_id: ACCOUNT_ID, usage_log_path: IMPORT_PATTERN },
};

const binding = (r: Pick<IntegrationRecord, 'org_slug' | 'provider' | 'credential_id'>): CredentialBinding => ({ orgSlug: r.org_slug, provider: r.provider, credentialId: r.credential_id });

const notFound = (provider: Provider): AppError => new AppError('INTEGRATION_NOT_FOUND', `no ${provider} integration is set up for this organization`);

export const providerName = (p: Provider): string => ({ gcp: 'Google Cloud', openai: 'OpenAI', anthropic: 'Anthropic', deepseek: 'DeepSeek' })[p];

function view(r: IntegrationRecord): IntegrationView {
  return {
    credential_id: r.credential_id,
    org_slug: r.org_slug,
    provider: r.provider,
    credential_name: r.credential_name,
    fingerprint: r.fingerprint,
    config: r.config ?? {},
    validation_status: r.validation_status,
    last_validated_at: r.last_validated_at,
    last_error: r.last_error,
    created_at: r.created_at,
    updated_at: r.updated_at,
  };
}
