import { describe, expect, it } from 'vitest';
import { phraseText } from '../../src/accounts/present.js';
import { presentAuditDetails } from '../../src/audit/present.js';

// Audit details in words, with the shapes the services write (src/pin/service.ts, accounts/*, web/*).
const cases: Array<[event: string, details: Record<string, unknown>, words: string]> = [
  ['signin.succeeded', {}, ''],
  ['signin.succeeded', { rehashed: true }, 'the PIN hash was renewed'],
  ['signin.failed', { reason: 'wrong_pin', failedCount: 2 }, 'wrong PIN; 2 failed sign-ins in a row'],
  ['signin.failed', { reason: 'unknown_id' }, 'no user has that ID'],
  ['signin.refused_locked', { lockout: 'intruder' }, 'locked by intruder detection'],
  ['signin.temp_expired', { temporarySince: '2026-11-30T10:00:00.000Z' }, 'temporary PIN since 2026-11-30T10:00:00.000Z'],
  ['pin.set', { generated: true, untold: true, enrollmentPending: true, mustChange: false }, 'a generated PIN; told to nobody; Enrollment Pending'],
  ['pin.changed', { kind: 'administrative', mustChange: true }, 'set by an administrator; the user must change it at the next sign-in'],
  ['pin.changed', { kind: 'enrollment' }, 'chosen at enrollment'],
  ['pin.reset', { channels: ['sms', 'email'], shownOnce: false }, 'sent by text message and e-mail'],
  ['pin.reset', { channels: [], shownOnce: true }, 'sent by no channel; shown once to whoever reset it'],
  ['pin.locked', { flags: { lockedByAdmin: true } }, 'Locked by Administrator on'],
  ['pin.unlocked', { wasLockedByAdmin: false, wasLockedOut: true }, 'was locked by intruder detection'],
  ['pin.flags_changed', { flags: { doesNotExpire: true, mustChange: false } }, 'Does Not Expire on; User Must Change at Next Sign-In off'],
  ['pin.locked_out', { by: 'intruder_detection', failedCount: 3 }, 'by intruder detection; 3 failed sign-ins'],
  ['pin.locked_inactive', { inactiveDays: 90, lastActivityAt: '2026-08-01T00:00:00.000Z' }, '90 days without a sign-in allowed; last activity 2026-08-01T00:00:00.000Z'],
  ['user.created', { rule: 'default', enrollmentPending: true }, 'rule default; enrollment pending'],
  ['user.updated', { email: 'ana@example.com', phone: null, responseWait: 12 }, 'e-mail: ana@example.com; phone: (cleared); response wait (s): 12'],
  ['rule.updated', { rule: 'strict', changes: { minLength: 8, lockoutMinutes: null, trivialCheck: true } }, 'rule strict; Minimum PIN length: 8; Lockout duration (minutes): until an administrator unlocks; Trivial-PIN check: on'],
  ['rule.deleted', { rule: 'old' }, 'rule old'],
  ['admin.created', { username: 'alice' }, 'alice'],
  ['admin.password_changed', { username: 'alice', sessionsEnded: 1 }, 'alice; 1 web session ended'],
  ['admin.signin_failed', { ip: '192.0.2.7' }, 'from 192.0.2.7'],
  ['admin.created', { username: 'ann', source: 'oidc', role: 'helpdesk' }, 'ann; at their first sign-in through the identity provider; role helpdesk'],
  ['admin.signin_succeeded', { ip: '192.0.2.7' }, 'from 192.0.2.7'],
  ['admin.signin_succeeded', { ip: '192.0.2.7', method: 'oidc', role: 'auditor', previousRole: 'system' }, 'from 192.0.2.7; through the identity provider; role auditor; was system'],
  [
    'admin.signin_refused',
    { ip: '192.0.2.7', method: 'oidc', reason: 'no_role', detail: 'pinline_role: "guest"', name: 'ann' },
    'from 192.0.2.7; through the identity provider; as ann; no known role in the identity provider\'s claim; pinline_role: "guest"',
  ],
  ['web.signin_refused', { ip: '192.0.2.7', reason: 'the account is locked' }, 'from 192.0.2.7; the account is locked'],
  ['web_password.changed', { mustChange: true, sessionsEnded: 0 }, 'the user must change it at the next sign-in; 0 web sessions ended'],
  ['api.auth_failed', { ip: '::1', reason: 'invalid_token' }, 'from ::1; a token that is not valid'],
  ['api_token.created', { name: 'provisioning', id: 4 }, 'token provisioning'],
  // An event or field nobody gave words to yet still reads as words, never as JSON.
  ['user.imported', { created: 3, updated: 1, dryRun: false, file: 'staff.csv' }, 'created: 3; updated: 1; file: staff.csv'],
];

describe('audit details in words', () => {
  it.each(cases)('when %s has %j, then it reads "%s"', (event, details, words) => {
    expect(phraseText(presentAuditDetails(event, details))).toBe(words);
  });

  it('when a detail is a time, then it stays a time for the page to write as one', () => {
    expect(presentAuditDetails('signin.temp_expired', { temporarySince: '2026-11-30T10:00:00.000Z' })).toEqual([
      'temporary PIN since ',
      new Date('2026-11-30T10:00:00.000Z'),
    ]);
  });
});
