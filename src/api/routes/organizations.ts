import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { EmptyBody, OrgParams, ORG_SECURITY, problemResponses, ROOT_OR_ORG_SECURITY, ROOT_SECURITY } from '../schemas/common.js';
import {
  DryrunResponse,
  OffboardQuery,
  OffboardResponse,
  OnboardingRequest,
  OnboardResponse,
  OrganizationView,
  QuotaResponse,
  RotateResponse,
  SubscriptionChange,
  SubscriptionView,
} from '../schemas/organizations.js';
import { callContext } from '../auth.js';
import type { AppServices } from '../app.js';

const tags = ['organizations'];

export const organizationRoutes =
  (services: AppServices): FastifyPluginAsyncTypebox =>
  async (app) => {
    app.post(
      '/api/v1/organizations/dryrun',
      {
        config: { auth: 'root' },
        schema: {
          tags,
          summary: 'Validate an onboarding request; creates nothing (422 with the failed checks)',
          security: ROOT_SECURITY,
          body: OnboardingRequest,
          response: { 200: DryrunResponse, ...problemResponses(400, 422) },
        },
      },
      async (request) => services.organizations.dryrun(request.body, callContext(request)),
    );

    app.post(
      '/api/v1/organizations/onboard',
      {
        config: { auth: 'root', audit: 'organization.onboard' },
        schema: {
          tags,
          summary: 'Create an organization with its dataset, plan and API key (shown once)',
          security: ROOT_SECURITY,
          body: OnboardingRequest,
          response: { 201: OnboardResponse, ...problemResponses(400, 409, 503) },
        },
      },
      async (request, reply) => reply.code(201).send((await services.organizations.onboard(request.body, callContext(request))) as never),
    );

    app.get(
      '/api/v1/organizations/:org',
      {
        config: { auth: 'root_or_org' },
        schema: { tags, summary: 'Organization profile and plan', security: ROOT_OR_ORG_SECURITY, params: OrgParams, response: { 200: OrganizationView, ...problemResponses(404) } },
      },
      async (request) => services.organizations.get(request.params.org),
    );

    app.put(
      '/api/v1/organizations/:org/subscription',
      {
        config: { auth: 'root', audit: 'subscription.update' },
        schema: {
          tags,
          summary: 'Change plan (limits follow) or subscription status',
          security: ROOT_SECURITY,
          params: OrgParams,
          body: SubscriptionChange,
          response: { 200: SubscriptionView, ...problemResponses(400, 404, 409) },
        },
      },
      async (request) => services.organizations.changeSubscription(request.params.org, request.body),
    );

    app.get(
      '/api/v1/organizations/:org/quota',
      {
        config: { auth: 'org' },
        schema: { tags, summary: 'Runs used against the plan limits', security: ORG_SECURITY, params: OrgParams, response: { 200: QuotaResponse, ...problemResponses(404) } },
      },
      async (request) => services.organizations.quota(request.params.org) as never,
    );

    app.post(
      '/api/v1/organizations/:org/api-keys/rotate',
      {
        config: { auth: 'root_or_org', audit: 'api_key.rotate' },
        schema: {
          tags,
          summary: 'Issue a new API key (shown once) and revoke the previous ones',
          security: ROOT_OR_ORG_SECURITY,
          params: OrgParams,
          body: EmptyBody,
          response: { 201: RotateResponse, ...problemResponses(404, 409) },
        },
      },
      async (request, reply) => reply.code(201).send((await services.apiKeys.rotate(request.params.org, callContext(request).principal)) as never),
    );

    app.delete(
      '/api/v1/organizations/:org',
      {
        config: { auth: 'root', audit: 'organization.offboard' },
        schema: {
          tags,
          summary: 'Offboard: revoke keys, stop schedules, mark deleted (?drop_dataset=true drops its data)',
          security: ROOT_SECURITY,
          params: OrgParams,
          querystring: OffboardQuery,
          response: { 200: OffboardResponse, ...problemResponses(404) },
        },
      },
      async (request) => services.organizations.offboard(request.params.org, { dropDataset: request.query.drop_dataset === true }) as never,
    );
  };
