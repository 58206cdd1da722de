import { timingSafeEqual } from 'node:crypto';
import type { RequestHandler } from 'express';
import twilio from 'twilio';

function sameSignature(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/**
 * Refuses any /voice request whose X-Twilio-Signature does not match PUBLIC_BASE_URL + path
 * and query with the form parameters: 403, no TwiML, nothing read or written.
 */
export function requireTwilioSignature(authToken: string, publicBaseUrl: string): RequestHandler {
  return (req, res, next) => {
    const signature = req.header('x-twilio-signature');
    const url = publicBaseUrl + req.originalUrl;
    const params = (req.body ?? {}) as Record<string, string>;
    // The URL exactly as Twilio signed it is checked first, with one HMAC; only a request that
    // fails it pays for twilio's variants (with and without the port, re-encoded queries).
    const valid =
      !!signature &&
      (sameSignature(signature, twilio.getExpectedTwilioSignature(authToken, url, params)) ||
        twilio.validateRequest(authToken, signature, url, params));
    if (!valid) {
      res.status(403).type('text/plain').send('invalid Twilio signature');
      return;
    }
    next();
  };
}

/** The signature Twilio would send; used by the call simulator and tests. */
export function signTwilioRequest(authToken: string, url: string, params: Record<string, string>): string {
  return twilio.getExpectedTwilioSignature(authToken, url, params);
}
