/** Who is calling: the operator (root key) or an organization (its API key). */
export type Principal =
  | { readonly kind: 'root' }
  | { readonly kind: 'org'; readonly orgSlug: string; readonly apiKeyId: string; readonly fingerprint: string };

/** Per-request facts services record (audit, run logs). */
export interface CallContext {
  readonly principal: Principal;
  readonly userId: string | null;
  readonly requestId: string | null;
}

/** How a principal appears in audit logs and run logs: never the key itself. */
export const actorOf = (p: Principal): string => (p.kind === 'root' ? 'root' : `org_key:${p.apiKeyId}`);
