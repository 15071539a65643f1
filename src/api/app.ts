import { randomUUID } from 'node:crypto';
import cors from '@fastify/cors';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Ajv, type Options as AjvOptions } from 'ajv';
import addFormats from 'ajv-formats';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { isOrgSlug } from '../core/org-slug.js';
import type { ApiKeyService } from '../services/api-key-service.js';
import type { AuditService } from '../services/audit-service.js';
import type { AuthService } from '../services/auth-service.js';
import type { BootstrapService } from '../services/bootstrap-service.js';
import type { HealthService } from '../services/health-service.js';
import type { Metrics } from '../observability/metrics.js';
import type { OrganizationService } from '../services/organization-service.js';
import type { BackfillService } from '../services/backfill-service.js';
import type { PipelineDryrun } from '../services/pipeline-dryrun.js';
import type { PipelineService } from '../services/pipeline-service.js';
import type { RunService } from '../services/run-service.js';
import type { ScheduleService } from '../services/schedule-service.js';
import { callContext, registerAuth } from './auth.js';
import { notFoundHandler, sendProblem, toAppError } from './problem.js';
import { registerRateLimit } from './rate-limit.js';
import { adminRoutes } from './routes/admin.js';
import { healthRoutes } from './routes/health.js';
import { organizationRoutes } from './routes/organizations.js';
import { pipelineRoutes } from './routes/pipelines.js';
import type { IntegrationService } from '../services/integration-service.js';
import type { PricingService } from '../services/pricing-service.js';
import { scheduleRoutes } from './routes/schedules.js';
import { integrationRoutes } from './routes/integrations.js';

export interface AppServices {
  readonly auth: AuthService;
  readonly audit: AuditService;
  readonly bootstrap: BootstrapService;
  readonly organizations: OrganizationService;
  readonly apiKeys: ApiKeyService;
  readonly health: HealthService;
  readonly runs: RunService;
  readonly pipelines: PipelineService;
  readonly pipelineDryrun: PipelineDryrun;
  readonly schedules: ScheduleService;
  readonly backfills: BackfillService;
  readonly integrations: IntegrationService;
  readonly pricing: PricingService;
  readonly metrics: Metrics;
  /** JSON Schema of the pipeline format. */
  readonly pipelineSchema: Readonly<Record<string, unknown>>;
}

export interface AppOptions {
  readonly logger: Logger;
  readonly version: string;
  readonly environment: string;
  readonly enableApiDocs: boolean;
  readonly corsOrigins: readonly string[];
  readonly bodyLimitBytes: number;
  readonly rateLimitPerKey: number;
  readonly rateLimitPerAddress: number;
}

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,64}$/;

/** Builds the HTTP app; listening is the caller's business (tests use `inject`). */
export async function buildApp(services: AppServices, opts: AppOptions): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: opts.logger as FastifyBaseLogger,
    bodyLimit: opts.bodyLimitBytes,
    // A caller's X-Request-ID is kept when it is sane, so logs join up across services.
    genReqId: (req) => {
      const given = req.headers['x-request-id'];
      return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
    },
    logController: new LogController({ requestIdLogLabel: 'request_id' }),
    onProtoPoisoning: 'error',
    onConstructorPoisoning: 'error',
    return503OnClosing: true,
    // Errors raised before routing (malformed URL, over-long parameter) get the problem shape too.
    frameworkErrors: (error, request, reply) => {
      void reply.header('x-request-id', request.id);
      return sendProblem(reply, toAppError(error).appError, request.id);
    },
  }).withTypeProvider<TypeBoxTypeProvider>();

  // Bodies are validated strictly (wrong types and unknown fields are errors); query strings and
  // path parameters arrive as text, so they may be coerced to the declared type.
  const strict = validator({ coerceTypes: false });
  const coercing = validator({ coerceTypes: true });
  app.setValidatorCompiler(({ schema, httpPart }) => (httpPart === 'body' ? strict : coercing).compile(schema));

  // The API speaks JSON only; any other body type is refused with 415 instead of parsed as text.
  app.removeContentTypeParser('text/plain');

  app.setErrorHandler((error, request, reply) => {
    const { appError, unexpected } = toAppError(error);
    if (unexpected) request.log.error({ err: error }, 'unhandled error');
    return sendProblem(reply, appError, request.id);
  });
  app.setNotFoundHandler(notFoundHandler);
  app.addHook('onRequest', async (request, reply) => {
    void reply.header('x-request-id', request.id);
  });
  // A route with a body schema called without a body gets `{}`: its schema then names what is missing.
  app.addHook('preValidation', async (request) => {
    if (request.body === undefined && request.routeOptions.schema?.body !== undefined) request.body = {};
  });

  if (opts.corsOrigins.length > 0) {
    await app.register(cors, {
      origin: [...opts.corsOrigins],
      allowedHeaders: ['content-type', 'x-api-key', 'x-ca-root-key', 'x-user-id', 'x-request-id'],
      exposedHeaders: ['x-request-id', 'retry-after'],
      methods: ['GET', 'POST', 'PUT', 'DELETE'],
    });
  }
  await registerRateLimit(app, { perKey: opts.rateLimitPerKey, perAddress: opts.rateLimitPerAddress });
  registerAuth(app, services.auth);
  registerAudit(app, services.audit);

  if (opts.enableApiDocs) {
    await app.register(swagger, {
      openapi: {
        info: { title: 'Convergence API', version: opts.version, description: 'Multi-tenant cost data pipelines' },
        components: {
          securitySchemes: {
            rootKey: { type: 'apiKey', in: 'header', name: 'X-CA-Root-Key' },
            apiKey: { type: 'apiKey', in: 'header', name: 'X-API-Key' },
          },
        },
      },
    });
    await app.register(swaggerUi, { routePrefix: '/docs' });
  }

  await app.register(healthRoutes(services, { version: opts.version, environment: opts.environment }));
  await app.register(adminRoutes(services));
  await app.register(organizationRoutes(services));
  await app.register(pipelineRoutes(services));
  await app.register(scheduleRoutes(services));
  await app.register(integrationRoutes(services));
  app.addHook('onResponse', async (request, reply) => {
    // The route pattern, never the raw URL: label values stay a bounded set.
    services.metrics.httpObserved(request.method, request.routeOptions.url ?? 'unmatched', reply.statusCode, reply.elapsedTime / 1000);
  });
  return app;
}

function validator(extra: AjvOptions): Ajv {
  const ajv = new Ajv({ removeAdditional: false, useDefaults: true, allErrors: false, strict: false, ...extra });
  addFormats.default(ajv);
  return ajv;
}

/** State-changing routes declare `config.audit`; the entry is written before the answer leaves. */
function registerAudit(app: FastifyInstance, audit: AuditService): void {
  app.addHook('onSend', async (request, reply, payload) => {
    const action = request.routeOptions.config.audit;
    if (action === undefined || request.principal === null) return payload;
    const params = request.params as { org?: string } | undefined;
    const bodySlug = (request.body as { org_slug?: unknown } | undefined)?.org_slug;
    // An org key acts for its own org (also when it knocked on another's door); root acts on the target.
    const orgSlug =
      request.principal.kind === 'org' ? request.principal.orgSlug : (params?.org ?? (typeof bodySlug === 'string' && isOrgSlug(bodySlug) ? bodySlug : null));
    await audit.record(callContext(request), {
      action,
      orgSlug: orgSlug !== null && isOrgSlug(orgSlug) ? orgSlug : null,
      resource: request.url.split('?')[0] ?? request.url,
      statusCode: reply.statusCode,
    });
    return payload;
  });
}
