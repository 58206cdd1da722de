import path from 'node:path';
import type { Command } from 'commander';
import { startEmbeddedPostgres } from '../../db/embedded.js';
import { migrate } from '../../db/migrate.js';
import type { CliContext } from './context.js';

export function registerMigrateCommand(migrateCommand: Command, ctx: CliContext): void {
  migrateCommand.action(async () => {
    const config = ctx.config();
    const logger = ctx.logger();
    // Not openRuntime: it migrates too, but does not say which migrations it applied.
    const embedded = config.databaseUrl ? null : await startEmbeddedPostgres(path.join(config.dataDir, 'pg'), logger);
    try {
      const applied = await migrate(config.migrationsDatabaseUrl ?? config.databaseUrl ?? embedded!.databaseUrl, logger);
      if (applied.length === 0) ctx.print('database is up to date');
      else ctx.print(...applied.map((name) => `applied ${name}`));
    } finally {
      await embedded?.stop();
    }
  });
}
