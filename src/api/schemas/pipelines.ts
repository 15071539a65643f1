import { Type } from '@sinclair/typebox';

/** Schemas of the pipeline, run and config routes. */
const Nullable = <T extends ReturnType<typeof Type.String>>(t: T) => Type.Union([t, Type.Null()]);

export const PipelineRouteParams = Type.Object(
  {
    org: Type.String({ maxLength: 100 }),
    provider: Type.String({ maxLength: 100 }),
    domain: Type.String({ maxLength: 100 }),
    pipeline: Type.String({ maxLength: 100 }),
  },
  { additionalProperties: false },
);

export const RunRequestBody = Type.Object(
  {
    date: Type.Optional(Type.String({ maxLength: 40, description: 'Run date (YYYY-MM-DD, today or yesterday); default: the pipeline\'s, usually yesterday.' })),
    parameters: Type.Optional(Type.Record(Type.String({ maxLength: 64 }), Type.Union([Type.String({ maxLength: 1000 }), Type.Number(), Type.Boolean()]), { maxProperties: 50 })),
    trigger_by: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
  },
  { additionalProperties: false },
);

export const WaitQuery = Type.Object({ wait: Type.Boolean({ default: false, description: 'Answer when the run has finished (up to 5 minutes).' }) }, { additionalProperties: false });

const RunFields = {
  pipeline_logging_id: Type.String(),
  org_slug: Type.String(),
  pipeline_id: Type.String(),
  pipeline_path: Nullable(Type.String()),
  status: Type.String({ description: 'QUEUED, RUNNING, SUCCESS, FAILED, CANCELLED or TIMEOUT' }),
  trigger_type: Type.String(),
  trigger_by: Nullable(Type.String()),
  user_id: Nullable(Type.String()),
  parameters: Type.Union([Type.Record(Type.String(), Type.Unknown()), Type.Null()]),
  attempt: Type.Integer(),
  created_at: Type.String({ format: 'date-time' }),
  start_time: Nullable(Type.String({ format: 'date-time' })),
  end_time: Nullable(Type.String({ format: 'date-time' })),
  duration_ms: Type.Union([Type.Integer(), Type.Null()]),
  error_message: Nullable(Type.String()),
};

export const RunView = Type.Object({ ...RunFields, message: Type.Optional(Type.String()) });

const StepView = Type.Object({
  step_logging_id: Type.String(),
  step_id: Type.String(),
  ps_type: Type.String(),
  status: Type.String({ description: 'PENDING, RUNNING, SUCCESS, FAILED, SKIPPED or CANCELLED' }),
  attempt: Type.Integer(),
  start_time: Nullable(Type.String({ format: 'date-time' })),
  end_time: Nullable(Type.String({ format: 'date-time' })),
  duration_ms: Type.Union([Type.Integer(), Type.Null()]),
  rows_processed: Type.Union([Type.Integer(), Type.Null()]),
  error_message: Nullable(Type.String()),
  metadata: Type.Union([Type.Record(Type.String(), Type.Unknown()), Type.Null()]),
});

const DqView = Type.Object({
  step_id: Nullable(Type.String()),
  check_name: Type.String(),
  check_type: Nullable(Type.String()),
  target_table: Nullable(Type.String()),
  status: Type.String({ description: 'PASS, FAIL or ERROR' }),
  severity: Type.String(),
  observed_value: Nullable(Type.String()),
  expected_value: Nullable(Type.String()),
  row_count: Type.Union([Type.Integer(), Type.Null()]),
  failed_row_count: Type.Union([Type.Integer(), Type.Null()]),
  message: Nullable(Type.String()),
  created_at: Type.String({ format: 'date-time' }),
});

export const RunDetail = Type.Object({ ...RunFields, message: Type.Optional(Type.String()), steps: Type.Array(StepView), dq_results: Type.Array(DqView) });

export const RunIdParams = Type.Object({ pipeline_logging_id: Type.String({ maxLength: 100 }) }, { additionalProperties: false });

export const RunListQuery = Type.Object(
  {
    status: Type.Optional(Type.Union(['QUEUED', 'RUNNING', 'SUCCESS', 'FAILED', 'CANCELLED', 'TIMEOUT'].map((s) => Type.Literal(s)))),
    pipeline: Type.Optional(Type.String({ maxLength: 200, description: 'pipeline_id, or provider/domain/pipeline' })),
    from: Type.Optional(Type.String({ maxLength: 40, description: 'Created at or after (date or timestamp)' })),
    to: Type.Optional(Type.String({ maxLength: 40, description: 'Created before (a date includes that day)' })),
    cursor: Type.Optional(Type.String({ maxLength: 500 })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 20 })),
  },
  { additionalProperties: false },
);

export const RunList = Type.Object({ runs: Type.Array(RunView), next_cursor: Nullable(Type.String()), limit: Type.Integer() });

export const PipelineList = Type.Object({ pipelines: Type.Array(Type.Record(Type.String(), Type.Unknown())) });

export const ConfigBody = Type.Object(
  {
    config_id: Type.String({ minLength: 1, maxLength: 64 }),
    yaml: Type.String({ minLength: 1, maxLength: 256 * 1024 }),
  },
  { additionalProperties: false },
);

export const ConfigSaved = Type.Object({
  config_id: Type.String(),
  version: Type.Integer(),
  pipeline_id: Type.String(),
  steps: Type.Integer(),
  run_path: Type.String(),
  created_at: Type.String({ format: 'date-time' }),
});

export const ConfigParams = Type.Object({ config_id: Type.String({ maxLength: 100 }) }, { additionalProperties: false });

const ConfigSummary = Type.Object({ config_id: Type.String(), version: Type.Integer(), created_at: Type.String({ format: 'date-time' }), created_by: Nullable(Type.String()) });
export const ConfigList = Type.Object({ configs: Type.Array(ConfigSummary) });
export const ConfigDetail = Type.Object({ ...ConfigSummary.properties, yaml: Type.String() });

const DryrunCheck = Type.Object({ name: Type.String(), passed: Type.Boolean(), detail: Type.String() });
export const PipelineDryrunResponse = Type.Object({
  valid: Type.Boolean(),
  checks: Type.Array(DryrunCheck),
  pipeline_id: Type.String(),
  pipeline_path: Type.String(),
  parameters: Type.Record(Type.String(), Type.Unknown()),
  steps: Type.Array(Type.Object({ step_id: Type.String(), ps_type: Type.String(), depends_on: Type.Array(Type.String()), trigger: Type.String() })),
});

export const BackfillBody = Type.Object(
  {
    start_date: Type.String({ maxLength: 40, description: 'First day (YYYY-MM-DD)' }),
    end_date: Type.String({ maxLength: 40, description: 'Last day, included (at most 366 days after start_date)' }),
    parameters: Type.Optional(Type.Record(Type.String({ maxLength: 64 }), Type.Union([Type.String({ maxLength: 1000 }), Type.Number(), Type.Boolean()]), { maxProperties: 50 })),
  },
  { additionalProperties: false },
);
const BackfillRun = Type.Object({ date: Type.Union([Type.String(), Type.Null()]), pipeline_logging_id: Type.String(), status: Type.String() }, { additionalProperties: true });
export const BackfillStarted = Type.Object({
  backfill_id: Type.String(),
  org_slug: Type.String(),
  pipeline_path: Type.String(),
  start_date: Type.String(),
  end_date: Type.String(),
  total: Type.Integer(),
  requested_by: Type.String(),
  runs: Type.Array(BackfillRun),
  status_url: Type.String(),
});
export const BackfillStatus = Type.Object({
  backfill_id: Type.String(),
  total: Type.Integer(),
  finished: Type.Integer(),
  by_status: Type.Record(Type.String(), Type.Integer()),
  runs: Type.Array(BackfillRun),
});
export const BackfillParams = Type.Object({ backfill_id: Type.String({ maxLength: 100 }) }, { additionalProperties: false });
