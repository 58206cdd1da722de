import type { Command } from 'commander';
import { countHashesByPepper, countQueuedBySessionSecret } from '../../db/keys.js';
import { sessionKeyRing, type KeyRing } from '../../keys.js';
import { formatTable } from '../io.js';
import type { CliContext } from './context.js';

/** A secret as `keys status` names it: held as current or previous, not held, or (no id) from before ids. */
type Role = 'current' | 'previous' | 'unknown' | 'unlabelled';

interface Row<Counts> {
  id: string | null;
  role: Role;
  counts: Counts;
}

/**
 * Every secret this instance holds (with zero counts when nothing is left under it, which is when
 * a previous one can be dropped), then the ids found in the database that it does not hold, then
 * what was made before ids were recorded.
 */
function rows<Counts>(ring: KeyRing<{ readonly id: string }>, found: ReadonlyArray<{ id: string | null; counts: Counts }>, none: Counts): Row<Counts>[] {
  const countsOf = (id: string | null) => found.find((entry) => entry.id === id)?.counts ?? none;
  const held: Row<Counts>[] = ring.all.map((secret) => ({ id: secret.id, role: ring.role(secret.id), counts: countsOf(secret.id) }));
  const others: Row<Counts>[] = found
    .filter((entry) => entry.id === null || !ring.find(entry.id))
    .map((entry) => ({ id: entry.id, role: entry.id === null ? 'unlabelled' : 'unknown', counts: entry.counts }));
  return [...held, ...others];
}

export function registerKeysCommand(keys: Command, ctx: CliContext): void {
  keys
    .command('status')
    .description('per pepper, the PIN, history and web password hashes it made; per session secret, the queued messages sealed under it')
    .option('--json', 'print JSON')
    .action(async (opts: { json?: boolean }) => {
      await ctx.withRuntime(async ({ config, hasher, pool }) => {
        const peppers = rows(
          hasher.peppers,
          (await countHashesByPepper(pool)).map(({ pepperId, ...counts }) => ({ id: pepperId, counts })),
          { pinHashes: 0, historyHashes: 0, webPasswords: 0 },
        );
        const sessionSecrets = rows(
          sessionKeyRing(config.sessionSecret, config.sessionSecretPrevious),
          (await countQueuedBySessionSecret(pool)).map(({ secretId, ...counts }) => ({ id: secretId, counts })),
          { queuedMessages: 0 },
        );
        if (opts.json) {
          ctx.print(
            JSON.stringify(
              {
                peppers: peppers.map((row) => ({ id: row.id, role: row.role, ...row.counts })),
                sessionSecrets: sessionSecrets.map((row) => ({ id: row.id, role: row.role, ...row.counts })),
              },
              null,
              2,
            ),
          );
          return;
        }
        const idOf = (row: Row<unknown>) => row.id ?? '(none)';
        ctx.print(
          ...formatTable(
            ['PEPPER', 'ROLE', 'PIN HASHES', 'HISTORY HASHES', 'WEB PASSWORDS'],
            peppers.map((row) => [idOf(row), row.role, String(row.counts.pinHashes), String(row.counts.historyHashes), String(row.counts.webPasswords)]),
          ),
          '',
          ...formatTable(
            ['SESSION SECRET', 'ROLE', 'QUEUED MESSAGES'],
            sessionSecrets.map((row) => [idOf(row), row.role, String(row.counts.queuedMessages)]),
          ),
          ...notes(peppers, sessionSecrets),
        );
      });
    });
}

/** What the rows mean where something needs doing: said once under the tables. */
function notes(peppers: ReadonlyArray<Row<unknown>>, sessionSecrets: ReadonlyArray<Row<unknown>>): string[] {
  const said: string[] = [];
  if (peppers.some((row) => row.role === 'unlabelled')) {
    said.push('(none) pepper: hashes made before hashes recorded their pepper; they are tried under every pepper held, and re-hashed at the next sign-in.');
  }
  if (sessionSecrets.some((row) => row.role === 'unlabelled')) {
    said.push('(none) session secret: messages queued before they recorded their secret; they are opened under every secret held.');
  }
  if (peppers.some((row) => row.role === 'unknown')) {
    said.push('unknown pepper: those hashes cannot be checked here (callers hear "not available"); list the pepper in PIN_PEPPER_PREVIOUS.');
  }
  if (sessionSecrets.some((row) => row.role === 'unknown')) {
    said.push('unknown session secret: those messages wait until an instance holding it delivers them; list it in SESSION_SECRET_PREVIOUS.');
  }
  return said.length > 0 ? ['', ...said] : [];
}
