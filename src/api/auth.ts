import type { FastifyInstance, FastifyRequest } from 'fastify';
import { AppError, assertNever } from '../core/errors.js';
import type { AuthService } from '../services/auth-service.js';
import { orgNotFound } from '../services/organization-service.js';
import type { CallContext, Principal } from '../services/principal.js';

/**
 * Authentication is declared per route (`config.auth`) and enforced by one onRequest hook, before
 * the body is read. Org-scoped routes (`:org` in the path) answer a key of another org exactly as
 * they answer an org that does not exist.
 */
export const AUTH_MODES = ['none', 'root', 'org', 'root_or_org'] as const;
export type AuthMode = (typeof AUTH_MODES)[number];

export const ROOT_KEY_HEADER = 'x-ca-root-key';
export const API_KEY_HEADER = 'x-api-key';
export const USER_ID_HEADER = 'x-user-id';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Who may call the route. (Default: none) */
    auth?: AuthMode;
    /** Audit action recorded for the call, e.g. organization.onboard; absent: not audited. */
    audit?: string;
  }
  interface FastifyRequest {
    principal: Principal | null;
    userId: string | null;
  }
}

// eslint-disable-next-line no-control-regex
const CONTROL_CHARS = /[\u0000-\u001f\u007f]/;

export function registerAuth(app: FastifyInstance, auth: AuthService): void {
  app.decorateRequest('principal', null);
  app.decorateRequest('userId', null);

  app.addHook('onRequest', async (request) => {
    request.userId = readUserId(request);
    const mode = request.routeOptions.config.auth ?? 'none';
    if (mode === 'none') return;
    const principal = await authenticate(request, mode, auth);
    request.principal = principal;
    const org = (request.params as { org?: unknown } | undefined)?.org;
    if (principal.kind === 'org' && typeof org === 'string' && org !== principal.orgSlug) throw orgNotFound(org);
  });
}

async function authenticate(request: FastifyRequest, mode: Exclude<AuthMode, 'none'>, auth: AuthService): Promise<Principal> {
  const root = header(request, ROOT_KEY_HEADER);
  const apiKey = header(request, API_KEY_HEADER);
  switch (mode) {
    case 'root':
      auth.verifyRoot(root);
      return { kind: 'root' };
    case 'org':
      if (apiKey === undefined && root !== undefined) {
        throw new AppError('API_KEY_REQUIRED', 'this route takes an organization API key in X-API-Key, not the root key');
      }
      return auth.authenticateOrgKey(apiKey);
    case 'root_or_org':
      if (root !== undefined) {
        auth.verifyRoot(root);
        return { kind: 'root' };
      }
      if (apiKey === undefined) throw new AppError('API_KEY_REQUIRED', 'send an organization API key in X-API-Key or the root key in X-CA-Root-Key');
      return auth.authenticateOrgKey(apiKey);
    default:
      return assertNever(mode, 'auth mode');
  }
}

function header(request: FastifyRequest, name: string): string | undefined {
  const v = request.headers[name];
  return typeof v === 'string' ? v : undefined;
}

function readUserId(request: FastifyRequest): string | null {
  const v = request.headers[USER_ID_HEADER];
  if (v === undefined) return null;
  if (typeof v !== 'string' || v.length === 0 || v.length > 255 || CONTROL_CHARS.test(v)) {
    throw new AppError('VALIDATION_FAILED', 'X-User-ID must be 1–255 characters without control characters');
  }
  return v;
}

export function callContext(request: FastifyRequest): CallContext {
  if (request.principal === null) throw new Error('route has no authenticated principal');
  return { principal: request.principal, userId: request.userId, requestId: request.id };
}

/** The org of the presented key, for org routes whose path has no {org}. */
export function keyOrg(request: FastifyRequest): string {
  const p = request.principal;
  if (p?.kind !== 'org') throw new AppError('API_KEY_REQUIRED', 'an organization API key is required');
  return p.orgSlug;
}
