import { createHmac } from 'node:crypto';
import express, { Router, type Request, type Response } from 'express';
import { awaitsEffect, initialState, transition, type CallState, type DialogEvent, type Say, type Step } from '../dialog/index.js';
import type { SessionSecret } from '../keys.js';
import type { Services } from '../runtime.js';
import { runEffect, type CallContext } from './effects.js';
import { CallStateSealer, SealError } from './seal.js';
import { requireTwilioSignature } from './signature.js';
import { TwimlRenderer } from './twiml.js';

/** Every voice request carries the CallSid; a request without one is not from a Twilio call. */
const CALL_SID_PATTERN = /^[A-Za-z0-9]{1,64}$/;

type Body = Record<string, string | undefined>;

/**
 * Twilio's webhooks: the call comes in at /voice/incoming, then every turn posts to the action
 * URL (/voice/turn) or, after silence, follows the Redirect (/voice/no-input). The dialog state
 * travels sealed in those URLs, so any instance can serve any turn.
 */
export function createVoiceRouter(services: Services): Router {
  const { config, logger, metrics } = services;
  const sealer = new CallStateSealer(services.sessionKeys);
  /**
   * Identifies one request: the same URL (path and sealed state) with the same keys is a retry.
   * Keyed, so the audit table's fingerprints say nothing about the keys to a database reader; keyed
   * by the secret that sealed the state, so every instance agrees on it in the middle of a rotation.
   */
  const fingerprint = (secret: SessionSecret, path: string, callSid: string, sealed: string, digits: string): Buffer =>
    createHmac('sha256', secret.key('pinline request fingerprint')).update(`${path}\n${callSid}\n${sealed}\n${digits}`).digest();
  const twiml = new TwimlRenderer({ catalog: services.catalog, voices: config.voices }, config.publicBaseUrl);
  const router = Router();

  router.use('/voice', express.urlencoded({ extended: false, limit: '16kb' }));
  router.use('/voice', requireTwilioSignature(config.twilioAuthToken, config.publicBaseUrl));

  // Written directly rather than through res.send: a webhook answer needs no ETag (a hash of
  // every body) nor express's content-type negotiation, and each turn paid for both.
  const sendTwiml = (res: Response, xml: string) => {
    res.writeHead(200, { 'Content-Type': 'text/xml; charset=utf-8', 'Content-Length': Buffer.byteLength(xml) });
    res.end(xml);
  };

  /** Feeds effect results back into the dialog until it waits for the caller again. */
  async function advance(context: CallContext, state: CallState, event: DialogEvent): Promise<{ step: Step; say: Say[] }> {
    let step = transition(state, event);
    const say = [...step.say];
    for (;;) {
      let next: DialogEvent | null = null;
      for (const effect of step.effects) {
        const result = await runEffect(services, context, effect);
        if (result) next = result;
      }
      if (!awaitsEffect(step.state) || next === null) break;
      step = transition(step.state, next);
      say.push(...step.say);
    }
    return { step, say };
  }

  async function answer(req: Request, res: Response, started: number, sealed: string, turn: number, state: CallState, event: DialogEvent, sealedUnder: SessionSecret = sealer.secrets.current) {
    const body = req.body as Body;
    const callSid = body.CallSid as string;
    const digits = event.type === 'digits' ? event.digits : '';
    const context: CallContext = {
      call: { callSid, turn, requestKey: fingerprint(sealedUnder, req.path, callSid, sealed, digits) },
      from: body.From ?? '',
      actor: { channel: 'phone', name: body.From ? `caller:${body.From}` : 'caller' },
    };
    const { step, say } = await advance(context, state, event);
    const locale = step.state.locale;
    const next = step.gather ? sealer.seal(callSid, { turn: turn + 1, state: step.state }) : null;
    // Checked first so that a turn at the usual log level builds no child logger nor log object.
    if (logger.isLevelEnabled('debug')) {
      logger.child({ callSid, turn }).debug({ phase: step.state.phase.name, prompts: say.map((s) => s.key), hangup: !step.gather }, 'turn');
    }
    sendTwiml(res, twiml.render(locale, { say, gather: step.gather, hangup: step.hangup }, next));
    // Counted under the phase the caller answered; the call's start has none yet ("incoming").
    metrics.turn(state.phase.name === 'start' ? 'incoming' : state.phase.name, started);
  }

  /** Any failure inside a call is spoken, never a 5xx that Twilio reads as "an application error". */
  const guarded = (handler: (req: Request, res: Response, started: number) => Promise<void>) => async (req: Request, res: Response) => {
    const started = performance.now();
    try {
      const callSid = (req.body as Body).CallSid;
      if (!callSid || !CALL_SID_PATTERN.test(callSid)) {
        sendTwiml(res, twiml.unavailable(config.defaultLocale));
        return;
      }
      await handler(req, res, started);
    } catch (err) {
      const callSid = (req.body as Body | undefined)?.CallSid;
      if (err instanceof SealError) logger.warn({ callSid, reason: err.message }, 'call state refused');
      else logger.error({ callSid, err: { message: (err as Error).message, stack: (err as Error).stack } }, 'voice turn failed');
      if (!res.headersSent) sendTwiml(res, twiml.unavailable(config.defaultLocale));
    }
  };

  router.post(
    '/voice/incoming',
    guarded(async (req, res, started) => {
      logger.info({ callSid: (req.body as Body).CallSid }, 'call started');
      metrics.callStarted();
      // The first turn only reads (caller ID), so a CallSid used again gains nothing from it.
      await answer(req, res, started, '', 0, initialState(config.defaultLocale), { type: 'call_started', defaultLocale: config.defaultLocale });
    }),
  );

  const continueCall = (eventOf: (body: Body) => DialogEvent) =>
    guarded(async (req, res, started) => {
      const body = req.body as Body;
      // Read once: express 5 parses the query string again on every access to req.query.
      const { s: sealed } = req.query;
      const token = typeof sealed === 'string' ? sealed : '';
      const { turn, state, sealedUnder } = sealer.open(body.CallSid as string, token);
      await answer(req, res, started, token, turn, state, eventOf(body), sealedUnder);
    });

  router.post(
    '/voice/turn',
    continueCall((body) => (body.Digits ? { type: 'digits', digits: body.Digits } : { type: 'no_input' })),
  );
  router.post('/voice/no-input', continueCall(() => ({ type: 'no_input' })));

  router.post('/voice/status', (req, res) => {
    const body = req.body as Body;
    // Nothing is kept per call: the state lived in the URLs and is gone with them.
    logger.info({ callSid: body.CallSid, callStatus: body.CallStatus, duration: body.CallDuration }, 'call status');
    res.status(204).end();
  });

  // Unknown /voice paths still answer in TwiML, so a misconfigured URL is heard, not an error.
  router.post(
    '/voice{/*rest}',
    guarded(async (_req, res) => sendTwiml(res, twiml.unavailable(config.defaultLocale))),
  );

  return router;
}
