import { describe, expect, it } from 'vitest';
import { mayDo, ROLE_ACTIONS, ROLES, strongestRole, type Role, type RoleAction } from '../../src/accounts/roles.js';

// DESIGN §11's table, written out here by hand: what the helpdesk and the auditor may do. `system`
// may do everything.
const HELPDESK: readonly RoleAction[] = [
  'read',
  'pin.reset',
  'user.unlock',
  'user.must_change',
  'user.edit_contact',
  'user.lock',
  'user.flags',
  'user.assign_rule',
  'user.reset_web_password',
];
const AUDITOR: readonly RoleAction[] = ['read', 'users.export'];

describe('the roles table (DESIGN §11)', () => {
  it('when each role is asked about each action, then system may do all, helpdesk and auditor only their rows', () => {
    const allowed: Record<Role, readonly RoleAction[]> = { system: Object.keys(ROLE_ACTIONS) as RoleAction[], helpdesk: HELPDESK, auditor: AUDITOR };
    for (const role of ROLES) {
      for (const action of Object.keys(ROLE_ACTIONS) as RoleAction[]) {
        expect(mayDo(role, action), `${role} ${action}`).toBe(allowed[role].includes(action));
      }
    }
  });

  it('when a claim names roles, then the most privileged known one wins, and none known is null', () => {
    expect(strongestRole('helpdesk')).toBe('helpdesk');
    expect(strongestRole(['auditor', 'system', 'owner'])).toBe('system');
    expect(strongestRole(['owner'])).toBeNull();
    expect(strongestRole(undefined)).toBeNull();
  });
});
