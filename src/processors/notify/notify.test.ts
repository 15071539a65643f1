import crypto from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { SMTPServer, type SMTPServerAddress } from 'smtp-server';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { OutboundHttp, type OutboundResponse, type PostOptions } from '../../net/outbound-http.js';
import { stepContext, stepError, runWithDefaults } from '../../../test/helpers/step-context.js';
import { StepError, type Processor, type RunSummary, type StepContext, type StepResult } from '../../pipeline/processor.js';
import { emailNotificationProcessor } from './email.js';
import { slackNotificationProcessor, webhookProcessor } from './http-notify.js';
import type { NotifyDeps } from './notify-deps.js';

const NOW = new Date('2025-03-04T05:06:07.890Z');
const RUN_ID = '0b6f1c9e-3a5d-4f7e-9b2a-1c3d5e7f9a0b';

const FAILED_RUN: RunSummary = {
  pipelineId: 'acme_gcp_cost_billing',
  status: 'FAILED',
  failures: [
    { step_id: 'extract', error: 'table acme.billing does not exist' },
    { step_id: 'check', error: 'data quality: 1 check(s) failed' },
  ],
};

const context = (over: Partial<StepContext> = {}): StepContext =>
  stepContext({
    orgSlug: 'acme',
    dataset: 'acme',
    pipelineLoggingId: RUN_ID,
    stepId: 'notify',
    attempt: 2,
    run: FAILED_RUN,
    ...over,
  });

const deps = (over: Partial<NotifyDeps> = {}): NotifyDeps => ({
  smtpUrl: undefined,
  mailFrom: 'convergence@example.test',
  outbound: new OutboundHttp(['127.0.0.1']),
  now: () => NOW,
  ...over,
});

const runDefaults = (p: Processor, config: Record<string, unknown>, ctx = context()): Promise<StepResult> => runWithDefaults(p, config, ctx);


describe('notify_systems.email_notification', () => {
  interface Mail {
    readonly from: string;
    readonly to: string[];
    readonly raw: string;
  }
  let smtp: SMTPServer;
  let smtpUrl: string;
  let mails: Mail[] = [];

  beforeAll(async () => {
    smtp = new SMTPServer({
      authOptional: true,
      disabledCommands: ['STARTTLS'],
      logger: false,
      onData(stream, session, callback) {
        const chunks: Buffer[] = [];
        stream.on('data', (c: Buffer) => chunks.push(c));
        stream.on('end', () => {
          const from = session.envelope.mailFrom === false ? '' : session.envelope.mailFrom.address;
          mails.push({ from, to: session.envelope.rcptTo.map((a: SMTPServerAddress) => a.address), raw: Buffer.concat(chunks).toString('utf8') });
          callback();
        });
      },
    });
    await new Promise<void>((resolve) => smtp.listen(0, '127.0.0.1', () => resolve()));
    smtpUrl = `smtp://127.0.0.1:${(smtp.server.address() as AddressInfo).port}`;
  });

  beforeEach(() => {
    mails = [];
  });

  afterAll(async () => {
    await new Promise<void>((resolve) => smtp.close(() => resolve()));
  });

  /** Header value of the raw message, unfolded. */
  const header = (raw: string, name: string): string | undefined => {
    const head = raw.split(/\r?\n\r?\n/)[0]?.replace(/\r?\n[ \t]+/g, ' ') ?? '';
    const line = head.split(/\r?\n/).find((l) => l.toLowerCase().startsWith(`${name.toLowerCase()}:`));
    return line?.slice(name.length + 1).trim();
  };
  const bodyOf = (raw: string): string => raw.split(/\r?\n\r?\n/).slice(1).join('\n\n').replace(/=\r?\n/g, '').replace(/\r\n/g, '\n');

  it('sends the message to every recipient with the given subject and body', async () => {
    const p = emailNotificationProcessor(deps({ smtpUrl }));
    const r = await runDefaults(p, { to_emails: ['admin@acme.example', 'ops@acme.example'], subject: 'Daily costs ready', body: 'All good.' });
    expect(r.metadata).toMatchObject({ to: ['admin@acme.example', 'ops@acme.example'], subject: 'Daily costs ready', sent: true, accepted: 2, rejected: 0 });
    expect(typeof r.metadata?.message_id).toBe('string');
    expect(mails).toHaveLength(1);
    const m = mails[0] as Mail;
    expect(m.from).toBe('convergence@example.test');
    expect(m.to).toEqual(['admin@acme.example', 'ops@acme.example']);
    expect(header(m.raw, 'Subject')).toBe('Daily costs ready');
    expect(header(m.raw, 'To')).toBe('admin@acme.example, ops@acme.example');
    expect(bodyOf(m.raw)).toContain('All good.');
  });

  it('by default names the pipeline, its status, the run and every failing step with its error', async () => {
    const p = emailNotificationProcessor(deps({ smtpUrl }));
    const r = await runDefaults(p, { to_emails: ['admin@acme.example'] });
    expect(r.metadata).toMatchObject({ subject: '[Convergence] acme_gcp_cost_billing: FAILED', sent: true });
    const m = mails[0] as Mail;
    expect(header(m.raw, 'Subject')).toBe('[Convergence] acme_gcp_cost_billing: FAILED');
    const body = bodyOf(m.raw);
    expect(body).toContain('Pipeline acme_gcp_cost_billing for acme: FAILED');
    expect(body).toContain(`Run: ${RUN_ID}`);
    expect(body).toContain('- step extract: table acme.billing does not exist');
    expect(body).toContain('- step check: data quality: 1 check(s) failed');
  });

  it('reports a successful run without failure lines', async () => {
    const p = emailNotificationProcessor(deps({ smtpUrl }));
    await runDefaults(p, { to_emails: ['admin@acme.example'] }, context({ run: { pipelineId: 'acme_demo', status: 'SUCCESS', failures: [] } }));
    const m = mails[0] as Mail;
    expect(header(m.raw, 'Subject')).toBe('[Convergence] acme_demo: SUCCESS');
    expect(bodyOf(m.raw)).not.toContain('- step');
  });

  it('a line break in the subject cannot add headers or recipients', async () => {
    const p = emailNotificationProcessor(deps({ smtpUrl }));
    await runDefaults(p, { to_emails: ['admin@acme.example'], subject: 'Hi\r\nBcc: evil@attacker.example' });
    const m = mails[0] as Mail;
    expect(m.to).toEqual(['admin@acme.example']);
    expect(header(m.raw, 'Bcc')).toBeUndefined();
  });

  it('without SMTP_URL the step succeeds and records the message as not sent', async () => {
    const p = emailNotificationProcessor(deps({ smtpUrl: undefined }));
    const r = await runDefaults(p, { to_emails: ['admin@acme.example'] });
    expect(r.metadata).toMatchObject({ sent: false, to: ['admin@acme.example'], subject: '[Convergence] acme_gcp_cost_billing: FAILED' });
    expect(r.metadata?.reason).toMatch(/SMTP_URL/);
    expect(mails).toEqual([]);
  });

  it.each([
    ['not an address', 'not-an-email'],
    ['two addresses in one', 'a@acme.example, b@acme.example'],
    ['a header injection', 'a@acme.example\r\nBcc: evil@attacker.example'],
    ['a display name', 'Admin <admin@acme.example>'],
    ['an empty rendered variable', '@acme.example'],
  ])('refuses %s with a StepError and sends nothing', async (_what, bad) => {
    for (const smtpUrlOrNot of [smtpUrl, undefined]) {
      const p = emailNotificationProcessor(deps({ smtpUrl: smtpUrlOrNot }));
      const e = await stepError(runDefaults(p, { to_emails: ['ok@acme.example', bad] }));
      expect(e.retryable).toBe(false);
      expect(e.message).toMatch(/not email addresses/);
      expect(e.message).not.toMatch(/ok@acme\.example/);
    }
    expect(mails).toEqual([]);
  });

  it('an unreachable SMTP server is an error that may be retried (not a StepError)', async () => {
    const probe = http.createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const closed = (probe.address() as AddressInfo).port;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    const p = emailNotificationProcessor(deps({ smtpUrl: `smtp://127.0.0.1:${closed}` }));
    const e = await runDefaults(p, { to_emails: ['admin@acme.example'] }).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(e).toBeInstanceOf(Error);
    expect(e).not.toBeInstanceOf(StepError);
  });
});

describe('HTTP notifications', () => {
  interface Hit {
    readonly url: string;
    readonly headers: http.IncomingHttpHeaders;
    readonly body: string;
  }
  let server: http.Server;
  let base: string;
  let hits: Hit[] = [];

  beforeAll(async () => {
    server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        hits.push({ url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
        const m = /^\/status\/(\d{3})/.exec(req.url ?? '');
        if (req.url === '/hang') return;
        if (m !== null) res.writeHead(Number(m[1]), m[1]?.startsWith('3') ? { location: 'http://example.com/' } : {}).end('status');
        else res.writeHead(200).end('ok');
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  beforeEach(() => {
    hits = [];
  });

  afterAll(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  describe('notify_systems.webhook', () => {
    const SECRET = 'whsec_0123456789abcdef';

    it('posts the JSON run event', async () => {
      const p = webhookProcessor(deps());
      const r = await runDefaults(p, { url: `${base}/hooks/run`, message: 'nightly run' });
      expect(hits).toHaveLength(1);
      const hit = hits[0] as Hit;
      expect(hit.url).toBe('/hooks/run');
      expect(hit.headers['content-type']).toBe('application/json');
      expect(hit.headers['x-convergence-event']).toBe('pipeline.run');
      expect(hit.headers['x-convergence-delivery']).toBe(`${RUN_ID}:notify:2`);
      expect(JSON.parse(hit.body)).toEqual({
        event: 'pipeline.run',
        org_slug: 'acme',
        pipeline_id: 'acme_gcp_cost_billing',
        pipeline_logging_id: RUN_ID,
        status: 'FAILED',
        failures: FAILED_RUN.failures,
        message: 'nightly run',
        sent_at: NOW.toISOString(),
      });
      expect(r.metadata).toEqual({ sent: true, endpoint: `${base}/…`, status: 200, signed: false });
    });

    it('without a secret sends no signature header', async () => {
      await runDefaults(webhookProcessor(deps()), { url: `${base}/hook` });
      expect(hits[0]?.headers['x-convergence-signature']).toBeUndefined();
      expect(JSON.parse(hits[0]?.body ?? '{}')).not.toHaveProperty('message');
    });

    it('with a secret signs t.body with HMAC-SHA256 (verified independently)', async () => {
      const r = await runDefaults(webhookProcessor(deps()), { url: `${base}/hook`, secret: SECRET });
      expect(r.metadata).toMatchObject({ signed: true });
      const hit = hits[0] as Hit;
      const sig = hit.headers['x-convergence-signature'];
      expect(typeof sig).toBe('string');
      const m = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(sig as string);
      expect(m).not.toBeNull();
      const [, t, v1] = m as RegExpExecArray;
      expect(Number(t)).toBe(Math.floor(NOW.getTime() / 1000));
      const expected = crypto.createHmac('sha256', SECRET).update(`${t}.${hit.body}`).digest('hex');
      expect(crypto.timingSafeEqual(Buffer.from(v1 as string, 'hex'), Buffer.from(expected, 'hex'))).toBe(true);
      // Neither another secret nor a changed body verifies.
      expect(crypto.createHmac('sha256', `${SECRET}x`).update(`${t}.${hit.body}`).digest('hex')).not.toBe(v1);
      expect(crypto.createHmac('sha256', SECRET).update(`${t}.${hit.body} `).digest('hex')).not.toBe(v1);
      // The secret itself is never sent or recorded.
      expect(JSON.stringify(hit)).not.toContain(SECRET);
      expect(JSON.stringify(r)).not.toContain(SECRET);
    });

    it.each([400, 401, 404, 410, 429])('a %i answer is a final StepError', async (status) => {
      const e = await stepError(runDefaults(webhookProcessor(deps()), { url: `${base}/status/${status}` }));
      expect(e.retryable).toBe(false);
      expect(e.message).toContain(String(status));
    });

    it.each([500, 502, 503])('a %i answer is a retryable StepError', async (status) => {
      const e = await stepError(runDefaults(webhookProcessor(deps()), { url: `${base}/status/${status}` }));
      expect(e.retryable).toBe(true);
      expect(e.message).toContain(String(status));
    });

    it('a redirect is refused and not followed', async () => {
      const e = await stepError(runDefaults(webhookProcessor(deps()), { url: `${base}/status/302` }));
      expect(e.retryable).toBe(false);
      expect(hits).toHaveLength(1);
    });

    it.each(['127.0.0.1', 'localhost'])('a private URL (%s) without allowlist is refused, sending nothing', async (host) => {
      const port = new URL(base).port;
      const e = await stepError(runDefaults(webhookProcessor(deps({ outbound: new OutboundHttp([]) })), { url: `http://${host}:${port}/hook` }));
      expect(e.retryable).toBe(false);
      expect(e.message).toMatch(/^refused: /);
      expect(hits).toEqual([]);
    });

    it.each(['ftp://example.com/hook', 'http://user:pw@example.com/hook', 'http://169.254.169.254/latest/meta-data/'])('refuses %s', async (url) => {
      const e = await stepError(runDefaults(webhookProcessor(deps({ outbound: new OutboundHttp([]) })), { url }));
      expect(e.retryable).toBe(false);
    });

    it('a connection failure is retryable', async () => {
      const probe = http.createServer();
      await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
      const closed = (probe.address() as AddressInfo).port;
      await new Promise<void>((resolve) => probe.close(() => resolve()));
      const e = await runDefaults(webhookProcessor(deps()), { url: `http://127.0.0.1:${closed}/hook` }).then(
        () => undefined,
        (err: unknown) => err,
      );
      expect(e).toBeInstanceOf(Error);
      expect(e instanceof StepError ? e.retryable : true).toBe(true);
    });

    // Regression (fixed, http-notify.ts `post`): every OutboundError becomes a final "refused" StepError, including
    // OutboundHttp's timeout ("no answer from … within … ms"), although the module promises that
    // network errors may be retried. The default 10 s timeout is shortened here to keep the test fast.
    it('an endpoint that does not answer in time is a retryable failure', async () => {
      class QuickTimeout extends OutboundHttp {
        override postJson(url: string, body: string, opts: PostOptions = {}): Promise<OutboundResponse> {
          return super.postJson(url, body, { ...opts, timeoutMs: 200 });
        }
      }
      const e = await runDefaults(webhookProcessor(deps({ outbound: new QuickTimeout(['127.0.0.1']) })), { url: `${base}/hang` }).then(
        () => undefined,
        (err: unknown) => err,
      );
      expect(e).toBeInstanceOf(Error);
      expect(e instanceof StepError ? e.retryable : true).toBe(true);
    });
  });

  describe('notify_systems.slack_notification', () => {
    const SECRET_PATH = '/services/T0000SECRET/B0000SECRET/XXXXXXXXXXXXsecrettoken';

    it('posts {text} with the given message', async () => {
      const r = await runDefaults(slackNotificationProcessor(deps()), { webhook_url: `${base}${SECRET_PATH}`, message: 'Costs loaded :tada:' });
      expect(hits).toHaveLength(1);
      expect(hits[0]?.url).toBe(SECRET_PATH);
      expect(hits[0]?.headers['content-type']).toBe('application/json');
      expect(JSON.parse(hits[0]?.body ?? '')).toEqual({ text: 'Costs loaded :tada:' });
      expect(r.metadata).toMatchObject({ sent: true, status: 200 });
    });

    it('by default posts the run summary', async () => {
      await runDefaults(slackNotificationProcessor(deps()), { webhook_url: `${base}${SECRET_PATH}` });
      const { text } = JSON.parse(hits[0]?.body ?? '{}') as { text: string };
      expect(text).toContain('Pipeline acme_gcp_cost_billing for acme: FAILED');
      expect(text).toContain(`Run: ${RUN_ID}`);
      expect(text).toContain('- step extract: table acme.billing does not exist');
    });

    it('metadata shows only scheme and host, never the webhook path', async () => {
      const r = await runDefaults(slackNotificationProcessor(deps()), { webhook_url: `${base}${SECRET_PATH}?token=querysecret` });
      expect(r.metadata?.endpoint).toBe(`${base}/…`);
      const recorded = JSON.stringify(r);
      expect(recorded).not.toContain('SECRET');
      expect(recorded).not.toContain('secrettoken');
      expect(recorded).not.toContain('querysecret');
      expect(recorded).not.toContain('/services');
    });

    it('error messages do not carry the webhook path either', async () => {
      for (const [outbound, url] of [
        [new OutboundHttp(['127.0.0.1']), `${base}/status/404${SECRET_PATH}`],
        [new OutboundHttp(['127.0.0.1']), `${base}/status/500${SECRET_PATH}`],
        [new OutboundHttp([]), `${base}${SECRET_PATH}`],
      ] as const) {
        const e = await stepError(runDefaults(slackNotificationProcessor(deps({ outbound })), { webhook_url: url }));
        expect(e.message).not.toContain('secrettoken');
      }
    });

    it('a private webhook URL without allowlist is refused', async () => {
      const e = await stepError(runDefaults(slackNotificationProcessor(deps({ outbound: new OutboundHttp([]) })), { webhook_url: `${base}${SECRET_PATH}` }));
      expect(e.retryable).toBe(false);
      expect(hits).toEqual([]);
    });
  });
});
