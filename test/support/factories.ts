import type { Actor } from '../../src/db/audit.js';
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
  const extension = overrides.extension ?? String(4000 + sequence + Math.floor(Math.random() * 1000) * 10);
  const pin = overrides.pin ?? '860472';
  const { user } = await services.accounts.createUser(
    { extension, firstName: 'Test', lastName: 'Person', enroll: false, ...overrides, pin },
    testActor,
  );
  return { userId: user.id, extension: user.extension, pin };
}
