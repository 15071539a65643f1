-- Every run of this organization joined with its steps (one row per step; runs without steps
-- appear once with NULL step columns). {org_slug} is replaced by the organization's slug as a
-- string literal; {table:dataset.table} by the warehouse's qualified table name.
SELECT
  r.pipeline_logging_id,
  r.org_slug,
  r.pipeline_id,
  r.pipeline_path,
  r.status AS run_status,
  r.trigger_type,
  r.trigger_by,
  r.user_id,
  r.attempt AS run_attempt,
  r.created_at AS run_created_at,
  r.start_time AS run_start_time,
  r.end_time AS run_end_time,
  r.duration_ms AS run_duration_ms,
  r.error_message AS run_error_message,
  s.step_logging_id,
  s.step_id,
  s.ps_type,
  s.status AS step_status,
  s.attempt AS step_attempt,
  s.start_time AS step_start_time,
  s.end_time AS step_end_time,
  s.duration_ms AS step_duration_ms,
  s.rows_processed,
  s.error_message AS step_error_message
FROM {table:organizations.org_meta_pipeline_runs} AS r
LEFT JOIN {table:organizations.org_meta_step_logs} AS s
  ON s.pipeline_logging_id = r.pipeline_logging_id
 AND s.org_slug = r.org_slug
WHERE r.org_slug = {org_slug}
