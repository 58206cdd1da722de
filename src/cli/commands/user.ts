import type { Command } from 'commander';
import { RESPONSE_WAIT, type Account } from '../../accounts/model.js';
import { phraseText, presentPinStatus, userJson } from '../../accounts/present.js';
import { InputError } from '../../errors.js';
import { DEFAULT_RULE_NAME } from '../../pin/rules.js';
import { formatPairs, formatTime, yesNo } from '../io.js';
import type { CliContext } from './context.js';
import { registerUserCsvCommands } from './user-csv.js';

interface AddOptions {
  extension: string;
  first: string;
  last: string;
  phone?: string;
  email?: string;
  pin?: string;
  rule?: string;
  locale?: string;
  responseWait?: string;
  enroll: boolean;
}

interface SetOptions {
  email?: string;
  phone?: string;
  locale?: string;
  rule?: string;
  responseWait?: string;
}

const RESPONSE_WAIT_HELP = `seconds the phone waits for keys once the PIN is verified, ${RESPONSE_WAIT.min} to ${RESPONSE_WAIT.max} (default ${RESPONSE_WAIT.default})`;

interface SetPinOptions {
  pin?: string;
  mustChange?: boolean;
}

function who(account: Pick<Account, 'user'>): string {
  return `user ${account.user.extension} (${account.user.firstName} ${account.user.lastName})`;
}

export function registerUserCommands(user: Command, ctx: CliContext): void {
  user
    .command('add')
    .description('create a user; without --pin a random valid initial PIN is generated and printed once')
    .requiredOption('--extension <EXT>', 'the ID the user keys in on the phone (2 to 15 digits)')
    .requiredOption('--first <NAME>', 'first name')
    .requiredOption('--last <NAME>', 'last name')
    .option('--phone <E164>', 'registered phone number, like +15551230001: caller ID goes straight to PIN entry, and text messages go to it')
    .option('--email <ADDRESS>', 'e-mail address for notifications and a reset PIN')
    .option('--pin <N>', 'initial PIN; it must pass the rule')
    .option('--rule <NAME>', 'authentication rule (default: default)')
    .option('--locale <LOCALE>', 'prompt language, like es-US (default: DEFAULT_LOCALE)')
    .option('--response-wait <S>', RESPONSE_WAIT_HELP)
    .option('--no-enroll', 'skip first-time enrollment: the user keeps the initial PIN')
    .action(async (opts: AddOptions) => {
      await ctx.withRuntime(async ({ accounts }) => {
        const { user: created, generatedPin } = await accounts.createUser(
          {
            extension: opts.extension,
            firstName: opts.first,
            lastName: opts.last,
            phone: opts.phone,
            email: opts.email,
            pin: opts.pin,
            ruleName: opts.rule,
            locale: opts.locale,
            responseWait: opts.responseWait,
            enroll: opts.enroll,
          },
          ctx.actor,
        );
        // createUser has checked that the rule exists.
        const ruleName = opts.rule ?? DEFAULT_RULE_NAME;
        ctx.print(`Created ${who({ user: created })}, rule ${ruleName}, ${opts.enroll ? 'enrollment pending' : 'no enrollment'}.`);
        if (generatedPin !== null) {
          ctx.print(
            `Initial PIN: ${generatedPin} (shown once` +
              (opts.enroll ? '; the user must choose a new one at first sign-in)' : ')'),
          );
        }
      });
    });

  user
    .command('set-pin')
    .description("change a user's PIN as an administrator; without --pin a random valid PIN is generated and printed once")
    .argument('<EXT>', "the user's extension")
    .option('--pin <N>', 'the new PIN; it must pass the rule and the PIN history')
    .option('--must-change', 'the user must choose a new PIN at the next sign-in')
    .action(async (extension: string, opts: SetPinOptions) => {
      await ctx.withRuntime(async ({ accounts, pins }) => {
        const account = await accounts.getAccount({ extension });
        const newPin = opts.pin ?? pins.generatePinFor(account.rule, account.user);
        const mustChange = opts.mustChange === true;
        await pins.changePinOrThrow({
          userId: account.user.id,
          newPin,
          kind: 'administrative',
          mustChange,
          // A generated PIN is temporary, like a reset one: it works for the rule's lifetime.
          generated: opts.pin === undefined,
          actor: ctx.actor,
        });
        ctx.print(`Changed the PIN of ${who(account)}${mustChange ? '; the user must change it at the next sign-in' : ''}.`);
        if (opts.pin === undefined) ctx.print(`New PIN: ${newPin} (shown once)`);
      });
    });

  user
    .command('reset-pin')
    .description('reset a forgotten PIN: a random one is sent to the user by text message and e-mail, never shown here')
    .argument('<EXT>', "the user's extension")
    .option('--show', 'also print the new PIN once (audited); needed when no channel reaches the user')
    .action(async (extension: string, opts: { show?: boolean }) => {
      await ctx.withRuntime(async ({ accounts, pins }) => {
        const account = await accounts.getAccount({ extension });
        const result = await pins.resetPin(account.user.id, ctx.actor, { showOnce: opts.show === true });
        const sent = result.channels.map((channel) => (channel === 'sms' ? `a text message to ${account.user.phone}` : `an e-mail to ${account.user.email}`));
        ctx.print(
          `Reset the PIN of ${who(account)}: it must be changed at the next sign-in` +
            (account.rule.tempPinHours > 0 ? `, and works for ${account.rule.tempPinHours} hours` : '') +
            '.',
        );
        ctx.print(sent.length > 0 ? `Sent by ${sent.join(' and ')}.` : 'Sent by no channel.');
        if (result.pin !== null) ctx.print(`New PIN: ${result.pin} (shown once)`);
      });
    });

  user
    .command('set')
    .description("change a user's contact details, language, rule or response wait; an empty value ('') clears an e-mail or phone")
    .argument('<EXT>', "the user's extension")
    .option('--email <ADDRESS>', 'e-mail address; the old one is told of the change')
    .option('--phone <E164>', 'registered phone number, like +15551230001')
    .option('--locale <LOCALE>', 'prompt and message language, like es-US')
    .option('--rule <NAME>', 'authentication rule')
    .option('--response-wait <S>', `${RESPONSE_WAIT_HELP}; applies from the next call`)
    .action(async (extension: string, opts: SetOptions) => {
      if (Object.values(opts).every((value) => value === undefined)) {
        throw new InputError('nothing_to_set', 'give at least one of --email, --phone, --locale, --rule, --response-wait');
      }
      await ctx.withRuntime(async ({ accounts }) => {
        const account = await accounts.getAccount({ extension });
        await accounts.updateUser(
          account.user.id,
          {
            email: opts.email,
            phone: opts.phone,
            locale: opts.locale,
            ruleName: opts.rule,
            responseWait: opts.responseWait,
          },
          ctx.actor,
        );
        ctx.print(...formatPairs(userPairs(await accounts.getAccount({ userId: account.user.id }), new Date())));
      });
    });

  user
    .command('lock')
    .description('lock the account: sign-in is refused until an administrator unlocks it')
    .argument('<EXT>', "the user's extension")
    .action(async (extension: string) => {
      await ctx.withRuntime(async ({ accounts, pins }) => {
        const account = await accounts.getAccount({ extension });
        await pins.updateSettings(account.user.id, { flags: { lockedByAdmin: true } }, ctx.actor);
        ctx.print(`Locked ${who(account)}: sign-in is refused until an administrator unlocks it.`);
      });
    });

  user
    .command('unlock')
    .description("clear an administrator's lock, an intruder lockout and an inactivity lock (its clock starts again), and reset the failed sign-in count")
    .argument('<EXT>', "the user's extension")
    .action(async (extension: string) => {
      await ctx.withRuntime(async ({ accounts, pins }) => {
        const account = await accounts.getAccount({ extension });
        await pins.updateSettings(account.user.id, { unlock: true }, ctx.actor);
        ctx.print(`Unlocked ${who(account)}.`);
      });
    });

  user
    .command('delete')
    .description('delete a user, their PIN, PIN history and web password, and end their web sessions; the audit trail stays')
    .argument('<EXT>', "the user's extension")
    .action(async (extension: string) => {
      await ctx.withRuntime(async ({ accounts }) => {
        const account = await accounts.getAccount({ extension });
        await accounts.deleteUser(account.user.id, ctx.actor);
        ctx.print(`Deleted ${who(account)}.`);
      });
    });

  user
    .command('show')
    .description("show a user, the PIN flags and status, and what they mean now (never the PIN's hash)")
    .argument('<EXT>', "the user's extension")
    .option('--json', 'print JSON')
    .action(async (extension: string, opts: { json?: boolean }) => {
      await ctx.withRuntime(async ({ accounts }) => {
        const account = await accounts.getAccount({ extension });
        const now = new Date();
        if (opts.json) ctx.print(JSON.stringify(userJson(account, now), null, 2));
        else ctx.print(...formatPairs(userPairs(account, now)));
      });
    });

  registerUserCsvCommands(user, ctx);
}

function userPairs(account: Account, now: Date): Array<[string, string]> {
  const { user, pin, rule } = account;
  const view = presentPinStatus(account, now);
  return [
    ['Extension', user.extension],
    ['Name', `${user.firstName} ${user.lastName}`],
    ['Phone', user.phone ?? '(none)'],
    ['E-mail', user.email ?? '(none)'],
    ['Locale', user.locale],
    ['Authentication rule', rule.name],
    ['Response wait', `${user.responseWait} s`],
    ['Created', formatTime(user.createdAt)],
    ['Last sign-in', formatTime(pin.lastSigninAt)],
    ['PIN status', view.summary],
    ['Must change at next sign-in', yesNo(pin.mustChange)],
    ['Enrollment pending', yesNo(pin.enrollmentPending)],
    ['Does not expire', yesNo(pin.doesNotExpire)],
    ['Locked by administrator', yesNo(pin.lockedByAdmin)],
    ['User cannot change', yesNo(pin.cannotChange)],
    ['Time last changed', formatTime(pin.changedAt)],
    ['Failed sign-in attempts', String(pin.failedCount)],
    ['Time of last failed sign-in', formatTime(pin.lastFailedAt)],
    ['Time locked by intruder detection', formatTime(pin.lockedAt)],
    ['PIN expires', phraseText(view.expiry)],
    ['Lockout', phraseText(view.lockout)],
    ['Failed sign-ins still counting', String(view.status.effectiveFailedCount)],
  ];
}
