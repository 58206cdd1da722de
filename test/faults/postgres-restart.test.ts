import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { simulateCall, type CallTranscript } from '../../src/cli/simulator.js';
import { startEmbeddedPostgres, type EmbeddedDatabase } from '../../src/db/embedded.js';
import { migrate } from '../../src/db/migrate.js';
import { createUser } from '../support/factories.js';
import { heardKeys, startPhoneServer, type PhoneServer } from '../support/phone.js';
import { silentLogger } from '../support/services.js';
import { freePort } from '../../src/net.js';

/** Generous: the database is back in a second or two; the bound is for a loaded CI machine. */
const BACK_WITHIN_MS = 30_000;


/** This file's own Postgres, on a fixed port, so that it comes back where the pool expects it. */
let dir: string;
let port: number;
let database: EmbeddedDatabase | null = null;
let phone: PhoneServer;

const startDatabase = async () => {
  database = await startEmbeddedPostgres(path.join(dir, 'pg'), silentLogger, { persistent: true, port });
  return database;
};

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'pinline-fault-pg-'));
  // As root the cluster runs as the postgres user, which must be able to enter the directory.
  chmodSync(dir, 0o755);
  port = await freePort();
  const { databaseUrl } = await startDatabase();
  await migrate(databaseUrl);
  phone = await startPhoneServer(databaseUrl);
});

afterAll(async () => {
  await phone?.close();
  await database?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const call = (keys: string[] | (() => Promise<string | null>)) =>
  simulateCall({ baseUrl: phone.baseUrl, authToken: phone.services.config.twilioAuthToken, keys });

describe('Postgres restarted under load', () => {
  it('when Postgres restarts while calls are in progress, then turns that need it hear [error.unavailable] in HTTP 200, menu turns go on, and new calls work again within seconds', async () => {
    const users = await Promise.all(Array.from({ length: 6 }, () => createUser(phone.services)));
    const heard = (t: CallTranscript) => heardKeys(t, phone.services.catalog);

    // A call signed in before the restart: its menu turns need no database.
    let menuKeys = 0;
    let releaseMenu: () => void = () => undefined;
    const menuMayGoOn = new Promise<void>((resolve) => (releaseMenu = resolve));
    let atMenu: () => void = () => undefined;
    const reachedMenu = new Promise<void>((resolve) => (atMenu = resolve));
    const [first] = users as [(typeof users)[number]];
    const menuCall = call(async () => {
      menuKeys++;
      if (menuKeys === 3) {
        atMenu();
        await menuMayGoOn;
      }
      return [`${first.extension}#`, `${first.pin}#`, '2', '2', '*'][menuKeys - 1] ?? null;
    });
    await reachedMenu;

    // Callers signing in over and over, while Postgres goes away and comes back.
    let stop = false;
    const transcripts: CallTranscript[] = [];
    const callers = users.slice(1).map(async (user) => {
      while (!stop) transcripts.push(await call([`${user.extension}#`, `${user.pin}#`, '2', '*']));
    });
    await new Promise((resolve) => setTimeout(resolve, 500));
    await database?.stop();
    database = null;
    // While it is down: the signed-in call's menu turns still work.
    releaseMenu();
    const menu = await menuCall;
    await new Promise((resolve) => setTimeout(resolve, 500));
    const downAt = Date.now();
    await startDatabase();
    stop = true;
    await Promise.all(callers);

    expect(menu.error).toBeNull();
    expect(heard(menu).slice(-5)).toEqual(['pin.status{days=180}', 'menu.main', 'pin.status{days=180}', 'menu.main', 'goodbye']);
    // Every turn was answered with HTTP 200 and TwiML, whatever happened to the database.
    expect(transcripts.filter((t) => t.error !== null).map((t) => t.error)).toEqual([]);
    const outcomes = transcripts.map((t) => heard(t).at(-1));
    expect(outcomes).toContain('error.unavailable');
    expect(outcomes.every((o) => o === 'goodbye' || o === 'error.unavailable')).toBe(true);

    // New calls: working again within seconds of Postgres being back.
    const user = users[1] as (typeof users)[number];
    let after: CallTranscript;
    do {
      after = await call([`${user.extension}#`, `${user.pin}#`, '*']);
      if (heard(after).at(-1) !== 'goodbye') await new Promise((resolve) => setTimeout(resolve, 200));
    } while (heard(after).at(-1) !== 'goodbye' && Date.now() - downAt < BACK_WITHIN_MS);
    expect(after.error).toBeNull();
    expect(heard(after).slice(-2)).toEqual(['menu.main', 'goodbye']);
  });
});
