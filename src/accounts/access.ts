import type { Actor } from '../audit/actor.js';
import type { AuditService } from '../audit/service.js';
import { ForbiddenError } from '../errors.js';
import { mayDo, type Role, type RoleAction } from './roles.js';

/** Who asks: the role they act with, and the actor the audit log names them by. */
export interface Principal {
  role: Role;
  actor: Actor;
}

/**
 * The one check of DESIGN §11, for the admin web and the API alike: every action the request
 * takes must be one the role may take. A refusal is audited as `access.denied` (the first action
 * refused, the role, and where) and thrown as a ForbiddenError, which each channel answers as 403.
 */
export async function authorize(audit: AuditService, principal: Principal, actions: readonly RoleAction[], where: string): Promise<void> {
  const refused = actions.find((action) => !mayDo(principal.role, action));
  if (refused === undefined) return;
  await audit.record({ event: 'access.denied', actor: principal.actor, details: { action: refused, role: principal.role, where } });
  throw new ForbiddenError(refused, principal.role);
}
