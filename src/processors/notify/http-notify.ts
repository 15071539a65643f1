import crypto from 'node:crypto';
import { Type } from '@sinclair/typebox';
import { OutboundError } from '../../net/outbound-http.js';
import { defineProcessor, StepError, type Processor } from '../../pipeline/processor.js';
import { describeRun, runEvent, type NotifyDeps } from './notify-deps.js';

/**
 * `notify_systems.slack_notification` (Slack incoming webhook) and `notify_systems.webhook`
 * (a JSON event signed with HMAC-SHA256). URLs pass the outbound policy: no private addresses
 * unless allow-listed, no redirects. A 4xx answer is final; 5xx and network errors may be retried.
 */
const SlackConfig = Type.Object(
  {
    webhook_url: Type.String({ minLength: 1, maxLength: 2000 }),
    message: Type.Optional(Type.String({ maxLength: 10_000 })),
  },
  { additionalProperties: false },
);

const WebhookConfig = Type.Object(
  {
    url: Type.String({ minLength: 1, maxLength: 2000 }),
    secret: Type.Optional(Type.String({ minLength: 16, maxLength: 256, description: 'Shared secret for the X-Convergence-Signature header.' })),
    message: Type.Optional(Type.String({ maxLength: 10_000 })),
  },
  { additionalProperties: false },
);

/** `t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`: the timestamp lets receivers refuse replays. */
export function signatureHeader(secret: string, body: string, at: Date): string {
  const t = Math.floor(at.getTime() / 1000);
  const mac = crypto.createHmac('sha256', secret).update(`${t}.${body}`).digest('hex');
  return `t=${t},v1=${mac}`;
}

async function post(deps: NotifyDeps, url: string, body: string, headers: Record<string, string>, signal: AbortSignal): Promise<number> {
  let status: number;
  try {
    ({ status } = await deps.outbound.postJson(url, body, { headers, signal }));
  } catch (e) {
    if (e instanceof OutboundError) throw new StepError(e.retryable ? e.message : `refused: ${e.message}`, { retryable: e.retryable });
    throw e;
  }
  if (status >= 400 && status < 500) throw new StepError(`endpoint answered ${status}`);
  if (status >= 500) throw new StepError(`endpoint answered ${status}`, { retryable: true });
  return status;
}

function checkUrl(deps: NotifyDeps, url: string): void {
  try {
    deps.outbound.checkUrl(url);
  } catch (e) {
    if (e instanceof OutboundError) throw new StepError(`refused: ${e.message}`);
    throw e;
  }
}

/** Only scheme and host reach the logs: webhook paths are often secrets themselves. */
const shownUrl = (url: string): string => {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}/…`;
  } catch {
    return '(invalid url)';
  }
};

export function slackNotificationProcessor(deps: NotifyDeps): Processor {
  return defineProcessor({
    psType: 'notify_systems.slack_notification',
    description: 'Post a message to a Slack incoming webhook.',
    configSchema: SlackConfig,
    async preflight(_ctx, config) {
      checkUrl(deps, config.webhook_url);
    },
    async run(ctx, config) {
      const text = config.message ?? describeRun(ctx).text;
      const status = await post(deps, config.webhook_url, JSON.stringify({ text }), {}, ctx.signal);
      return { metadata: { sent: true, endpoint: shownUrl(config.webhook_url), status } };
    },
  });
}

export function webhookProcessor(deps: NotifyDeps): Processor {
  return defineProcessor({
    psType: 'notify_systems.webhook',
    description: 'POST a JSON run event, signed with HMAC-SHA256 when a secret is set.',
    configSchema: WebhookConfig,
    async preflight(_ctx, config) {
      checkUrl(deps, config.url);
    },
    async run(ctx, config) {
      const at = deps.now();
      const body = JSON.stringify(runEvent(ctx, at, config.message));
      const headers: Record<string, string> = { 'x-convergence-event': 'pipeline.run', 'x-convergence-delivery': `${ctx.pipelineLoggingId}:${ctx.stepId}:${ctx.attempt}` };
      if (config.secret !== undefined) headers['x-convergence-signature'] = signatureHeader(config.secret, body, at);
      const status = await post(deps, config.url, body, headers, ctx.signal);
      return { metadata: { sent: true, endpoint: shownUrl(config.url), status, signed: config.secret !== undefined } };
    },
  });
}
