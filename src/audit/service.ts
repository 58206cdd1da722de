import { listAudit, recordAudit, type AuditFilter, type AuditInput, type AuditRecord, type CallTurn } from '../db/audit.js';
import { isUniqueViolation } from '../db/constraints.js';
import type { Pool } from '../db/pool.js';
import type { Actor } from './actor.js';
import type { CallAuditEvent } from './events.js';

/**
 * The audit log for the channels' own events (sign-ins, throttling, a call's limits). Changes
 * to users, PINs and rules are audited by their services, inside their own transactions.
 */
export class AuditService {
  constructor(private readonly pool: Pool) {}

  record(input: Omit<AuditInput, 'call'>): Promise<void> {
    return recordAudit(this.pool, input);
  }

  /** A call's note about itself; a retried request finds it written already, which is fine. */
  async recordCallEvent(event: CallAuditEvent, actor: Actor, call: CallTurn): Promise<void> {
    try {
      await recordAudit(this.pool, { event, actor, call });
    } catch (err) {
      if (!isUniqueViolation(err)) throw err;
    }
  }

  list(filter: AuditFilter): Promise<AuditRecord[]> {
    return listAudit(this.pool, filter);
  }
}
