import type { RequestHandler } from 'express';
import twilio from 'twilio';

/**
 * Refuses any /voice request whose X-Twilio-Signature does not match PUBLIC_BASE_URL + path
 * and query with the form parameters: 403, no TwiML, nothing read or written.
 */
export function requireTwilioSignature(authToken: string, publicBaseUrl: string): RequestHandler {
  return (req, res, next) => {
    const signature = req.header('x-twilio-signature');
    const url = publicBaseUrl + req.originalUrl;
    const params = (req.body ?? {}) as Record<string, string>;
    if (!signature || !twilio.validateRequest(authToken, signature, url, params)) {
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
