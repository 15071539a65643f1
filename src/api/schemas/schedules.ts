import { Type } from '@sinclair/typebox';
import { MISSED_RUN_POLICIES } from '../../services/schedule-service.js';

const Parameters = Type.Record(Type.String({ maxLength: 64 }), Type.Union([Type.String({ maxLength: 1000 }), Type.Number(), Type.Boolean()]), { maxProperties: 50 });
const fields = {
  pipeline_config: Type.String({ minLength: 1, maxLength: 200, description: 'provider/domain/pipeline, e.g. gcp/cost/billing or custom/configs/{config_id}' }),
  schedule: Type.String({ minLength: 1, maxLength: 500, description: 'Five cron fields (minute hour day month weekday) or @hourly/@daily/@weekly/@monthly/@yearly' }),
  timezone: Type.String({ minLength: 1, maxLength: 64, description: 'IANA time zone (default UTC)' }),
  parameters: Parameters,
  is_active: Type.Boolean(),
  missed_run_policy: Type.Union(MISSED_RUN_POLICIES.map((p) => Type.Literal(p)), { description: 'After downtime: none (skip missed), latest (run the latest once), all (run each)' }),
};

export const ScheduleBody = Type.Object(
  {
    pipeline_config: fields.pipeline_config,
    schedule: fields.schedule,
    timezone: Type.Optional(fields.timezone),
    parameters: Type.Optional(fields.parameters),
    is_active: Type.Optional(fields.is_active),
    missed_run_policy: Type.Optional(fields.missed_run_policy),
  },
  { additionalProperties: false },
);

export const SchedulePatch = Type.Partial(ScheduleBody, { additionalProperties: false, minProperties: 1 });

export const ScheduleView = Type.Object({
  schedule_id: Type.String(),
  org_slug: Type.String(),
  pipeline_config: Type.String(),
  schedule: Type.String(),
  timezone: Type.String(),
  parameters: Type.Record(Type.String(), Type.Unknown()),
  missed_run_policy: Type.String(),
  is_active: Type.Boolean(),
  next_run_at: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  last_run_at: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  created_at: Type.String({ format: 'date-time' }),
  updated_at: Type.String({ format: 'date-time' }),
});

export const ScheduleList = Type.Object({ schedules: Type.Array(ScheduleView) });
export const ScheduleParams = Type.Object({ schedule_id: Type.String({ maxLength: 100 }) }, { additionalProperties: false });
