import type { Logger } from 'pino';
import type { ControlStore } from '../control-store/control-store.js';
import { errorMessage } from '../core/errors.js';
import { newId } from '../core/ids.js';
import { actorOf, type CallContext } from './principal.js';

export interface AuditEvent {
  readonly action: string;
  readonly orgSlug: string | null;
  readonly resource: string | null;
  readonly statusCode: number;
  readonly details?: Record<string, unknown>;
}

/** Records state-changing calls in org_audit_logs. Never records a key, only who held it. */
export class AuditService {
  constructor(
    private readonly store: ControlStore,
    private readonly logger: Logger,
    private readonly now: () => Date = () => new Date(),
  ) {}

  async record(call: CallContext, event: AuditEvent): Promise<void> {
    try {
      await this.store.audit.append({
        audit_id: newId(),
        org_slug: event.orgSlug,
        actor: actorOf(call.principal),
        user_id: call.userId,
        action: event.action,
        resource: event.resource,
        request_id: call.requestId,
        status: event.statusCode < 400 ? 'SUCCESS' : 'FAILURE',
        status_code: event.statusCode,
        details: event.details ?? null,
        created_at: this.now(),
      });
    } catch (e) {
      // The call itself already happened; losing its audit row must be visible to the operator.
      this.logger.error({ err: errorMessage(e), action: event.action, org_slug: event.orgSlug }, 'audit log write failed');
    }
  }
}
