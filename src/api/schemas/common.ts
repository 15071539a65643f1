import { Type } from '@sinclair/typebox';

/** Schemas shared by several routes (OpenAPI components come from these). */
export const Problem = Type.Object(
  {
    type: Type.String(),
    title: Type.String(),
    status: Type.Integer(),
    detail: Type.String(),
    code: Type.String({ description: 'Stable error code; match on this, not on detail.' }),
    request_id: Type.String(),
  },
  { additionalProperties: true, description: 'RFC 9457 problem details' },
);

/** Error answers every authenticated route may give. */
export const problemResponses = (...statuses: number[]): Record<number, typeof Problem> =>
  Object.fromEntries([401, 429, 500, ...statuses].map((s) => [s, Problem]));

/** For POST routes that take no input: any field sent is an error, not silently ignored. */
export const EmptyBody = Type.Object({}, { additionalProperties: false });

export const OrgParams = Type.Object(
  { org: Type.String({ maxLength: 100, description: 'Organization slug' }) },
  { additionalProperties: false },
);

type Security = { [scheme: string]: string[] }[];
export const ROOT_SECURITY: Security = [{ rootKey: [] }];
export const ORG_SECURITY: Security = [{ apiKey: [] }];
export const ROOT_OR_ORG_SECURITY: Security = [{ rootKey: [] }, { apiKey: [] }];
