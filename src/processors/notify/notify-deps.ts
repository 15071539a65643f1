import type { OutboundHttp } from '../../net/outbound-http.js';
import type { RunSummary, StepContext } from '../../pipeline/processor.js';

/** What the notify_systems.* processors need from the outside world. */
export interface NotifyDeps {
  /** `smtp://` or `smtps://` URL; when absent, emails are recorded as not sent. */
  readonly smtpUrl: string | undefined;
  readonly mailFrom: string;
  readonly outbound: OutboundHttp;
  readonly now: () => Date;
}

/** Default message text: what ran, how it ended, and what failed. */
export function describeRun(ctx: StepContext): { subject: string; text: string } {
  const r: RunSummary = ctx.run;
  const subject = `[Convergence] ${r.pipelineId}: ${r.status}`;
  const lines = [
    `Pipeline ${r.pipelineId} for ${ctx.orgSlug}: ${r.status}`,
    `Run: ${ctx.pipelineLoggingId}`,
    ...r.failures.map((f) => `- step ${f.step_id}: ${f.error}`),
  ];
  return { subject, text: lines.join('\n') };
}

/** The JSON event sent to webhooks. */
export function runEvent(ctx: StepContext, at: Date, message: string | undefined): Record<string, unknown> {
  return {
    event: 'pipeline.run',
    org_slug: ctx.orgSlug,
    pipeline_id: ctx.run.pipelineId,
    pipeline_logging_id: ctx.pipelineLoggingId,
    status: ctx.run.status,
    failures: ctx.run.failures,
    ...(message === undefined ? {} : { message }),
    sent_at: at.toISOString(),
  };
}
