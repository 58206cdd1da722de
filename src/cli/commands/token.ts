import type { Command } from 'commander';
import type { Role } from '../../accounts/roles.js';
import type { TokenAccess } from '../../db/api-tokens.js';
import { InputError } from '../../errors.js';
import { formatTable, formatTime } from '../io.js';
import { roleOption, type CliContext } from './context.js';

/** A token's access in a word or two: `api/helpdesk`, or `scim`. */
function accessText(access: TokenAccess): string {
  return access.kind === 'scim' ? 'scim' : `api/${access.role}`;
}

/** Bearer tokens (DESIGN §11): an /api token with a role, or a SCIM token. */
export function registerTokenCommands(token: Command, ctx: CliContext): void {
  token
    .command('create')
    .description('make a bearer token and print it once: for /api with a role (default system), or with --scim for /scim/v2')
    .argument('<NAME>', 'names the client in the audit log, e.g. provisioning')
    .addOption(roleOption('what an /api token may do: system (everything), helpdesk or auditor'))
    .option('--scim', 'a SCIM provisioning token, for /scim/v2 only')
    .action(async (name: string, opts: { role?: Role; scim?: boolean }) => {
      if (opts.scim && opts.role !== undefined) {
        throw new InputError('role_and_scim', 'give --role or --scim, not both: a SCIM token has no role');
      }
      const access: TokenAccess = opts.scim ? { kind: 'scim' } : { kind: 'api', role: opts.role ?? 'system' };
      await ctx.withRuntime(async ({ apiTokens }) => {
        const created = await apiTokens.create(name, ctx.actor, access);
        ctx.print(`Created token ${created.record.name} (${accessText(created.record.access)}). Copy it now: it is shown only this once.`);
        ctx.print(created.token);
      });
    });

  token
    .command('list')
    .description('list the tokens: name, kind and role, created, last used, revoked (never the token)')
    .action(async () => {
      await ctx.withRuntime(async ({ apiTokens }) => {
        const tokens = await apiTokens.list();
        if (tokens.length === 0) return ctx.print('No tokens yet.');
        ctx.print(
          ...formatTable(
            ['NAME', 'ACCESS', 'CREATED', 'LAST USED', 'REVOKED'],
            tokens.map((t) => [t.name, accessText(t.access), formatTime(t.createdAt), formatTime(t.lastUsedAt), formatTime(t.revokedAt, 'no')]),
          ),
        );
      });
    });

  token
    .command('revoke')
    .description('revoke the live token with this name: it stops working at once')
    .argument('<NAME>', "the token's name")
    .action(async (name: string) => {
      await ctx.withRuntime(async ({ apiTokens }) => {
        const revoked = await apiTokens.revokeNamed(name, ctx.actor);
        ctx.print(`Revoked token ${revoked.name}.`);
      });
    });
}
