import type { User } from '../db/users.js';

/** A user as JSON for every channel that prints or returns one (CLI, API). Never a hash. */
export function presentUser(user: User, ruleName: string) {
  return {
    id: user.id,
    extension: user.extension,
    firstName: user.firstName,
    lastName: user.lastName,
    phone: user.phone,
    locale: user.locale,
    rule: ruleName,
    createdAt: user.createdAt.toISOString(),
  };
}
