import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { callContext } from '../auth.js';
import type { AppServices } from '../app.js';
import { EmptyBody, OrgParams, problemResponses, ROOT_SECURITY } from '../schemas/common.js';

const tags = ['admin'];

const BootstrapRequest = Type.Object(
  {
    force_recreate_dataset: Type.Optional(Type.Boolean({ default: false, description: 'Drop the central dataset (all organizations!) and recreate it.' })),
    force_recreate_tables: Type.Optional(Type.Boolean({ default: false, description: 'Drop and recreate every central table.' })),
  },
  { additionalProperties: false },
);

const BootstrapResponse = Type.Object({
  status: Type.String(),
  dataset: Type.String(),
  dataset_created: Type.Boolean(),
  dataset_recreated: Type.Boolean(),
  tables_created: Type.Array(Type.String()),
  tables_existing: Type.Array(Type.String()),
  tables_recreated: Type.Array(Type.String()),
  columns_added: Type.Record(Type.String(), Type.Array(Type.String())),
  type_mismatches: Type.Record(Type.String(), Type.Array(Type.Object({ column: Type.String(), expected: Type.String(), actual: Type.String() }))),
  total_tables: Type.Integer(),
  message: Type.String(),
  pipeline_logging_id: Type.String(),
});

const KeyHashParams = Type.Object({ api_key_hash: Type.String({ maxLength: 128 }) }, { additionalProperties: false });

export const adminRoutes =
  (services: AppServices): FastifyPluginAsyncTypebox =>
  async (app) => {
    app.post(
      '/api/v1/admin/bootstrap',
      {
        config: { auth: 'root', audit: 'platform.bootstrap' },
        schema: {
          tags,
          summary: 'Create or upgrade the central dataset and tables (idempotent)',
          security: ROOT_SECURITY,
          body: BootstrapRequest,
          response: { 200: BootstrapResponse, ...problemResponses(400, 503) },
        },
      },
      async (request) => services.bootstrap.bootstrap(request.body, callContext(request)) as never,
    );

    app.delete(
      '/api/v1/admin/api-keys/:api_key_hash',
      {
        config: { auth: 'root', audit: 'api_key.revoke' },
        schema: {
          tags,
          summary: 'Revoke an API key by its SHA-256',
          security: ROOT_SECURITY,
          params: KeyHashParams,
          response: {
            200: Type.Object({ api_key_hash: Type.String(), api_key_id: Type.String(), org_slug: Type.String(), fingerprint: Type.String(), revoked_at: Type.String() }),
            ...problemResponses(400, 404, 409),
          },
        },
      },
      async (request) => services.apiKeys.revokeByHash(request.params.api_key_hash) as never,
    );

    app.post(
      '/api/v1/admin/organizations/:org/purge',
      {
        config: { auth: 'root', audit: 'organization.purge' },
        schema: {
          tags,
          summary: 'Remove every row and the dataset of a deleted organization, freeing its slug',
          security: ROOT_SECURITY,
          params: OrgParams,
          body: EmptyBody,
          response: { 200: Type.Object({ org_slug: Type.String(), purged: Type.Boolean(), dataset_dropped: Type.Boolean() }), ...problemResponses(404, 409) },
        },
      },
      async (request) => services.organizations.purge(request.params.org) as never,
    );
  };
