/**
 * Every audit event pinline writes (DESIGN §3 "Audit"). The names are a closed set: a typo is a
 * compile error, the admin filter lists them, and the database CHECK keeps their shape.
 */
export const AUDIT_EVENTS = [
  // phone and every channel's PIN checks
  'signin.succeeded',
  'signin.failed',
  'signin.refused_locked',
  'signin.temp_expired', // the right PIN, but a reset or generated one past its lifetime
  'call.signin_limit',
  'call.no_input_limit',
  'call.pin_entry_limit',
  // the PIN credential
  'pin.set', // a new user's first PIN
  'pin.changed',
  'pin.reset', // the helpdesk's reset: a random PIN sent to the user
  'pin.locked',
  'pin.locked_out',
  'pin.locked_inactive', // the first sign-in refused for inactivity (DESIGN §9)
  'pin.unlocked',
  'pin.flags_changed',
  // users and rules
  'user.created',
  'user.updated',
  'user.deleted',
  'user.deactivated', // SCIM's active: false (DESIGN §11)
  'user.reactivated',
  'user.imported', // one summary row per bulk import, beside each changed user's own rows
  'rule.created',
  'rule.updated',
  'rule.deleted',
  // administrators and the admin web
  'admin.created',
  'admin.password_changed',
  'admin.signin_succeeded',
  'admin.signin_failed',
  'admin.signin_refused',
  'admin.signin_throttled',
  'admin.signed_out',
  'admin.role_changed',
  'admin.removed',
  // administrators' roles: an action the role may not take (DESIGN §11)
  'access.denied',
  // self-service web
  'web.signin_succeeded',
  'web.signin_failed',
  'web.signin_refused',
  'web.signin_throttled',
  'web.signed_out',
  'web.password_check_failed',
  'web.password_check_throttled',
  'web_password.changed',
  // REST API
  'api.auth_failed',
  'api_token.created',
  'api_token.revoked',
] as const;

export type AuditEventName = (typeof AUDIT_EVENTS)[number];

/** The events a call writes about itself when it ends at a limit (the dialog's own audit effects). */
export type CallAuditEvent = Extract<AuditEventName, `call.${string}`>;
