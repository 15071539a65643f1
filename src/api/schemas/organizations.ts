import { Type } from '@sinclair/typebox';
import { OnboardingRequest } from '../../core/onboarding-request.js';
import { SUBSCRIPTION_STATUSES } from '../../services/organization-service.js';

export { OnboardingRequest };

const Check = Type.Object({ name: Type.String(), passed: Type.Boolean(), detail: Type.String() });

export const DryrunResponse = Type.Object({
  valid: Type.Boolean(),
  checks: Type.Array(Check),
  pipeline_logging_id: Type.String(),
});

const Limits = Type.Object({ daily_limit: Type.Integer(), monthly_limit: Type.Integer(), concurrent_limit: Type.Integer() });

export const OnboardResponse = Type.Object({
  org_slug: Type.String(),
  api_key: Type.String({ description: 'Shown once. Store it now.' }),
  api_key_fingerprint: Type.String(),
  subscription_plan: Type.String(),
  subscription_status: Type.String(),
  limits: Limits,
  dataset_id: Type.String(),
  dataset_created: Type.Boolean(),
  views_created: Type.Array(Type.String()),
  created_at: Type.String({ format: 'date-time' }),
  pipeline_logging_id: Type.String(),
  message: Type.String(),
});

export const SubscriptionView = Type.Object({
  plan_name: Type.String(),
  status: Type.String(),
  daily_limit: Type.Integer(),
  monthly_limit: Type.Integer(),
  concurrent_limit: Type.Integer(),
  trial_end_date: Type.Union([Type.String({ format: 'date' }), Type.Null()]),
  updated_at: Type.String({ format: 'date-time' }),
});

export const OrganizationView = Type.Object({
  org_slug: Type.String(),
  company_name: Type.String(),
  admin_email: Type.String(),
  status: Type.String(),
  dataset_id: Type.String(),
  created_at: Type.String({ format: 'date-time' }),
  updated_at: Type.String({ format: 'date-time' }),
  deleted_at: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  subscription: Type.Union([SubscriptionView, Type.Null()]),
});

export const SubscriptionChange = Type.Object(
  {
    plan: Type.Optional(Type.String({ maxLength: 64, description: 'STARTER, PROFESSIONAL or SCALE; limits follow the plan.' })),
    status: Type.Optional(Type.Union(SUBSCRIPTION_STATUSES.map((s) => Type.Literal(s)))),
    trial_end_date: Type.Optional(Type.Union([Type.String({ format: 'date' }), Type.Null()])),
  },
  { additionalProperties: false, minProperties: 1 },
);

export const QuotaResponse = Type.Object({
  org_slug: Type.String(),
  plan_name: Type.String(),
  subscription_status: Type.String(),
  usage_date: Type.String({ format: 'date' }),
  pipelines_run_today: Type.Integer(),
  daily_limit: Type.Integer(),
  daily_remaining: Type.Integer(),
  pipelines_run_month: Type.Integer(),
  monthly_limit: Type.Integer(),
  monthly_remaining: Type.Integer(),
  concurrent_running: Type.Integer(),
  concurrent_limit: Type.Integer(),
  runs_allowed: Type.Boolean(),
});

export const OffboardQuery = Type.Object(
  { drop_dataset: Type.Optional(Type.Boolean({ default: false, description: 'Also drop the organization dataset and its data.' })) },
  { additionalProperties: false },
);

export const OffboardResponse = Type.Object({
  org_slug: Type.String(),
  status: Type.String(),
  api_keys_revoked: Type.Integer(),
  schedules_deactivated: Type.Integer(),
  dataset_dropped: Type.Boolean(),
  deleted_at: Type.String({ format: 'date-time' }),
});

export const RotateResponse = Type.Object({
  org_slug: Type.String(),
  api_key: Type.String({ description: 'Shown once. Store it now.' }),
  api_key_id: Type.String(),
  api_key_fingerprint: Type.String(),
  created_at: Type.String({ format: 'date-time' }),
  revoked_keys: Type.Integer(),
  message: Type.String(),
});
