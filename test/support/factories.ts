import type { Actor } from '../../src/audit/actor.js';
import type { NewUserInput } from '../../src/accounts/service.js';
import type { Services } from '../../src/runtime.js';

export const testActor: Actor = { channel: 'cli', name: 'test' };

let sequence = 0;

/** A user with a unique extension and a known valid PIN; any field can be overridden. */
export async function createUser(
  services: Services,
  overrides: Partial<NewUserInput> = {},
): Promise<{ userId: number; extension: string; pin: string }> {
  sequence += 1;
  // Unique within a test file (each file has its own database); 5 digits, so no test PIN contains one.
  const extension = overrides.extension ?? String(70000 + sequence);
  const pin = overrides.pin ?? '860472';
  const { user } = await services.accounts.createUser(
    { extension, firstName: 'Test', lastName: 'Person', enroll: false, ...overrides, pin },
    testActor,
  );
  return { userId: user.id, extension: user.extension, pin };
}

/** A user with a self-service web password, whose last PIN change is old enough for a voluntary change. */
export async function createUserWithWebPassword(
  services: Services,
  webPassword: string,
  overrides: Partial<NewUserInput> = {},
): Promise<{ userId: number; extension: string; pin: string }> {
  const user = await createUser(services, overrides);
  await services.webCredentials.setUserPassword(user.userId, webPassword, testActor);
  await services.pool.query(`UPDATE pin_credentials SET changed_at = now() - interval '2 days' WHERE user_id = $1`, [user.userId]);
  return user;
}
