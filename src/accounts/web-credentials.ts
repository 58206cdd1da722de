import { recordAudit, type Actor } from '../db/audit.js';
import { isUniqueViolation, withTransaction, type Pool } from '../db/pool.js';
import { InputError, NotFoundError } from '../errors.js';
import type { HashGate } from '../pin/hash-gate.js';
import type { SecretHasher } from '../pin/hasher.js';

export const MIN_PASSWORD_LENGTH = 10;
export const MAX_PASSWORD_LENGTH = 256;
export const USERNAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$/;

export interface Admin {
  id: number;
  username: string;
  createdAt: Date;
}

function checkPassword(password: string): void {
  if (password.length < MIN_PASSWORD_LENGTH) {
    throw new InputError('password_too_short', `password must be at least ${MIN_PASSWORD_LENGTH} characters`, 422);
  }
  if (password.length > MAX_PASSWORD_LENGTH) {
    throw new InputError('password_too_long', `password must be at most ${MAX_PASSWORD_LENGTH} characters`, 422);
  }
}

/**
 * Web passwords: administrators', and users' own self-service password. They are separate from
 * the phone PIN and never synchronised with it; hashed with the same argon2id hasher.
 */
export class WebCredentialService {
  constructor(
    private readonly pool: Pool,
    private readonly hasher: SecretHasher,
    private readonly gate: HashGate,
  ) {}

  async createAdmin(username: string, password: string, actor: Actor): Promise<Admin> {
    if (!USERNAME_PATTERN.test(username)) {
      throw new InputError('invalid_username', `username "${username}" must be 1-64 letters, digits, '.', '_', '@' or '-'`);
    }
    checkPassword(password);
    const hash = await this.gate.run(() => this.hasher.hash(password));
    try {
      return await withTransaction(this.pool, async (client) => {
        const { rows } = await client.query(
          'INSERT INTO admins (username, password_hash) VALUES ($1::text, $2::text) RETURNING id, username, created_at',
          [username, hash],
        );
        await recordAudit(client, { event: 'admin.created', actor, details: { username } });
        return { id: rows[0].id, username: rows[0].username, createdAt: rows[0].created_at };
      });
    } catch (err) {
      if (isUniqueViolation(err)) throw new InputError('username_taken', `administrator "${username}" already exists`, 409);
      throw err;
    }
  }

  /** The administrator, or null; an unknown name costs the same time as a wrong password. */
  async verifyAdmin(username: string, password: string): Promise<Admin | null> {
    const { rows } = await this.pool.query('SELECT id, username, created_at, password_hash FROM admins WHERE username = $1::text', [
      username,
    ]);
    const row = rows[0];
    const ok = await this.gate.run(() =>
      row ? this.hasher.verify(row.password_hash, password) : this.hasher.verifyDummy(password),
    );
    return ok && row ? { id: row.id, username: row.username, createdAt: row.created_at } : null;
  }

  /** Sets the web password and its "must change at next sign-in" flag in one audited write. */
  async setUserPassword(userId: number, password: string, actor: Actor, options: { mustChange?: boolean } = {}): Promise<void> {
    checkPassword(password);
    const mustChange = options.mustChange ?? false;
    const hash = await this.gate.run(() => this.hasher.hash(password));
    await withTransaction(this.pool, async (client) => {
      const { rows } = await client.query('SELECT extension FROM users WHERE id = $1::bigint', [userId]);
      if (!rows[0]) throw new NotFoundError(`user ${userId}`);
      await client.query(
        `INSERT INTO web_passwords (user_id, password_hash, must_change) VALUES ($1::bigint, $2::text, $3::boolean)
         ON CONFLICT (user_id) DO UPDATE
           SET password_hash = EXCLUDED.password_hash, must_change = EXCLUDED.must_change, changed_at = now()`,
        [userId, hash, mustChange],
      );
      await recordAudit(client, { event: 'web_password.changed', actor, userId, extension: rows[0].extension, details: { mustChange } });
    });
  }

  /** Whether the user must choose a new web password before anything else on the self-service page. */
  async userPasswordMustChange(userId: number): Promise<boolean> {
    const { rows } = await this.pool.query('SELECT must_change FROM web_passwords WHERE user_id = $1::bigint', [userId]);
    return rows[0]?.must_change === true;
  }

  /** The user id for a correct extension and web password, or null (same time either way). */
  async verifyUserPassword(extension: string, password: string): Promise<number | null> {
    const { rows } = await this.pool.query(
      `SELECT u.id, w.password_hash FROM users u JOIN web_passwords w ON w.user_id = u.id WHERE u.extension = $1::text`,
      [extension],
    );
    const row = rows[0];
    const ok = await this.gate.run(() =>
      row ? this.hasher.verify(row.password_hash, password) : this.hasher.verifyDummy(password),
    );
    return ok && row ? (row.id as number) : null;
  }
}
