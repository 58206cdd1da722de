import { lockRequest, type CallTurn } from '../db/audit.js';
import { withTransaction, type Pool, type PoolClient } from '../db/pool.js';

/**
 * Runs `apply` in a transaction, once per request: when the same request (the same sealed
 * state and keys) already wrote its events (a Twilio retry), `replay` answers from them
 * instead. The unique (request_key, event) key in the database backs this up: no request's
 * effects can ever be written twice.
 */
export async function oncePerRequest<T>(
  pool: Pool,
  call: CallTurn | undefined,
  apply: (client: PoolClient) => Promise<T>,
  replay: (events: string[], client: PoolClient) => Promise<T>,
): Promise<T> {
  return withTransaction(pool, async (client) => {
    if (call) {
      // Deliveries of one request run one after another, so a retry that arrives while the
      // first is still running sees its events instead of applying the request again.
      const events = await lockRequest(client, call);
      if (events.length > 0) return replay(events, client);
    }
    return apply(client);
  });
}
