import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { RunListQuery as RunListQueryInput } from '../../services/run-service.js';
import type { AppServices } from '../app.js';
import { callContext, keyOrg } from '../auth.js';
import { ORG_SECURITY, problemResponses } from '../schemas/common.js';
import {
  BackfillBody,
  BackfillParams,
  BackfillStarted,
  BackfillStatus,
  ConfigBody,
  ConfigDetail,
  ConfigList,
  ConfigParams,
  ConfigSaved,
  PipelineDryrunResponse,
  PipelineList,
  PipelineRouteParams,
  RunDetail,
  RunIdParams,
  RunList,
  RunListQuery,
  RunRequestBody,
  RunView,
  WaitQuery,
} from '../schemas/pipelines.js';

const tags = ['pipelines'];


export const pipelineRoutes =
  (services: AppServices): FastifyPluginAsyncTypebox =>
  async (app) => {
    app.get(
      '/api/v1/pipelines',
      { config: { auth: 'org' }, schema: { tags, summary: 'Pipelines the organization can run, with their parameters', security: ORG_SECURITY, response: { 200: PipelineList, ...problemResponses() } } },
      async (request) => (await services.pipelines.list(keyOrg(request))) as never,
    );

    app.get(
      '/api/v1/pipelines/schema',
      { config: { auth: 'none' }, schema: { tags, summary: 'JSON Schema of the pipeline format (for editors)', response: { 200: Type.Record(Type.String(), Type.Unknown()) } } },
      async () => services.pipelineSchema,
    );

    app.post(
      '/api/v1/pipelines/run/:org/:provider/:domain/:pipeline',
      {
        config: { auth: 'org', audit: 'pipeline.run' },
        schema: {
          tags,
          summary: 'Trigger a run (202 with pipeline_logging_id; ?wait=true answers when it ends)',
          security: ORG_SECURITY,
          params: PipelineRouteParams,
          querystring: WaitQuery,
          body: RunRequestBody,
          response: { 200: RunDetail, 202: Type.Union([RunDetail, RunView]), ...problemResponses(400, 403, 404) },
        },
      },
      async (request, reply) => {
        const { org, provider, domain, pipeline } = request.params;
        const r = await services.runs.trigger(callContext(request), org, { provider, domain, pipeline }, request.body, request.query.wait);
        return reply.code(r.status as 200 | 202).send(r.body as never);
      },
    );

    app.post(
      '/api/v1/pipelines/dryrun/:org/:provider/:domain/:pipeline',
      {
        config: { auth: 'org' },
        schema: {
          tags,
          summary: 'Validate a run without running it: parameters, plan and quotas, each step (422 with the failed checks)',
          security: ORG_SECURITY,
          params: PipelineRouteParams,
          body: RunRequestBody,
          response: { 200: PipelineDryrunResponse, ...problemResponses(400, 404, 422) },
        },
      },
      async (request) => {
        const { org, provider, domain, pipeline } = request.params;
        return (await services.pipelineDryrun.dryrun(org, { provider, domain, pipeline }, request.body)) as never;
      },
    );

    app.post(
      '/api/v1/pipelines/backfill/:org/:provider/:domain/:pipeline',
      {
        config: { auth: 'org', audit: 'pipeline.backfill' },
        schema: {
          tags,
          summary: 'One low-priority queued run per day of a range (all or nothing against the quotas)',
          security: ORG_SECURITY,
          params: PipelineRouteParams,
          body: BackfillBody,
          response: { 202: BackfillStarted, ...problemResponses(400, 403, 404) },
        },
      },
      async (request, reply) => {
        const { org, provider, domain, pipeline } = request.params;
        return reply.code(202).send((await services.backfills.start(callContext(request), org, { provider, domain, pipeline }, request.body)) as never);
      },
    );

    app.get(
      '/api/v1/pipelines/backfill/:backfill_id',
      { config: { auth: 'org' }, schema: { tags, summary: 'Progress of a backfill', security: ORG_SECURITY, params: BackfillParams, response: { 200: BackfillStatus, ...problemResponses(404) } } },
      async (request) => (await services.backfills.status(keyOrg(request), request.params.backfill_id)) as never,
    );

    app.get(
      '/api/v1/pipelines/runs',
      { config: { auth: 'org' }, schema: { tags, summary: 'Runs of the organization, newest first (cursor pagination)', security: ORG_SECURITY, querystring: RunListQuery, response: { 200: RunList, ...problemResponses(400) } } },
      async (request) => (await services.runs.list(keyOrg(request), request.query as RunListQueryInput)) as never,
    );

    app.get(
      '/api/v1/pipelines/runs/:pipeline_logging_id',
      { config: { auth: 'org' }, schema: { tags, summary: 'A run with its steps and data-quality results', security: ORG_SECURITY, params: RunIdParams, response: { 200: RunDetail, ...problemResponses(404) } } },
      async (request) => (await services.runs.get(keyOrg(request), request.params.pipeline_logging_id)) as never,
    );

    app.delete(
      '/api/v1/pipelines/runs/:pipeline_logging_id',
      {
        config: { auth: 'org', audit: 'pipeline.cancel' },
        schema: { tags, summary: 'Cancel a queued or running run (409 if it already finished)', security: ORG_SECURITY, params: RunIdParams, response: { 200: RunDetail, ...problemResponses(404, 409) } },
      },
      async (request) => (await services.runs.cancel(keyOrg(request), request.params.pipeline_logging_id)) as never,
    );

    app.get(
      '/api/v1/pipelines/configs',
      { config: { auth: 'org' }, schema: { tags, summary: "The organization's own pipeline configs", security: ORG_SECURITY, response: { 200: ConfigList, ...problemResponses() } } },
      async (request) => (await services.pipelines.listConfigs(keyOrg(request))) as never,
    );

    app.post(
      '/api/v1/pipelines/configs',
      {
        config: { auth: 'org', audit: 'pipeline_config.save' },
        schema: { tags, summary: 'Store a pipeline config (validated; a new version if it exists)', security: ORG_SECURITY, body: ConfigBody, response: { 201: ConfigSaved, ...problemResponses(400, 413, 422) } },
      },
      async (request, reply) => reply.code(201).send((await services.pipelines.saveConfig(callContext(request), keyOrg(request), request.body.config_id, request.body.yaml)) as never),
    );

    app.get(
      '/api/v1/pipelines/configs/:config_id',
      { config: { auth: 'org' }, schema: { tags, summary: 'A stored pipeline config', security: ORG_SECURITY, params: ConfigParams, response: { 200: ConfigDetail, ...problemResponses(404) } } },
      async (request) => (await services.pipelines.getConfig(keyOrg(request), request.params.config_id)) as never,
    );

    app.delete(
      '/api/v1/pipelines/configs/:config_id',
      {
        config: { auth: 'org', audit: 'pipeline_config.delete' },
        schema: { tags, summary: 'Delete a stored pipeline config', security: ORG_SECURITY, params: ConfigParams, response: { 200: Type.Object({ config_id: Type.String(), deleted: Type.Boolean() }), ...problemResponses(404) } },
      },
      async (request, reply) => {
        await services.pipelines.deleteConfig(keyOrg(request), request.params.config_id);
        return reply.send({ config_id: request.params.config_id, deleted: true });
      },
    );

    app.get('/metrics', { config: { auth: 'none' }, schema: { hide: true } }, async (_request, reply) =>
      reply.header('content-type', services.metrics.contentType).send(await services.metrics.render()),
    );
  };
