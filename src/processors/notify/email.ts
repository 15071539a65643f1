import { Type } from '@sinclair/typebox';
import nodemailer, { type Transporter } from 'nodemailer';
import { isEmail } from '../../core/email.js';
import { defineProcessor, StepError, type Processor } from '../../pipeline/processor.js';
import { describeRun, type NotifyDeps } from './notify-deps.js';

/** `notify_systems.email_notification`: an email over SMTP (`SMTP_URL`). */
const Config = Type.Object(
  {
    to_emails: Type.Array(Type.String({ minLength: 1, maxLength: 320 }), { minItems: 1, maxItems: 50 }),
    subject: Type.Optional(Type.String({ maxLength: 300 })),
    body: Type.Optional(Type.String({ maxLength: 20_000 })),
  },
  { additionalProperties: false },
);

export function emailNotificationProcessor(deps: NotifyDeps): Processor {
  let transport: Transporter | undefined;
  return defineProcessor({
    psType: 'notify_systems.email_notification',
    description: 'Send an email (SMTP_URL); without SMTP the message is recorded as not sent.',
    configSchema: Config,
    async preflight(_ctx, config) {
      const bad = config.to_emails.filter((e) => !isEmail(e));
      if (bad.length > 0) throw new StepError(`not email addresses: ${bad.join(', ')}`);
    },
    async run(ctx, config) {
      const bad = config.to_emails.filter((e) => !isEmail(e));
      if (bad.length > 0) throw new StepError(`not email addresses: ${bad.join(', ')}`);
      const d = describeRun(ctx);
      const subject = config.subject ?? d.subject;
      const meta = { to: config.to_emails, subject };
      if (deps.smtpUrl === undefined) {
        ctx.logger.info({ ...meta }, 'email not sent: SMTP_URL is not set');
        return { metadata: { ...meta, sent: false, reason: 'SMTP_URL is not set' } };
      }
      transport ??= nodemailer.createTransport(deps.smtpUrl);
      const info = await transport.sendMail({ from: deps.mailFrom, to: config.to_emails, subject, text: config.body ?? d.text });
      return { metadata: { ...meta, sent: true, message_id: info.messageId, accepted: info.accepted.length, rejected: info.rejected.length } };
    },
  });
}
