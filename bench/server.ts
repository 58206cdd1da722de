/**
 * A pinline instance for the bench: the same wiring as src/main.ts (configuration from the
 * environment, production logger at LOG_LEVEL, the real createServices/createApp), plus
 * instrumentation the bench reads over IPC: database round-trips counted at the connection
 * level, memory after GC, and the raw argon2 ceiling measured in this very process.
 *
 * Run as a child of bench/run.ts with --expose-gc and an IPC channel.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import argon2 from 'argon2';
import type pg from 'pg';
import { createApp } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import { createPool } from '../src/db/pool.js';
import { createLogger } from '../src/logger.js';
import { createServices } from '../src/runtime.js';
import { WindowProfiler } from './lib/profiler.js';
import type { DbCounters, MemorySample, Ready, Reply, Request } from './lib/protocol.js';

const config = loadConfig();
const logger = createLogger(config.logLevel, config.nodeEnv);
const pool = createPool(config.databaseUrl ?? '', logger, config.dbPoolSize);

// Count at the connection level, so every path (pool.query, withTransaction) is seen once:
// 'acquire' fires for each checkout, and each physical client's query() is wrapped once.
const counters: DbCounters = { checkouts: 0, statements: 0, transactions: 0 };
pool.on('acquire', () => {
  counters.checkouts++;
});
pool.on('connect', (client: pg.PoolClient) => {
  const original = client.query.bind(client) as (...args: unknown[]) => unknown;
  const counted = (...args: unknown[]): unknown => {
    counters.statements++;
    const first = args[0];
    const text = typeof first === 'string' ? first : typeof first === 'object' && first !== null && 'text' in first ? String(first.text) : '';
    if (/^\s*BEGIN\b/i.test(text)) counters.transactions++;
    return original(...args);
  };
  Object.assign(client, { query: counted });
});

const services = createServices(config, logger, pool);

// Where a hashing slot's time goes: argon2 itself (timed around the argon2 module's own
// functions, so waiting for a thread is not counted), or the rest of the turn done while holding
// the slot (its database transaction). Summed over turns, read and reset over IPC.
const slotTimes = { turns: 0, slotHeldMs: 0, hashingMs: 0, queuedMs: 0 };
{
  const timed =
    <A extends unknown[], R>(fn: (...args: A) => Promise<R>) =>
    async (...args: A): Promise<R> => {
      const started = performance.now();
      try {
        return await fn(...args);
      } finally {
        slotTimes.hashingMs += performance.now() - started;
      }
    };
  Object.assign(argon2, { verify: timed(argon2.verify), hash: timed(argon2.hash) });
  const { gate } = services;
  const run = gate.run.bind(gate);
  gate.run = async <T>(work: () => Promise<T>): Promise<T> => {
    const asked = performance.now();
    let granted = 0;
    try {
      return await run(() => {
        granted = performance.now();
        slotTimes.queuedMs += granted - asked;
        return work();
      });
    } finally {
      if (granted > 0) {
        slotTimes.turns++;
        slotTimes.slotHeldMs += performance.now() - granted;
      }
    }
  };
}

/** How many argon2 operations the service runs at once: its hasher's threads. */
const hashThreads = Number.isFinite(services.hasher.threads) ? services.hasher.threads : services.gate.slots;

const app = createApp(services);
const server = createServer(app);

function memory(): MemorySample {
  const m = process.memoryUsage();
  return { rss: m.rss, heapUsed: m.heapUsed, external: m.external, arrayBuffers: m.arrayBuffers };
}

function collect(): void {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('run with --expose-gc');
  // Twice: the first pass can leave finalizer work for the second.
  gc();
  gc();
}

const profiler = new WindowProfiler();
let sampler: NodeJS.Timeout | null = null;
let peak: MemorySample = memory();
let samples = 0;

/** argon2 verifications back to back, as many at a time as the service's hasher runs, no HTTP, no database. */
async function argon2Ceiling(durationMs: number): Promise<{ verifies: number; seconds: number }> {
  const hash = await services.hasher.hash('860472');
  // One untimed round to warm the thread pool.
  await Promise.all(Array.from({ length: hashThreads }, () => services.hasher.verify(hash, '860472')));
  let verifies = 0;
  const started = process.hrtime.bigint();
  const deadline = started + BigInt(durationMs) * 1_000_000n;
  const lane = async () => {
    while (process.hrtime.bigint() < deadline) {
      if (!(await services.hasher.verify(hash, '860472'))) throw new Error('argon2 ceiling: verify returned false');
      verifies++;
    }
  };
  await Promise.all(Array.from({ length: hashThreads }, lane));
  return { verifies, seconds: Number(process.hrtime.bigint() - started) / 1e9 };
}

async function handle(request: Request): Promise<Reply> {
  switch (request.type) {
    case 'counters': {
      const snapshot = { ...counters };
      if (request.reset) Object.assign(counters, { checkouts: 0, statements: 0, transactions: 0 });
      return { id: request.id, type: 'counters', counters: snapshot };
    }
    case 'memory':
      collect();
      return { id: request.id, type: 'memory', afterGc: memory() };
    case 'sample-start':
      peak = memory();
      samples = 0;
      sampler = setInterval(() => {
        const m = memory();
        samples++;
        if (m.rss > peak.rss) peak = { ...peak, rss: m.rss };
        if (m.heapUsed > peak.heapUsed) peak = { ...peak, heapUsed: m.heapUsed };
        if (m.external > peak.external) peak = { ...peak, external: m.external };
      }, 5);
      return { id: request.id, type: 'sample-start' };
    case 'sample-stop':
      if (sampler) clearInterval(sampler);
      sampler = null;
      return { id: request.id, type: 'sample-stop', peak, samples };
    case 'argon2-ceiling': {
      const { verifies, seconds } = await argon2Ceiling(request.durationMs);
      return {
        id: request.id,
        type: 'argon2-ceiling',
        verifies,
        seconds,
        slots: services.gate.slots,
        threads: hashThreads,
        threadpool: Number(process.env.UV_THREADPOOL_SIZE ?? 4),
      };
    }
    case 'gate':
      return { id: request.id, type: 'gate', slots: services.gate.slots, inUse: services.gate.inUse, queued: services.gate.queued };
    case 'cpu': {
      const { user, system } = process.cpuUsage();
      return { id: request.id, type: 'cpu', userMicros: user, systemMicros: system };
    }
    case 'slot-times': {
      const snapshot = { ...slotTimes };
      if (request.reset) Object.assign(slotTimes, { turns: 0, slotHeldMs: 0, hashingMs: 0, queuedMs: 0 });
      return { id: request.id, type: 'slot-times', ...snapshot };
    }
    case 'profile-start':
      await profiler.start();
      return { id: request.id, type: 'profile-start' };
    case 'profile-stop':
      await profiler.stop(request.file);
      return { id: request.id, type: 'profile-stop' };
  }
}

process.on('message', (message: Request) => {
  handle(message).then(
    (reply) => process.send?.(reply),
    (err: unknown) => process.send?.({ id: message.id, type: 'error', message: err instanceof Error ? err.message : String(err) } satisfies Reply),
  );
});
process.on('disconnect', () => {
  server.closeAllConnections();
  server.close(() => void pool.end().then(() => process.exit(0)));
});

server.listen(config.port, '127.0.0.1', () => {
  const ready: Ready = { type: 'ready', port: (server.address() as AddressInfo).port };
  process.send?.(ready);
});
