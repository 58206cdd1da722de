import type { Request, Response } from 'express';
import { rateLimit, type ClientRateLimitInfo, type Options, type RateLimitInfo, type RateLimitRequestHandler, type Store } from 'express-rate-limit';
import type { Pool } from '../db/pool.js';
import { decrementHits, deleteEndedWindows, deleteHits, findHits, incrementHits } from '../db/rate-limits.js';

export interface SigninLimit {
  /** Failed sign-ins allowed per client address within the window. */
  limit: number;
  windowMs: number;
}

export const DEFAULT_SIGNIN_LIMIT: SigninLimit = { limit: 10, windowMs: 15 * 60_000 };

/** How often a store forgets windows that have ended. */
const PRUNE_EVERY_MS = 10 * 60_000;

/**
 * express-rate-limit's counters in Postgres, so that a limit holds across every instance behind
 * the load balancer (DESIGN §10). One atomic statement per hit. Written here rather than taken
 * from a package: the maintained Postgres stores create their tables at run time and take
 * session-level locks, which PgBouncer in transaction mode cannot carry.
 */
export class PostgresRateLimitStore implements Store {
  readonly localKeys = false;
  private windowMs = DEFAULT_SIGNIN_LIMIT.windowMs;
  private nextPruneAt = 0;

  constructor(
    private readonly pool: Pool,
    /** Keeps each limit's keys apart in the one table. */
    readonly prefix: string,
  ) {}

  init(options: Options): void {
    this.windowMs = options.windowMs;
  }

  async get(key: string): Promise<ClientRateLimitInfo | undefined> {
    const found = await findHits(this.pool, this.prefix + key);
    return found ? { totalHits: found.hits, resetTime: found.resetAt } : undefined;
  }

  async increment(key: string): Promise<ClientRateLimitInfo> {
    this.pruneNowAndThen();
    const { hits, resetAt } = await incrementHits(this.pool, this.prefix + key, this.windowMs);
    return { totalHits: hits, resetTime: resetAt };
  }

  async decrement(key: string): Promise<void> {
    await decrementHits(this.pool, this.prefix + key);
  }

  async resetKey(key: string): Promise<void> {
    await deleteHits(this.pool, this.prefix + key);
  }

  private pruneNowAndThen(): void {
    const now = Date.now();
    if (now < this.nextPruneAt) return;
    this.nextPruneAt = now + PRUNE_EVERY_MS;
    // Housekeeping only: a failure here costs nothing but a larger table until the next time.
    deleteEndedWindows(this.pool).catch(() => undefined);
  }
}

export interface Refusal {
  retryAfterMinutes: number;
  /**
   * True for the first refusal of a key in its window, which alone is audited: further refusals
   * are only counted, so flooding a limited form cannot grow the audit table. The count is shared
   * by every instance, so this is once per window in all.
   */
  firstInWindow: boolean;
}

/** Marks a request whose typed credential was wrong: only such requests count toward the limit. */
export function countAsFailure(res: Response): void {
  res.locals.credentialRejected = true;
}

/**
 * Throttles guessing of a password: only requests marked with countAsFailure count, so a
 * colleague signing in and out all day is never shut out. By client address (IPv6 by the
 * library's default subnet), or by `key`; counted in Postgres under `name`.
 */
export function credentialLimiter(
  pool: Pool,
  name: string,
  limit: SigninLimit,
  onRefused: (req: Request, res: Response, refusal: Refusal) => Promise<void>,
  options: { key?: (req: Request) => string } = {},
): RateLimitRequestHandler {
  return rateLimit({
    windowMs: limit.windowMs,
    limit: limit.limit,
    store: new PostgresRateLimitStore(pool, `${name}:`),
    skipSuccessfulRequests: true,
    // A refused request counts as well: it keeps the window's count rising, never falling.
    requestWasSuccessful: (_req, res) => res.statusCode !== 429 && res.locals.credentialRejected !== true,
    standardHeaders: 'draft-8',
    legacyHeaders: false,
    ...(options.key ? { keyGenerator: options.key } : {}),
    handler: (req, res, next) => {
      const info = (req as Request & { rateLimit?: RateLimitInfo }).rateLimit;
      const refusal: Refusal = {
        retryAfterMinutes: Math.max(1, Math.ceil(limit.windowMs / 60_000)),
        firstInWindow: info !== undefined && info.used === info.limit + 1,
      };
      onRefused(req, res, refusal).catch(next);
    },
  });
}
