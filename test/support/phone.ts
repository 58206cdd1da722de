import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll } from 'vitest';
import { createApp } from '../../src/app.js';
import { simulateCall, type CallTranscript, type SimulateCallOptions } from '../../src/cli/simulator.js';
import type { Config } from '../../src/config.js';
import { createPool, type Pool } from '../../src/db/pool.js';
import type { Logger } from '../../src/logger.js';
import type { PromptCatalog } from '../../src/prompts.js';
import { promptMatcher } from './prompt-matcher.js';
import { createServices, type Services } from '../../src/runtime.js';
import { createTestDatabase, type TestDatabase } from './db.js';
import { silentLogger, testConfig } from './services.js';

export interface PhoneServer {
  baseUrl: string;
  services: Services;
  server: Server;
  close(): Promise<void>;
}

/**
 * Serves the real app on an ephemeral port, with PUBLIC_BASE_URL set to that port so Twilio
 * signatures check out, on the given database.
 */
export async function startPhoneServer(
  databaseUrl: string,
  overrides: Partial<Config> = {},
  { pool, logger = silentLogger, services: serviceOptions = {} }: { pool?: Pool; logger?: Logger; services?: Parameters<typeof createServices>[3] } = {},
): Promise<PhoneServer> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const baseUrl = overrides.publicBaseUrl ?? `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const ownPool = pool ?? createPool(databaseUrl, silentLogger, 10);
  const services = createServices(testConfig({ ...overrides, publicBaseUrl: baseUrl }), logger, ownPool, serviceOptions);
  server.on('request', createApp(services));
  return {
    baseUrl,
    services,
    server,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await services.notifications.stop();
      if (!pool) await ownPool.end();
    },
  };
}

export interface PhoneFixture {
  phone: PhoneServer;
  database: TestDatabase;
  services: Services;
  call(keys: string[], options?: Partial<SimulateCallOptions>): Promise<CallTranscript>;
}

/** A fresh database and a phone server on it for the calling test file. */
export function usePhoneServer(overrides: Partial<Config> = {}): PhoneFixture {
  const fixture = {} as PhoneFixture;
  beforeAll(async () => {
    fixture.database = await createTestDatabase();
    fixture.phone = await startPhoneServer(fixture.database.url, overrides);
    fixture.services = fixture.phone.services;
    fixture.call = (keys, options = {}) =>
      simulateCall({ baseUrl: fixture.phone.baseUrl, authToken: fixture.services.config.twilioAuthToken, keys, ...options });
  });
  afterAll(async () => {
    await fixture.phone?.close();
    await fixture.database?.drop();
  });
  return fixture;
}

/** Turns what the caller heard back into prompt keys, with {params} where a prompt has them. */
export function heardKeys(transcript: CallTranscript, catalog: PromptCatalog): string[] {
  const keyOf = promptMatcher(catalog);
  return transcript.said.map(keyOf);
}

/** Posts one webhook as Twilio would (signed), or with the given signature; returns status and body. */
export async function postWebhook(
  baseUrl: string,
  authToken: string,
  pathAndQuery: string,
  params: Record<string, string>,
  signature?: string | null,
  transportBase?: string,
): Promise<{ status: number; body: string }> {
  const { signTwilioRequest } = await import('../../src/voice/signature.js');
  const url = `${baseUrl}${pathAndQuery}`;
  const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded' };
  const sig = signature === undefined ? signTwilioRequest(authToken, url, params) : signature;
  if (sig !== null) headers['x-twilio-signature'] = sig;
  const response = await fetch(`${transportBase ?? baseUrl}${pathAndQuery}`, {
    method: 'POST',
    headers,
    body: new URLSearchParams(params).toString(),
  });
  return { status: response.status, body: await response.text() };
}

/** The action URL's path and query from a TwiML answer (the sealed state included). */
export function actionOf(twiml: string): string {
  const match = /action="([^"]+)"/.exec(twiml);
  if (!match) throw new Error(`no Gather action in ${twiml}`);
  const url = new URL((match[1] as string).replace(/&amp;/g, '&'));
  return url.pathname + url.search;
}

/** What one TwiML answer says, as prompt keys (see heardKeys). */
function keysOf(twiml: string, catalog: PromptCatalog): string[] {
  const said = [...twiml.matchAll(/<Say[^>]*>([^<]*)<\/Say>/g)].map((m) =>
    (m[1] as string).replace(/&apos;/g, "'").replace(/&quot;/g, '"').replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&'),
  );
  return heardKeys({ said } as CallTranscript, catalog);
}

/** One answer of a hand-driven call: what was said, and the action to post next (null after a hang-up). */
export interface Answer {
  status: number;
  body: string;
  said: string[];
  action: string | null;
}

/**
 * Drives a call webhook by webhook, as someone holding the auth token could: any action URL may
 * be posted again, with any keys, under any CallSid.
 */
export class WebhookCaller {
  constructor(
    private readonly server: PhoneServer,
    readonly callSid: string,
    private readonly from = '+15550000100',
  ) {}

  private params(extra: Record<string, string> = {}): Record<string, string> {
    return { CallSid: this.callSid, From: this.from, To: '+15550000199', AccountSid: 'AC0', ...extra };
  }

  private async post(path: string, params: Record<string, string>): Promise<Answer> {
    const { status, body } = await postWebhook(this.server.baseUrl, this.server.services.config.twilioAuthToken, path, params);
    return { status, body, said: keysOf(body, this.server.services.catalog), action: /action="/.test(body) ? actionOf(body) : null };
  }

  incoming(): Promise<Answer> {
    return this.post('/voice/incoming', this.params());
  }

  /** Posts keys to an action URL (digits without the finish key, as Twilio sends them). */
  press(action: string | null, digits: string): Promise<Answer> {
    if (action === null) throw new Error('the call has ended: there is no action to post to');
    return this.post(action, this.params({ Digits: digits }));
  }
}
