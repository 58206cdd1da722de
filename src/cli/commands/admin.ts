import type { Command } from 'commander';
import { checkPassword } from '../../accounts/web-credentials.js';
import { InputError } from '../../errors.js';
import { promptHidden, readFirstLine } from '../io.js';
import type { CliContext } from './context.js';

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
    .option('--password-stdin', 'read the password from the first line of stdin')
    .action(async (username: string, opts: { passwordStdin?: boolean }) => {
      const password = await readPassword(ctx, username, opts.passwordStdin === true);
      await ctx.withRuntime(async ({ webCredentials }) => {
        const created = await webCredentials.createAdmin(username, password, ctx.actor);
        ctx.print(`Created administrator ${created.username}.`);
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
