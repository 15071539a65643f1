import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { PriceOverrides } from '../../pricing/price-table.js';
import type { AppServices } from '../app.js';
import { callContext } from '../auth.js';
import { OrgParams, ORG_SECURITY, problemResponses } from '../schemas/common.js';
import { IntegrationList, IntegrationView, PriceList, ProviderParams, SetupBody } from '../schemas/integrations.js';

const tags = ['integrations'];

/** Provider credentials of an org (stored encrypted, never returned) and the model prices it estimates with. */
export const integrationRoutes =
  (services: AppServices): FastifyPluginAsyncTypebox =>
  async (app) => {
    app.post(
      '/api/v1/integrations/:org/:provider/setup',
      {
        config: { auth: 'org', audit: 'integration.setup' },
        schema: {
          tags,
          summary: 'Validate a provider credential with the provider, then store it encrypted',
          security: ORG_SECURITY,
          params: ProviderParams,
          body: SetupBody,
          response: { 201: IntegrationView, ...problemResponses(400, 404, 422, 503) },
        },
      },
      async (request, reply) => {
        const { org, provider } = request.params;
        const view = await services.integrations.setup(callContext(request), org, provider, request.body, abortOnClose(request.raw));
        return reply.code(201).send(view as never);
      },
    );

    app.post(
      '/api/v1/integrations/:org/:provider/validate',
      {
        config: { auth: 'org', audit: 'integration.validate' },
        schema: { tags, summary: 'Validate the stored credential with the provider again', security: ORG_SECURITY, params: ProviderParams, response: { 200: IntegrationView, ...problemResponses(404, 503) } },
      },
      async (request) => (await services.integrations.revalidate(request.params.org, request.params.provider, abortOnClose(request.raw))) as never,
    );

    app.get(
      '/api/v1/integrations/:org',
      { config: { auth: 'org' }, schema: { tags, summary: "The organization's integrations and their validation status", security: ORG_SECURITY, params: OrgParams, response: { 200: IntegrationList, ...problemResponses(404) } } },
      async (request) => ({ org_slug: request.params.org, integrations: await services.integrations.list(request.params.org) }) as never,
    );

    app.get(
      '/api/v1/integrations/:org/:provider',
      { config: { auth: 'org' }, schema: { tags, summary: 'One integration (never the secret)', security: ORG_SECURITY, params: ProviderParams, response: { 200: IntegrationView, ...problemResponses(404) } } },
      async (request) => (await services.integrations.get(request.params.org, request.params.provider)) as never,
    );

    app.delete(
      '/api/v1/integrations/:org/:provider',
      {
        config: { auth: 'org', audit: 'integration.delete' },
        schema: { tags, summary: 'Remove a credential', security: ORG_SECURITY, params: ProviderParams, response: { 200: Type.Object({ provider: Type.String(), deleted: Type.Boolean() }), ...problemResponses(404) } },
      },
      async (request) => {
        await services.integrations.remove(callContext(request), request.params.org, request.params.provider);
        return { provider: request.params.provider, deleted: true };
      },
    );

    app.get(
      '/api/v1/integrations/:org/:provider/pricing',
      { config: { auth: 'org' }, schema: { tags, summary: 'Model prices used for cost estimates (org overrides first, then defaults)', security: ORG_SECURITY, params: ProviderParams, response: { 200: PriceList, ...problemResponses(404) } } },
      async (request) => (await services.pricing.get(request.params.org, request.params.provider)) as never,
    );

    app.put(
      '/api/v1/integrations/:org/:provider/pricing',
      {
        config: { auth: 'org', audit: 'integration.pricing' },
        schema: { tags, summary: "Replace the organization's price overrides for a provider", security: ORG_SECURITY, params: ProviderParams, body: PriceOverrides, response: { 200: PriceList, ...problemResponses(400, 404) } },
      },
      async (request) => (await services.pricing.put(request.params.org, request.params.provider, request.body)) as never,
    );
  };

/** Provider calls made for a request stop when its client goes away. */
function abortOnClose(raw: { once(event: 'close', fn: () => void): unknown; readableEnded?: boolean }): AbortSignal {
  const controller = new AbortController();
  raw.once('close', () => {
    if (raw.readableEnded !== true) controller.abort();
  });
  return controller.signal;
}
