import type { NewUserInput } from '../../src/accounts/service.js';
import type { Services } from '../../src/runtime.js';
import { createUser } from './factories.js';

let next = 90_000;

/**
 * createUser with a predictable extension (900xx). The factory's random extensions can, now and
 * then, appear inside a test's PIN ("contains the extension" makes it trivial) and flip a result;
 * none of the PINs in the web tests contains "900" or "009".
 */
export function createWebUser(services: Services, overrides: Partial<NewUserInput> = {}): ReturnType<typeof createUser> {
  next += 1;
  return createUser(services, { extension: String(next), ...overrides });
}
