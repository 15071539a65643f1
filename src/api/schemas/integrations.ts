import { Type } from '@sinclair/typebox';
import { PROVIDERS } from '../../services/integration-service.js';

export const ProviderParams = Type.Object(
  {
    org: Type.String({ maxLength: 100, description: 'Organization slug' }),
    provider: Type.Union(PROVIDERS.map((p) => Type.Literal(p)), { description: 'gcp | openai | anthropic | deepseek' }),
  },
  { additionalProperties: false },
);

export const SetupBody = Type.Object(
  {
    credential: Type.Union([Type.String({ minLength: 1, maxLength: 20_000 }), Type.Object({}, { additionalProperties: true, maxProperties: 50 })], {
      description: 'API key (OpenAI/Anthropic admin key, DeepSeek key) or, for gcp, the service-account key JSON (object or text). Stored encrypted; never returned.',
    }),
    credential_name: Type.Optional(Type.String({ minLength: 1, maxLength: 100, pattern: '^[^\\x00-\\x1f]*$' })),
    config: Type.Optional(
      Type.Record(Type.String({ maxLength: 64 }), Type.String({ maxLength: 1100 }), {
        maxProperties: 10,
        description: 'Non-secret settings. gcp: billing_export_table or billing_export_path; openai/anthropic: organization_id; deepseek: account_id.',
      }),
    ),
    skip_validation: Type.Optional(Type.Boolean({ description: 'Store without asking the provider (status UNVERIFIED).' })),
  },
  { additionalProperties: false },
);

export const IntegrationView = Type.Object({
  credential_id: Type.String(),
  org_slug: Type.String(),
  provider: Type.String(),
  credential_name: Type.Union([Type.String(), Type.Null()]),
  fingerprint: Type.Union([Type.String(), Type.Null()], { description: 'Non-secret hint to recognise the credential' }),
  config: Type.Record(Type.String(), Type.Unknown()),
  validation_status: Type.String({ description: 'VALID | INVALID | UNVERIFIED' }),
  last_validated_at: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  last_error: Type.Union([Type.String(), Type.Null()]),
  created_at: Type.String({ format: 'date-time' }),
  updated_at: Type.String({ format: 'date-time' }),
});

export const IntegrationList = Type.Object({ org_slug: Type.String(), integrations: Type.Array(IntegrationView) });

export const PriceList = Type.Object({
  provider: Type.String(),
  currency: Type.String(),
  unit: Type.String(),
  prices: Type.Array(
    Type.Object({
      model: Type.String(),
      input: Type.String(),
      cached_input: Type.Union([Type.String(), Type.Null()]),
      cache_write_5m: Type.Union([Type.String(), Type.Null()]),
      cache_write_1h: Type.Union([Type.String(), Type.Null()]),
      output: Type.String(),
      source: Type.String({ description: 'default (configs/{provider}/seed/pricing.csv) or override (this org)' }),
      checked: Type.Union([Type.String(), Type.Null()]),
    }),
  ),
});
