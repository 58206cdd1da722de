/**
 * Administrators' roles (DESIGN §11): the one table of who may do what. The admin web and the
 * API ask `mayDo` before every action; the CLI is the operator at the machine and acts as `system`.
 */
export const ROLES = ['system', 'helpdesk', 'auditor'] as const;
export type Role = (typeof ROLES)[number];

/** Most privileged first: with several known roles in a claim, the first here wins. */
const PRIVILEGE_ORDER: readonly Role[] = ['system', 'helpdesk', 'auditor'];

/**
 * Every action an administrator or token can take, and the roles besides `system` that may take
 * it. `system` may do everything.
 */
export const ROLE_ACTIONS = {
  /** Find and show users, their PIN status, reports and deliveries; read rules and the audit log. */
  read: ['helpdesk', 'auditor'],
  /** Reset a PIN (§8), unlock, set "must change". */
  'pin.reset': ['helpdesk'],
  'user.unlock': ['helpdesk'],
  'user.must_change': ['helpdesk'],
  /** E-mail, phone and language. */
  'user.edit_contact': ['helpdesk'],
  'user.lock': ['helpdesk'],
  /** "Cannot change" and "does not expire". */
  'user.flags': ['helpdesk'],
  'user.assign_rule': ['helpdesk'],
  'user.reset_web_password': ['helpdesk'],
  'users.export': ['auditor'],
  /** Choose a user's PIN, create, edit names and extensions, delete or import users. */
  'pin.choose': [],
  'user.create': [],
  'user.edit': [],
  'user.delete': [],
  'users.import': [],
  /** Clear "deactivated by the directory" (§11): only SCIM's `active: true` or a system administrator. */
  'user.reactivate': [],
  'rules.change': [],
  'admins.manage': [],
  'tokens.manage': [],
} as const satisfies Record<string, readonly Role[]>;

export type RoleAction = keyof typeof ROLE_ACTIONS;

export function isRole(value: unknown): value is Role {
  return typeof value === 'string' && (ROLES as readonly string[]).includes(value);
}

export function mayDo(role: Role, action: RoleAction): boolean {
  return role === 'system' || (ROLE_ACTIONS[action] as readonly Role[]).includes(role);
}

/** The most privileged known role among `claimed` (a string or an array of strings), or null. */
export function strongestRole(claimed: unknown): Role | null {
  const values = Array.isArray(claimed) ? claimed : [claimed];
  return PRIVILEGE_ORDER.find((role) => values.includes(role)) ?? null;
}

/** The action that changing each field of a user takes: the helpdesk edits only the contact fields. */
const USER_FIELD_ACTIONS = {
  extension: 'user.edit',
  firstName: 'user.edit',
  lastName: 'user.edit',
  responseWait: 'user.edit',
  phone: 'user.edit_contact',
  email: 'user.edit_contact',
  locale: 'user.edit_contact',
  rule: 'user.assign_rule',
} as const satisfies Record<string, RoleAction>;

export type UserField = keyof typeof USER_FIELD_ACTIONS;

/** The action that setting each PIN flag takes. */
export const PIN_FLAG_ACTIONS = {
  lockedByAdmin: 'user.lock',
  cannotChange: 'user.flags',
  doesNotExpire: 'user.flags',
  mustChange: 'user.must_change',
} as const satisfies Record<string, RoleAction>;

/**
 * The actions a change of these fields of a user takes (the fields given, whatever their values);
 * a change that names none still needs the least of them.
 */
export function userChangeActions(fields: readonly string[]): RoleAction[] {
  const actions = fields.flatMap((field) => (field in USER_FIELD_ACTIONS ? [USER_FIELD_ACTIONS[field as UserField]] : []));
  return actions.length > 0 ? [...new Set(actions)] : ['user.edit_contact'];
}
