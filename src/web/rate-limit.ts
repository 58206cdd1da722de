import type { Request, Response } from 'express';
import { rateLimit, type RateLimitInfo, type RateLimitRequestHandler } from 'express-rate-limit';

export interface SigninLimit {
  /** Failed sign-ins allowed per client address within the window. */
  limit: number;
  windowMs: number;
}

export const DEFAULT_SIGNIN_LIMIT: SigninLimit = { limit: 10, windowMs: 15 * 60_000 };

export interface Refusal {
  retryAfterMinutes: number;
  /**
   * True for the first refusal of a key in its window, which alone is audited: further refusals
   * are only counted, so flooding a limited form cannot grow the audit table.
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
 * library's default subnet), or by `key`.
 */
export function credentialLimiter(
  limit: SigninLimit,
  onRefused: (req: Request, res: Response, refusal: Refusal) => Promise<void>,
  options: { key?: (req: Request) => string } = {},
): RateLimitRequestHandler {
  return rateLimit({
    windowMs: limit.windowMs,
    limit: limit.limit,
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
