import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { AppServices } from '../app.js';
import { callContext, keyOrg } from '../auth.js';
import { ORG_SECURITY, problemResponses } from '../schemas/common.js';
import { ScheduleBody, ScheduleList, ScheduleParams, SchedulePatch, ScheduleView } from '../schemas/schedules.js';

const tags = ['scheduler'];


export const scheduleRoutes =
  (services: AppServices): FastifyPluginAsyncTypebox =>
  async (app) => {
    app.post(
      '/api/v1/scheduler/configs',
      {
        config: { auth: 'org', audit: 'schedule.create' },
        schema: { tags, summary: 'Schedule a pipeline with a cron expression', security: ORG_SECURITY, body: ScheduleBody, response: { 201: ScheduleView, ...problemResponses(400, 404) } },
      },
      async (request, reply) => reply.code(201).send((await services.schedules.create(callContext(request), keyOrg(request), request.body)) as never),
    );

    app.get(
      '/api/v1/scheduler/configs',
      { config: { auth: 'org' }, schema: { tags, summary: "The organization's schedules", security: ORG_SECURITY, response: { 200: ScheduleList, ...problemResponses() } } },
      async (request) => (await services.schedules.list(keyOrg(request))) as never,
    );

    app.get(
      '/api/v1/scheduler/configs/:schedule_id',
      { config: { auth: 'org' }, schema: { tags, summary: 'A schedule', security: ORG_SECURITY, params: ScheduleParams, response: { 200: ScheduleView, ...problemResponses(404) } } },
      async (request) => (await services.schedules.get(keyOrg(request), request.params.schedule_id)) as never,
    );

    app.put(
      '/api/v1/scheduler/configs/:schedule_id',
      {
        config: { auth: 'org', audit: 'schedule.update' },
        schema: { tags, summary: 'Change a schedule (fields given replace the stored ones)', security: ORG_SECURITY, params: ScheduleParams, body: SchedulePatch, response: { 200: ScheduleView, ...problemResponses(400, 404) } },
      },
      async (request) => (await services.schedules.update(keyOrg(request), request.params.schedule_id, request.body)) as never,
    );

    app.delete(
      '/api/v1/scheduler/configs/:schedule_id',
      {
        config: { auth: 'org', audit: 'schedule.delete' },
        schema: { tags, summary: 'Delete a schedule', security: ORG_SECURITY, params: ScheduleParams, response: { 200: Type.Object({ schedule_id: Type.String(), deleted: Type.Boolean() }), ...problemResponses(404) } },
      },
      async (request) => {
        await services.schedules.delete(keyOrg(request), request.params.schedule_id);
        return { schedule_id: request.params.schedule_id, deleted: true };
      },
    );
  };
