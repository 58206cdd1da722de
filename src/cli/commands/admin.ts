import { Argument, type Command } from 'commander';
import { ROLES, type Role } from '../../accounts/roles.js';
import { checkPassword } from '../../accounts/web-credentials.js';
import { InputError } from '../../errors.js';
import { formatTable, formatTime, promptHidden, readFirstLine } from '../io.js';
import { roleOption, type CliContext } from './context.js';

/** The password comes from stdin or a no-echo prompt, never from argv where `ps` and shell history would see it. */
async function readPassword(ctx: CliContext, username: string, fromStdin: boolean): Promise<string> {
  const { io } = ctx;
  if (fromStdin) {
    const line = await readFirstLine(io.stdin);
    if (line === null) throw new InputError('no_password', 'no password on stdin (--password-stdin reads its first line)');
    return line;
  }
  if (!io.isTTY) {
    throw new InputError('no_terminal', 'stdin is not a terminal to prompt for the password: pipe it in with --password-stdin');
  }
  const password = await promptHidden(io, `Password for ${username}: `);
  // Said before asking to type it again: a password refused anyway need not be confirmed.
  checkPassword(password);
  const again = await promptHidden(io, 'Confirm password: ');
  if (password !== again) throw new InputError('password_mismatch', 'the two passwords do not match');
  return password;
}

export function registerAdminCommands(admin: Command, ctx: CliContext): void {
  admin
    .command('add')
    .description('create an administrator; the password is prompted for, or read from stdin')
    .argument('<USERNAME>', 'sign-in name')
    .addOption(roleOption('what they may do: system (everything), helpdesk or auditor').default('system'))
    .option('--password-stdin', 'read the password from the first line of stdin')
    .action(async (username: string, opts: { passwordStdin?: boolean; role: Role }) => {
      const password = await readPassword(ctx, username, opts.passwordStdin === true);
      await ctx.withRuntime(async ({ webCredentials }) => {
        const created = await webCredentials.createAdmin(username, password, ctx.actor, opts.role);
        ctx.print(`Created administrator ${created.username}, role ${created.role}.`);
      });
    });

  admin
    .command('list')
    .description('list the administrators: username, role, how they sign in, and when they were created')
    .action(async () => {
      await ctx.withRuntime(async ({ webCredentials }) => {
        const admins = await webCredentials.listAdmins();
        if (admins.length === 0) return ctx.print('No administrators yet.');
        // SOURCE: `local` (a password) or `oidc` (the identity provider, DESIGN §11).
        ctx.print(...formatTable(['USERNAME', 'ROLE', 'SOURCE', 'CREATED'], admins.map((a) => [a.username, a.role, a.source, formatTime(a.createdAt)])));
      });
    });

  admin
    .command('set-role')
    .description("change an administrator's role; it applies from their next page")
    .argument('<USERNAME>', 'sign-in name')
    .addArgument(new Argument('<ROLE>', 'system, helpdesk or auditor').choices(ROLES))
    .action(async (username: string, role: Role) => {
      await ctx.withRuntime(async ({ webCredentials }) => {
        const admin = await webCredentials.setAdminRole(username, role, ctx.actor);
        ctx.print(`Administrator ${admin.username} now has the role ${admin.role}.`);
      });
    });

  admin
    .command('remove')
    .description('remove an administrator and end their web sessions')
    .argument('<USERNAME>', 'sign-in name')
    .action(async (username: string) => {
      await ctx.withRuntime(async ({ webCredentials }) => {
        const admin = await webCredentials.removeAdmin(username, ctx.actor);
        ctx.print(`Removed administrator ${admin.username}; their web sessions have ended.`);
      });
    });

  admin
    .command('set-password')
    .description("reset an administrator's password and end all of their web sessions")
    .argument('<USERNAME>', 'sign-in name')
    .option('--password-stdin', 'read the new password from the first line of stdin')
    .action(async (username: string, opts: { passwordStdin?: boolean }) => {
      const password = await readPassword(ctx, username, opts.passwordStdin === true);
      await ctx.withRuntime(async ({ webCredentials }) => {
        const admin = await webCredentials.setAdminPassword(username, password, ctx.actor);
        ctx.print(`Changed the password of administrator ${admin.username}; their web sessions have ended.`);
      });
    });
}
