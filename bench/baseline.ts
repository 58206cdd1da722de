/**
 * The stateless TwiML baseline: what a bare Twilio sample IVR costs. A minimal express app with
 * twilio's VoiceResponse answering a one-key menu: no database, no signature check, no state.
 * Run as a child of bench/run.ts; it reports its port over IPC.
 */
import type { AddressInfo } from 'node:net';
import express from 'express';
import twilio from 'twilio';
import type { Ready } from './lib/protocol.js';

const app = express();
app.use(express.urlencoded({ extended: false }));

app.post('/voice/menu', (req, res) => {
  const digits = (req.body as Record<string, string | undefined>).Digits;
  const response = new twilio.twiml.VoiceResponse();
  if (digits === '2') response.say({ voice: 'Polly.Joanna', language: 'en-US' }, 'Your PIN will expire in 180 days.');
  const gather = response.gather({ input: ['dtmf'], numDigits: 1, action: '/voice/menu', method: 'POST', timeout: 5 });
  gather.say(
    { voice: 'Polly.Joanna', language: 'en-US' },
    'To change your PIN, press 1. To hear your PIN status, press 2. To end the call, press star.',
  );
  response.redirect({ method: 'POST' }, '/voice/menu');
  res.type('text/xml').send(response.toString());
});

const server = app.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
  const ready: Ready = { type: 'ready', port: (server.address() as AddressInfo).port };
  process.send?.(ready);
});
process.on('disconnect', () => {
  server.closeAllConnections();
  server.close(() => process.exit(0));
});
