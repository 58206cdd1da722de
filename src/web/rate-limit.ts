import type { Request, Response } from 'express';
import { rateLimit, type RateLimitRequestHandler } from 'express-rate-limit';

export interface SigninLimit {
  /** Failed sign-ins allowed per client address within the window. */
  limit: number;
  windowMs: number;
}

export const DEFAULT_SIGNIN_LIMIT: SigninLimit = { limit: 10, windowMs: 15 * 60_000 };

/**
 * Throttles sign-in guessing per client address. Only failures count (a sign-in answers 303 on
 * success), so a colleague signing in and out all day is never shut out.
 */
export function signinLimiter(
  limit: SigninLimit,
  onLimited: (req: Request, res: Response, retryAfterMinutes: number) => Promise<void>,
): RateLimitRequestHandler {
  return rateLimit({
    windowMs: limit.windowMs,
    limit: limit.limit,
    skipSuccessfulRequests: true,
    standardHeaders: 'draft-8',
    legacyHeaders: false,
    handler: (req, res, next) => {
      onLimited(req, res, Math.max(1, Math.ceil(limit.windowMs / 60_000))).catch(next);
    },
  });
}
