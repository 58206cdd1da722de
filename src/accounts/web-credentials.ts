import { anyAdmin, findAdminById, findAdminSource, findAdminWithHash, insertAdmin, rehashAdminPassword, updateAdminPassword, type Admin } from '../db/admins.js';
import type { Actor } from '../audit/actor.js';
import { recordAudit } from '../db/audit.js';
import { isUniqueViolation } from '../db/constraints.js';
import { withTransaction, type Pool } from '../db/pool.js';
import { findAccount } from '../db/users.js';
import { endAdminSessions, endUserSessions } from '../db/web-sessions.js';
import { findWebPasswordHash, findWebPasswordState, rehashWebPassword, upsertWebPassword, type WebPasswordState } from '../db/web-passwords.js';
import { InputError, NotFoundError } from '../errors.js';
import { checkPlainText } from './model.js';
import { changedBy, type Notifier } from '../notify/notices.js';
import type { HashGate } from '../pin/hash-gate.js';
import type { SecretHasher } from '../pin/hasher.js';

export type { Admin } from '../db/admins.js';
export type { WebPasswordState } from '../db/web-passwords.js';

const MIN_PASSWORD_LENGTH = 10;
const MAX_PASSWORD_LENGTH = 256;
export const USERNAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$/;

/** A stored password hash, and how to store the same password hashed anew. */
interface StoredPassword {
  hash: string;
  rehash(newHash: string): Promise<void>;
}

/** Refuses a password outside the length limits before any hashing is spent on it. */
export function checkPassword(password: string): void {
  checkPlainText('password', password);
  if (password.length < MIN_PASSWORD_LENGTH) {
    throw new InputError('password_too_short', `password must be at least ${MIN_PASSWORD_LENGTH} characters`, 422);
  }
  if (password.length > MAX_PASSWORD_LENGTH) {
    throw new InputError('password_too_long', `password must be at most ${MAX_PASSWORD_LENGTH} characters`, 422);
  }
}

/** True when a typed password could be anyone's: empty or overlong ones are refused without hashing. */
export function plausiblePassword(password: string): boolean {
  return password.length > 0 && password.length <= MAX_PASSWORD_LENGTH;
}

/**
 * Web passwords: administrators', and users' own self-service password. They are separate from
 * the phone PIN and never synchronised with it; hashed with the same argon2id hasher. Setting one
 * ends the sessions it was protecting, in the same transaction.
 */
/** How the first administrator is made, from a shell in the project folder (the pages and the start say it). */
export const FIRST_ADMIN_COMMAND = 'npx pinline admin add USERNAME';

export class WebCredentialService {
  constructor(
    private readonly pool: Pool,
    private readonly hasher: SecretHasher,
    private readonly gate: HashGate,
    private readonly notifier: Notifier,
  ) {}

  async createAdmin(username: string, password: string, actor: Actor): Promise<Admin> {
    checkUsername(username);
    checkPassword(password);
    const hash = await this.gate.run(() => this.hasher.hash(password));
    try {
      return await withTransaction(this.pool, async (client) => {
        const admin = await insertAdmin(client, username, hash);
        await recordAudit(client, { event: 'admin.created', actor, details: { username } });
        return admin;
      });
    } catch (err) {
      if (isUniqueViolation(err)) throw new InputError('username_taken', `administrator "${username}" already exists`, 409);
      throw err;
    }
  }

  /** Resets an administrator's password and ends every session they had. */
  async setAdminPassword(username: string, password: string, actor: Actor): Promise<Admin> {
    checkUsername(username);
    checkPassword(password);
    const hash = await this.gate.run(() => this.hasher.hash(password));
    return withTransaction(this.pool, async (client) => {
      const admin = await updateAdminPassword(client, username, hash);
      if (!admin) {
        if ((await findAdminSource(client, username)) === 'oidc') {
          throw new InputError('no_password', `administrator "${username}" signs in through the identity provider and has no password here`, 409);
        }
        throw new NotFoundError(`administrator "${username}"`);
      }
      const sessionsEnded = await endAdminSessions(client, admin.id);
      await recordAudit(client, { event: 'admin.password_changed', actor, details: { username, sessionsEnded } });
      return admin;
    });
  }

  /** The administrator, or null; an unknown name costs the same time as a wrong password. */
  async verifyAdmin(username: string, password: string): Promise<Admin | null> {
    const found = USERNAME_PATTERN.test(username) ? await findAdminWithHash(this.pool, username) : null;
    const ok = await this.verifyPassword(
      found && { hash: found.passwordHash, rehash: (newHash) => rehashAdminPassword(this.pool, found.admin.id, found.passwordHash, newHash) },
      password,
    );
    return ok && found ? found.admin : null;
  }

  /**
   * Checks a password against its stored hash (or, with none, a dummy, in the same time). Right,
   * and made under an older pepper or other parameters, it is hashed again under the current
   * ones and stored (DESIGN §10): nothing else about the password changes.
   */
  private verifyPassword(stored: StoredPassword | null, password: string): Promise<boolean> {
    return this.gate.run(async () => {
      if (stored === null) return this.hasher.verifyDummy(password);
      if (!(await this.hasher.verify(stored.hash, password))) return false;
      if (this.hasher.needsRehash(stored.hash)) await stored.rehash(await this.hasher.hash(password));
      return true;
    });
  }

  /** The administrator as stored now, or null once deleted: sessions check it on every page. */
  findAdmin(id: number): Promise<Admin | null> {
    return findAdminById(this.pool, id);
  }

  /** False on a new installation, until the first administrator is made (the pages and the start say how). */
  hasAdmins(): Promise<boolean> {
    return anyAdmin(this.pool);
  }

  /** True when `username` names an administrator (so an attempt can be audited under that name). */
  async adminExists(username: string): Promise<boolean> {
    return USERNAME_PATTERN.test(username) && (await findAdminWithHash(this.pool, username)) !== null;
  }

  /**
   * Sets the web password and its "must change at next sign-in" flag in one audited write, and
   * ends the user's web sessions: all of them after an administrator's reset, all but `keepSid`
   * when the user changes their own. Returns when the password was set.
   */
  async setUserPassword(
    userId: number,
    password: string,
    actor: Actor,
    options: { mustChange?: boolean; keepSid?: string } = {},
  ): Promise<Date> {
    checkPassword(password);
    const mustChange = options.mustChange ?? false;
    const hash = await this.gate.run(() => this.hasher.hash(password));
    return withTransaction(this.pool, async (client) => {
      const account = await findAccount(client, { userId });
      if (!account) throw new NotFoundError(`user ${userId}`);
      const changedAt = await upsertWebPassword(client, userId, hash, mustChange);
      const sessionsEnded = await endUserSessions(client, userId, options.keepSid ?? null);
      await this.notifier.queue(client, account.user, { kind: 'web_password_changed', by: changedBy(actor) });
      await recordAudit(client, {
        event: 'web_password.changed',
        actor,
        userId,
        extension: account.user.extension,
        details: { mustChange, sessionsEnded },
      });
      return changedAt;
    });
  }

  /** The user's web password flags, or null when they have none. */
  userPasswordState(userId: number): Promise<WebPasswordState | null> {
    return findWebPasswordState(this.pool, userId);
  }

  /** The user id for a correct extension and web password, or null (same time either way). */
  async verifyUserPassword(extension: string, password: string): Promise<number | null> {
    const found = await findWebPasswordHash(this.pool, extension);
    const ok = await this.verifyPassword(
      found && { hash: found.passwordHash, rehash: (newHash) => rehashWebPassword(this.pool, found.userId, found.passwordHash, newHash) },
      password,
    );
    return ok && found ? found.userId : null;
  }
}

function checkUsername(username: string): void {
  if (!USERNAME_PATTERN.test(username)) {
    throw new InputError('invalid_username', `username "${username}" must be 1-64 letters, digits, '.', '_', '@' or '-'`);
  }
}
