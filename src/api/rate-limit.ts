import rateLimit from '@fastify/rate-limit';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { AppError } from '../core/errors.js';
import { sha256Hex } from '../crypto/api-keys.js';
import { API_KEY_HEADER, ROOT_KEY_HEADER } from './auth.js';

/**
 * Two fixed-window limits per minute, both enforced on every route but the health checks:
 * one per client address (whatever it presents, so spraying random keys does not help), one per
 * presented key (so one tenant behind a shared NAT cannot starve another). Keys are counted by
 * digest; the raw key is never a map key.
 */
export interface RateLimitOptions {
  readonly perKey: number;
  readonly perAddress: number;
}

const EXEMPT = new Set(['/health', '/health/ready']);

export async function registerRateLimit(app: FastifyInstance, opts: RateLimitOptions): Promise<void> {
  await app.register(rateLimit, { global: false });
  const byAddress = app.createRateLimit({ max: opts.perAddress, timeWindow: 60_000, keyGenerator: (req) => `ip:${req.ip}` });
  const byKey = app.createRateLimit({ max: opts.perKey, timeWindow: 60_000, keyGenerator: keyOf });

  app.addHook('onRequest', async (request, reply) => {
    if (EXEMPT.has(request.routeOptions.url ?? '')) return;
    const checks = [await byAddress(request)];
    if (presentedKey(request) !== undefined) checks.push(await byKey(request));
    for (const c of checks) {
      if (!c.isAllowed && c.isExceeded) {
        throw new AppError('RATE_LIMITED', `more than ${c.max} requests per minute; retry after ${c.ttlInSeconds} s`, { retryAfter: c.ttlInSeconds });
      }
    }
    const last = checks[checks.length - 1];
    if (last !== undefined && !last.isAllowed) {
      void reply.header('x-ratelimit-limit', last.max).header('x-ratelimit-remaining', last.remaining);
    }
  });
}

function presentedKey(request: FastifyRequest): string | undefined {
  const v = request.headers[API_KEY_HEADER] ?? request.headers[ROOT_KEY_HEADER];
  return typeof v === 'string' && v !== '' ? v : undefined;
}

const keyOf = (request: FastifyRequest): string => `key:${sha256Hex(presentedKey(request) ?? '')}`;
