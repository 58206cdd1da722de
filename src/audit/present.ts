import type { Phrase } from '../accounts/present.js';
import { formatRuleValue, RULE_FIELDS } from '../pin/rules.js';
import type { AuditEventName } from './events.js';

// An audit event's details in words, for people reading the log on the admin pages. The rows keep
// the details as data (JSON, for the events webhook and for queries); this is the one place that
// says what each means. An event without its own presenter, or a field nobody named yet, still
// reads as "name: value".

type Details = Readonly<Record<string, unknown>>;
/** One thing an event's details say: words, or words and times. */
type Item = string | Phrase;

const REASONS: Readonly<Record<string, string>> = {
  wrong_pin: 'wrong PIN',
  unknown_id: 'no user has that ID',
  invalid_token: 'a token that is not valid',
  no_token: 'no token',
  // single sign-on (DESIGN §11)
  no_role: 'no known role in the identity provider\'s claim',
  no_name: 'no usable name from the identity provider',
  name_taken: 'another administrator has that name',
  provider_refused: 'the identity provider did not sign them in',
  invalid_response: 'the identity provider\'s answer did not verify',
  no_pending_signin: 'a sign-in not started from that browser',
};

/** How an administrator signed in: through the organisation's identity provider, or (unsaid) a password. */
const viaProvider = (d: Details): Item[] => (d.method === 'oidc' ? ['through the identity provider'] : []);

const CHANGE_KINDS: Readonly<Record<string, string>> = {
  enrollment: 'chosen at enrollment',
  forced: 'changed by the user when it had to be',
  voluntary: 'changed by the user',
  administrative: 'set by an administrator',
  reset: 'reset by the helpdesk',
};

const LOCKOUTS: Readonly<Record<string, string>> = {
  admin: 'locked by an administrator',
  intruder: 'locked by intruder detection',
  inactive: 'locked for inactivity',
};

const CHANNELS: Readonly<Record<string, string>> = { sms: 'text message', email: 'e-mail' };

/** The PIN flags by the names of the Password Settings page. */
const FLAG_LABELS: Readonly<Record<string, string>> = {
  lockedByAdmin: 'Locked by Administrator',
  cannotChange: 'User Cannot Change',
  mustChange: 'User Must Change at Next Sign-In',
  doesNotExpire: 'Does Not Expire',
  enrollmentPending: 'Enrollment Pending',
};

const USER_FIELD_LABELS: Readonly<Record<string, string>> = {
  extension: 'extension',
  firstName: 'first name',
  lastName: 'last name',
  phone: 'phone',
  email: 'e-mail',
  locale: 'language',
  rule: 'rule',
  responseWait: 'response wait (s)',
};

const count = (n: unknown, one: string, many: string): string => (n === 1 ? `1 ${one}` : `${String(n)} ${many}`);
const time = (value: unknown): string | Date => (typeof value === 'string' && !Number.isNaN(Date.parse(value)) ? new Date(value) : String(value));
const from = (d: Details): Item[] => (typeof d.ip === 'string' ? [`from ${d.ip}`] : []);
const reason = (d: Details): Item[] => (typeof d.reason === 'string' ? [REASONS[d.reason] ?? d.reason.replace(/_/g, ' ')] : []);

function flagsPhrase(flags: unknown): Item[] {
  if (typeof flags !== 'object' || flags === null) return [];
  return Object.entries(flags).map(([key, on]) => `${FLAG_LABELS[key] ?? key} ${on === true ? 'on' : 'off'}`);
}

function ruleChanges(changes: unknown): Item[] {
  if (typeof changes !== 'object' || changes === null) return [];
  return Object.entries(changes).map(([key, value]) => {
    const field = RULE_FIELDS.find((f) => f.key === key);
    return field ? `${field.label}: ${formatRuleValue(field, value as number | boolean | null)}` : `${key}: ${String(value)}`;
  });
}

/** A field nobody gave words to: "some key: value". */
function genericPart(key: string, value: unknown): Item {
  const name = key.replace(/([a-z])([A-Z])/g, '$1 $2').replace(/_/g, ' ').toLowerCase();
  if (value === true) return name;
  if (typeof value === 'string' && /^\d{4}-\d\d-\d\dT/.test(value)) return [`${name}: `, time(value)];
  return `${name}: ${typeof value === 'object' && value !== null ? JSON.stringify(value) : String(value)}`;
}

function generic(details: Details): Item[] {
  return Object.entries(details)
    .filter(([, value]) => value !== false && value !== null && value !== undefined)
    .map(([key, value]) => genericPart(key, value));
}

/** Each event's words; the items are joined with "; ". */
const PRESENTERS: { readonly [E in AuditEventName]?: (d: Details) => Item[] } = {
  'signin.succeeded': (d) => (d.rehashed === true ? ['the PIN hash was renewed'] : []),
  'signin.failed': (d) => [...reason(d), ...(d.failedCount !== undefined ? [count(d.failedCount, 'failed sign-in in a row', 'failed sign-ins in a row')] : [])],
  'signin.refused_locked': (d) => [typeof d.lockout === 'string' ? (LOCKOUTS[d.lockout] ?? d.lockout) : 'locked'],
  'signin.temp_expired': (d) => (d.temporarySince ? [['temporary PIN since ', time(d.temporarySince)]] : []),
  'pin.set': (d) => [
    d.generated === true ? 'a generated PIN' : 'a chosen PIN',
    ...(d.untold === true ? ['told to nobody'] : []),
    ...Object.keys(FLAG_LABELS).filter((key) => d[key] === true).map((key) => FLAG_LABELS[key] as string),
  ],
  'pin.changed': (d) => [
    typeof d.kind === 'string' ? (CHANGE_KINDS[d.kind] ?? d.kind) : 'changed',
    ...(d.mustChange === true ? ['the user must change it at the next sign-in'] : []),
  ],
  'pin.reset': (d) => {
    const channels = Array.isArray(d.channels) ? d.channels.map((c) => CHANNELS[String(c)] ?? String(c)) : [];
    return [channels.length > 0 ? `sent by ${channels.join(' and ')}` : 'sent by no channel', ...(d.shownOnce === true ? ['shown once to whoever reset it'] : [])];
  },
  'pin.locked': (d) => flagsPhrase(d.flags),
  'pin.unlocked': (d) =>
    d.flags !== undefined
      ? flagsPhrase(d.flags)
      : [d.wasLockedByAdmin === true ? 'was locked by an administrator' : '', d.wasLockedOut === true ? 'was locked by intruder detection' : ''].filter(Boolean),
  'pin.flags_changed': (d) => flagsPhrase(d.flags),
  'pin.locked_out': (d) => [
    d.by === 'intruder_detection' ? 'by intruder detection' : String(d.by ?? ''),
    ...(d.failedCount !== undefined ? [count(d.failedCount, 'failed sign-in', 'failed sign-ins')] : []),
  ],
  'pin.locked_inactive': (d) => [`${count(d.inactiveDays, 'day', 'days')} without a sign-in allowed`, ['last activity ', time(d.lastActivityAt)]],
  'user.created': (d) => [`rule ${String(d.rule)}`, ...(d.enrollmentPending === true ? ['enrollment pending'] : ['no enrollment'])],
  'user.updated': (d) =>
    Object.entries(d).map(([key, value]) => `${USER_FIELD_LABELS[key] ?? key}: ${value === null || value === '' ? '(cleared)' : String(value)}`),
  'rule.created': (d) => [`rule ${String(d.rule)}`, ...ruleChanges(d.changes)],
  'rule.updated': (d) => [`rule ${String(d.rule)}`, ...ruleChanges(d.changes)],
  'rule.deleted': (d) => [`rule ${String(d.rule)}`],
  'admin.created': (d) => [String(d.username), ...(d.source === 'oidc' ? ['at their first sign-in through the identity provider', `role ${String(d.role)}`] : [])],
  'admin.password_changed': (d) => [String(d.username), count(d.sessionsEnded, 'web session ended', 'web sessions ended')],
  'admin.signin_succeeded': (d) => [
    ...from(d),
    ...viaProvider(d),
    ...(typeof d.role === 'string' ? [`role ${d.role}`] : []),
    ...(typeof d.previousRole === 'string' ? [`was ${d.previousRole}`] : []),
  ],
  'admin.signin_refused': (d) => [
    ...from(d),
    ...viaProvider(d),
    ...(typeof d.name === 'string' ? [`as ${d.name}`] : []),
    ...reason(d),
    ...(typeof d.detail === 'string' ? [d.detail] : []),
  ],
  'web.signin_refused': (d) => [...from(d), ...reason(d)],
  'web_password.changed': (d) => [
    ...(d.mustChange === true ? ['the user must change it at the next sign-in'] : []),
    count(d.sessionsEnded, 'web session ended', 'web sessions ended'),
  ],
  'api.auth_failed': (d) => [...from(d), ...reason(d)],
  'api_token.created': (d) => [`token ${String(d.name)}`],
  'api_token.revoked': (d) => [`token ${String(d.name)}`],
};

/** What an event's details say, in words (and times), for the audit log page. */
export function presentAuditDetails(event: string, details: Details): Phrase {
  const presenter = PRESENTERS[event as AuditEventName];
  // The sign-in pages' events all carry the client address (and at most a reason).
  const items = presenter ? presenter(details) : typeof details.ip === 'string' ? [...from(details), ...reason(details)] : generic(details);
  return items.flatMap((item, i) => [...(i > 0 ? ['; '] : []), ...(typeof item === 'string' ? [item] : item)]);
}
