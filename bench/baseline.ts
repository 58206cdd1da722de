/**
 * The stateless TwiML baseline: what a bare Twilio sample IVR costs. A minimal express app with
 * twilio's VoiceResponse answering a one-key menu: no database, no signature check, no state.
 * Run as a child of bench/run.ts; it reports its port over IPC.
 */
import type { AddressInfo } from 'node:net';
import express from 'express';
import twilio from 'twilio';
import { WindowProfiler } from './lib/profiler.js';
import type { Ready, Reply, Request } from './lib/protocol.js';

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
// The bench asks the baseline only for its CPU time and, when profiling, a profile of a window.
const profiler = new WindowProfiler();
process.on('message', (request: Request) => {
  const answer = async (): Promise<Reply> => {
    switch (request.type) {
      case 'cpu': {
        const { user, system } = process.cpuUsage();
        return { id: request.id, type: 'cpu', userMicros: user, systemMicros: system };
      }
      case 'profile-start':
        await profiler.start();
        return { id: request.id, type: 'profile-start' };
      case 'profile-stop':
        await profiler.stop(request.file);
        return { id: request.id, type: 'profile-stop' };
      default:
        return { id: request.id, type: 'error', message: `the baseline does not answer ${request.type}` };
    }
  };
  answer().then((reply) => process.send?.(reply));
});
process.on('disconnect', () => {
  server.closeAllConnections();
  server.close(() => process.exit(0));
});
