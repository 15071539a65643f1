import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { AppError } from '../../core/errors.js';
import type { AppServices } from '../app.js';
import { Problem } from '../schemas/common.js';

const Check = Type.Object({ ok: Type.Boolean(), detail: Type.String() });

export const healthRoutes =
  (services: AppServices, info: { version: string; environment: string }): FastifyPluginAsyncTypebox =>
  async (app) => {
    app.get(
      '/health',
      { schema: { tags: ['health'], summary: 'Liveness', response: { 200: Type.Object({ status: Type.String(), version: Type.String(), environment: Type.String() }) } } },
      async () => ({ status: 'ok', version: info.version, environment: info.environment }),
    );
    app.get(
      '/health/ready',
      {
        schema: {
          tags: ['health'],
          summary: 'Readiness: control store and warehouse reachable',
          response: { 200: Type.Object({ status: Type.String(), checks: Type.Record(Type.String(), Check) }), 503: Problem },
        },
      },
      async () => {
        const r = await services.health.readiness();
        if (!r.ready) throw new AppError('NOT_READY', 'a dependency is unreachable', { extensions: { checks: r.checks } });
        return { status: 'ready', checks: r.checks };
      },
    );
  };
