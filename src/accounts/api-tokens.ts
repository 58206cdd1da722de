import { createHash, randomBytes } from 'node:crypto';
import type { Actor } from '../audit/actor.js';
import {
  insertApiToken,
  findLiveApiToken,
  listApiTokens,
  revokeApiToken,
  revokeApiTokenByName,
  touchApiToken,
  type ApiToken,
  type TokenAccess,
} from '../db/api-tokens.js';
import type { Queryable } from '../db/pool.js';
import { recordAudit } from '../db/audit.js';
import { isUniqueViolation } from '../db/constraints.js';
import { withTransaction, type Pool } from '../db/pool.js';
import { InputError, NotFoundError } from '../errors.js';
import { checkPlainText } from './model.js';

const TOKEN_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9 _.@-]{0,63}$/;
/** Recognisable in logs and secret scanners; the rest is 256 random bits. */
const TOKEN_PREFIX = 'pinline_';

function sha256(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}

/**
 * API bearer tokens: made and revoked by administrators, shown once, stored only as SHA-256
 * (a random 256-bit token needs no slow hash: there is nothing to guess).
 */
export class ApiTokenService {
  constructor(private readonly pool: Pool) {}

  list(): Promise<ApiToken[]> {
    return listApiTokens(this.pool);
  }

  /** Without `access`, an /api token with the `system` role, as every token was before roles. */
  async create(
    name: string,
    actor: Actor,
    access: TokenAccess = { kind: 'api', role: 'system' },
  ): Promise<{ token: string; record: ApiToken }> {
    if (!TOKEN_NAME_PATTERN.test(checkPlainText('token name', name))) {
      throw new InputError('invalid_token_name', `token name "${name}" must be 1-64 letters, digits, spaces, '.', '_', '@' or '-'`, 422);
    }
    const token = TOKEN_PREFIX + randomBytes(32).toString('base64url');
    try {
      const record = await withTransaction(this.pool, async (client) => {
        const created = await insertApiToken(client, { name, sha256: sha256(token), createdBy: actor.name, access });
        // "name", not "token": a field named token is redacted everywhere, and this is only its name.
        await recordAudit(client, { event: 'api_token.created', actor, details: { name, id: created.id, ...access } });
        return created;
      });
      return { token, record };
    } catch (err) {
      if (isUniqueViolation(err, 'api_tokens_active_name_key')) {
        throw new InputError('token_name_taken', `a live token named "${name}" already exists`, 409);
      }
      throw err;
    }
  }

  revoke(id: number, actor: Actor): Promise<ApiToken> {
    return this.revokeOne((client) => revokeApiToken(client, id), `live API token ${id}`, actor);
  }

  /** By name, as `pinline token revoke NAME` does: only one live token has a name. */
  revokeNamed(name: string, actor: Actor): Promise<ApiToken> {
    return this.revokeOne((client) => revokeApiTokenByName(client, name), `live token "${name}"`, actor);
  }

  private revokeOne(revoke: (client: Queryable) => Promise<ApiToken | null>, what: string, actor: Actor): Promise<ApiToken> {
    return withTransaction(this.pool, async (client) => {
      const revoked = await revoke(client);
      if (!revoked) throw new NotFoundError(what);
      await recordAudit(client, { event: 'api_token.revoked', actor, details: { name: revoked.name, id: revoked.id } });
      return revoked;
    });
  }

  /** The live token a bearer credential belongs to, or null. */
  async authenticate(token: string): Promise<ApiToken | null> {
    if (!token.startsWith(TOKEN_PREFIX) || token.length > 200) return null;
    const record = await findLiveApiToken(this.pool, sha256(token));
    if (record) await touchApiToken(this.pool, record.id);
    return record;
  }
}
