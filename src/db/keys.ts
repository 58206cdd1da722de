import { NOTIFY_QUEUE } from './notifications.js';
import type { Queryable } from './pool.js';

/** How many stored hashes one pepper made, by where they are kept. */
export interface PepperUse {
  /** The id the hashes record; null for hashes made before hashes recorded their pepper. */
  pepperId: string | null;
  pinHashes: number;
  historyHashes: number;
  /** Users' self-service passwords and administrators' passwords. */
  webPasswords: number;
}

/** How many queued messages carry a PIN sealed under one SESSION_SECRET. */
export interface SessionSecretUse {
  /** null for messages queued before they recorded the secret. */
  secretId: string | null;
  queuedMessages: number;
}

/**
 * The `data=` parameter of a PHC string ($argon2id$v=19$m=…,p=…,t=…,data=…$salt$hash): argon2's
 * associated data, base64 without padding, which holds the pepper id (pin/hasher.ts).
 */
const PEPPER_LABEL = '^\\$argon2id\\$v=[0-9]+\\$[^$]*data=([A-Za-z0-9+/]+)';

/** Every stored argon2 hash counted by the pepper it records (DESIGN §6, `pinline keys status`). */
export async function countHashesByPepper(db: Queryable): Promise<PepperUse[]> {
  const { rows } = await db.query(
    `WITH hashes AS (
       SELECT 'pin' AS kind, pin_hash AS hash FROM pin_credentials
       UNION ALL SELECT 'history', pin_hash FROM pin_history
       UNION ALL SELECT 'web', password_hash FROM web_passwords
       UNION ALL SELECT 'web', password_hash FROM admins WHERE password_hash IS NOT NULL
     ), labels AS (
       SELECT kind, substring(hash FROM $1::text) AS label FROM hashes
     )
     SELECT encode(decode(rpad(label, (length(label) + 3) / 4 * 4, '='), 'base64'), 'hex') AS pepper_id,
            count(*) FILTER (WHERE kind = 'pin')::int AS pin_hashes,
            count(*) FILTER (WHERE kind = 'history')::int AS history_hashes,
            count(*) FILTER (WHERE kind = 'web')::int AS web_passwords
       FROM labels GROUP BY 1 ORDER BY 1 NULLS LAST`,
    [PEPPER_LABEL],
  );
  return rows.map((r) => ({
    pepperId: r.pepper_id as string | null,
    pinHashes: r.pin_hashes as number,
    historyHashes: r.history_hashes as number,
    webPasswords: r.web_passwords as number,
  }));
}

/** Reset messages waiting in the queue, counted by the SESSION_SECRET their PIN is sealed under. */
export async function countQueuedBySessionSecret(db: Queryable): Promise<SessionSecretUse[]> {
  const { rows } = await db.query(
    `SELECT data->'notice'->>'sealedUnder' AS secret_id, count(*)::int AS queued
       FROM pgboss.job
      WHERE name = $1::text AND state < 'completed' AND data->'notice'->>'kind' = 'pin_reset'
      GROUP BY 1 ORDER BY 1 NULLS LAST`,
    [NOTIFY_QUEUE],
  );
  return rows.map((r) => ({ secretId: r.secret_id as string | null, queuedMessages: r.queued as number }));
}
