import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { AppError, ERROR_CATALOGUE, type ErrorCode } from '../core/errors.js';

/**
 * RFC 9457 problem details, the one shape of every error answer:
 * `{type, title, status, detail, code, request_id, ...extensions}` as application/problem+json.
 * Everything thrown ends here: AppError keeps its code; Fastify's own errors (body parsing,
 * validation, size) get catalogue codes; anything else is a 500 whose body reveals nothing.
 */
export const PROBLEM_CONTENT_TYPE = 'application/problem+json; charset=utf-8';
const TYPE_BASE = 'https://convergence.dev/problems/';

export function problemBody(code: ErrorCode, detail: string, requestId: string, extensions: Readonly<Record<string, unknown>> = {}): Record<string, unknown> {
  const { status, title } = ERROR_CATALOGUE[code];
  return {
    ...extensions,
    type: `${TYPE_BASE}${code.toLowerCase().replace(/_/g, '-')}`,
    title,
    status,
    detail,
    code,
    request_id: requestId,
  };
}

export function sendProblem(reply: FastifyReply, error: AppError, requestId: string): FastifyReply {
  if (error.retryAfter !== undefined) void reply.header('Retry-After', String(Math.max(1, Math.ceil(error.retryAfter))));
  return reply
    .code(error.status)
    .type(PROBLEM_CONTENT_TYPE)
    .send(problemBody(error.code, error.message, requestId, error.extensions));
}

/** Maps any thrown value to an AppError; unknown errors become INTERNAL (and are logged by the caller). */
export function toAppError(error: unknown): { appError: AppError; unexpected: boolean } {
  if (error instanceof AppError) return { appError: error, unexpected: false };
  const fe = error as Partial<FastifyError> & { validation?: unknown[]; validationContext?: string };
  if (Array.isArray(fe.validation)) {
    const problems = fe.validation.map((v) => describeValidation(v as ValidationIssue, fe.validationContext ?? 'body'));
    return {
      appError: new AppError('VALIDATION_FAILED', problems.join('; '), { extensions: { errors: problems } }),
      unexpected: false,
    };
  }
  switch (fe.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return { appError: new AppError('PAYLOAD_TOO_LARGE', 'the request body exceeds the size limit'), unexpected: false };
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return { appError: new AppError('UNSUPPORTED_MEDIA_TYPE', 'send the body as application/json'), unexpected: false };
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return { appError: new AppError('MALFORMED_JSON', 'Content-Type is application/json but the body is empty'), unexpected: false };
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return { appError: new AppError('VALIDATION_FAILED', 'Content-Length does not match the body'), unexpected: false };
    default:
      break;
  }
  if (fe.statusCode === 400 && (error instanceof SyntaxError || fe.code === 'FST_ERR_CTP_INVALID_JSON_BODY' || /JSON|prototype/i.test(fe.message ?? ''))) {
    return { appError: new AppError('MALFORMED_JSON', `the body is not valid JSON: ${fe.message ?? ''}`.trim()), unexpected: false };
  }
  if (typeof fe.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500) {
    return { appError: new AppError('VALIDATION_FAILED', fe.message ?? 'bad request'), unexpected: false };
  }
  return { appError: new AppError('INTERNAL', 'an unexpected error occurred; quote the request_id when reporting it'), unexpected: true };
}

interface ValidationIssue {
  instancePath?: string;
  message?: string;
  keyword?: string;
  params?: Record<string, unknown>;
}

function describeValidation(v: ValidationIssue, context: string): string {
  const at = `${context}${(v.instancePath ?? '').replace(/\//g, '.')}`;
  if (v.keyword === 'additionalProperties') return `${at}: unknown field "${String(v.params?.additionalProperty)}"`;
  if (v.keyword === 'required') return `${at}: missing required field "${String(v.params?.missingProperty)}"`;
  return `${at} ${v.message ?? 'is invalid'}`;
}

export function notFoundHandler(request: FastifyRequest, reply: FastifyReply): FastifyReply {
  return sendProblem(reply, new AppError('NOT_FOUND', `no route ${request.method} ${request.url.split('?')[0] ?? ''}`), request.id);
}
