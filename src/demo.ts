import { FIRST_ADMIN_COMMAND } from './accounts/web-credentials.js';
import type { Services } from './runtime.js';

export const DEMO_EXTENSION = '1001';

/**
 * On a brand-new database (no users, no audit trail), creates a demo user so that a first
 * `npm start` can be called at once. Its initial PIN is printed once, to the terminal only,
 * never to the log.
 */
export async function ensureDemoUser(services: Services, out: { write(text: string): unknown }): Promise<void> {
  if (!(await services.accounts.isPristine())) return;
  const { user, generatedPin } = await services.accounts.createUser(
    // An address, so that a helpdesk reset can be tried at once: in development it lands in DATA_DIR/outbox.
    { extension: DEMO_EXTENSION, firstName: 'Demo', lastName: 'Caller', email: 'demo@example.com' },
    { channel: 'system', name: 'system:demo' },
  );
  const base = services.config.publicBaseUrl;
  out.write(
    [
      '',
      `Demo user created: extension ${user.extension}, initial PIN ${generatedPin} (shown only this once).`,
      'Place a call with the simulator, in another terminal:',
      `  npx pinline call --url ${base}`,
      `or scripted (the first sign-in goes through enrollment, so choose a new PIN):`,
      `  npx pinline call --url ${base} --keys ${user.extension}# --keys ${generatedPin}# --keys <new PIN># --keys <new PIN># --keys '*'`,
      '',
    ].join('\n') + '\n',
  );
}

/** What the start says while there is no administrator: how to make the first one, and where to sign in. */
export async function firstAdminNote(services: Pick<Services, 'webCredentials' | 'config'>): Promise<string | null> {
  if (await services.webCredentials.hasAdmins()) return null;
  return `no administrator yet: create the first with \`${FIRST_ADMIN_COMMAND}\` in the project folder, then sign in at ${services.config.publicBaseUrl}/admin`;
}
