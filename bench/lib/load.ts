import { Agent, request as httpRequest } from 'node:http';
import autocannon from 'autocannon';

/** One webhook delivery, signed once in advance, as Twilio would send it. */
export interface Prepared {
  path: string;
  headers: Record<string, string>;
  body: string;
  /** Whatever the caller of the load wants back with the answer (e.g. the call it belongs to). */
  tag?: unknown;
}

export interface LoadResult {
  /** Answers received (any status). */
  responses: number;
  seconds: number;
  /** Answers per second. */
  rate: number;
  /** Per-answer latency, milliseconds, sorted ascending. */
  latencies: number[];
  statuses: Record<string, number>;
  /** Answer bodies classified by the caller's classifier (2xx only). */
  classes: Record<string, number>;
  /** Socket errors and timeouts: requests that never got an answer. */
  errors: number;
  timeouts: number;
}

export type Classifier = (status: number, body: string, tag: unknown) => string;

export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[index] as number;
}

function bump(counts: Record<string, number>, key: string): void {
  counts[key] = (counts[key] ?? 0) + 1;
}

interface CannonOptions {
  baseUrl: string;
  connections: number;
  /** Stop after this many answers, or after `durationSec`. */
  amount?: number;
  durationSec?: number;
  timeoutSec?: number;
  classify?: Classifier;
}

/**
 * Closed-loop load with autocannon over a fixed set of requests (each connection cycles through
 * them). Latencies are recorded per answer with sub-millisecond precision from autocannon's
 * response event, not from its integer histogram.
 */
export async function cannonFixed(requests: readonly Prepared[], options: CannonOptions): Promise<LoadResult> {
  return cannon(
    requests.map((r) => ({
      method: 'POST' as const,
      path: r.path,
      headers: r.headers,
      body: r.body,
      ...(options.classify
        ? { onResponse: (status: number, body: string) => bump(classes, options.classify!(status, body, r.tag)) }
        : {}),
    })),
    options,
  );
}

/**
 * Closed-loop load where every request is a different prepared one, taken from `source`
 * (e.g. a fresh call at its PIN prompt for each sign-in). Returns null from source when spent:
 * size `amount` so it never is.
 */
export async function cannonEach(source: () => Prepared | null, options: CannonOptions & { amount: number }): Promise<LoadResult> {
  type Context = { tag?: unknown };
  return cannon(
    [
      {
        setupRequest: (request: autocannon.Request, context: object) => {
          const next = source();
          if (!next) throw new Error('bench: prepared requests ran out; raise the prepared count');
          (context as Context).tag = next.tag;
          return { ...request, method: 'POST', path: next.path, headers: next.headers, body: next.body };
        },
        ...(options.classify
          ? {
              onResponse: (status: number, body: string, context: object) =>
                bump(classes, options.classify!(status, body, (context as Context).tag)),
            }
          : {}),
      },
    ],
    options,
  );
}

// Filled by the onResponse hooks of the run in progress (runs never overlap within one cannon call).
let classes: Record<string, number> = {};

async function cannon(requests: autocannon.Request[], options: CannonOptions): Promise<LoadResult> {
  const url = new URL(options.baseUrl);
  classes = {};
  const own = classes;
  const latencies: number[] = [];
  const statuses: Record<string, number> = {};
  let errors = 0;
  const started = process.hrtime.bigint();
  let finish: (err: Error | null, result: autocannon.Result) => void = () => undefined;
  const done = new Promise<autocannon.Result>((resolve, reject) => {
    finish = (err, result) => (err ? reject(err) : resolve(result));
  });
  const instance = autocannon({
    url: url.origin,
    connections: options.connections,
    pipelining: 1,
    timeout: options.timeoutSec ?? 15,
    ...(options.amount ? { amount: options.amount } : { duration: options.durationSec ?? 5 }),
    requests,
  }, (err, result) => finish(err, result));
  // The run's length is taken to its last answer: autocannon notices the end of an `amount`
  // run only on its next one-second tick, which would round every such run up to whole seconds.
  let lastAnswer = started;
  instance.on('response', (_client, statusCode, _bytes, responseTime) => {
    lastAnswer = process.hrtime.bigint();
    latencies.push(responseTime);
    bump(statuses, String(statusCode));
  });
  instance.on('reqError', () => {
    errors++;
  });
  const result = await done;
  const seconds = Number(lastAnswer - started) / 1e9;
  latencies.sort((a, b) => a - b);
  return {
    responses: latencies.length,
    seconds,
    rate: latencies.length / seconds,
    latencies,
    statuses,
    classes: own,
    errors: Math.max(errors, result.errors - result.timeouts),
    timeouts: result.timeouts,
  };
}

/**
 * Open-loop load: sends requests at a fixed rate, evenly spaced, whether or not earlier ones have
 * been answered (as callers arrive regardless of how busy the service is). autocannon's rate
 * limit is per connection, per whole second and closed-loop, so it cannot offer a steady rate
 * past the server's capacity; this can. Each request gets Twilio's 15 s to be answered.
 */
export async function paced(
  source: () => Prepared | null,
  options: { baseUrl: string; rate: number; durationSec: number; timeoutMs?: number; classify?: Classifier },
): Promise<LoadResult & { offered: number }> {
  const url = new URL(options.baseUrl);
  const agent = new Agent({ keepAlive: true, maxSockets: Infinity });
  const latencies: number[] = [];
  const statuses: Record<string, number> = {};
  const counts: Record<string, number> = {};
  let errors = 0;
  let timeouts = 0;
  const total = Math.round(options.rate * options.durationSec);
  const intervalNs = 1e9 / options.rate;
  const started = process.hrtime.bigint();
  const inFlight: Array<Promise<void>> = [];

  const send = (prepared: Prepared) =>
    new Promise<void>((resolve) => {
      const sentAt = process.hrtime.bigint();
      const req = httpRequest(
        {
          agent,
          host: url.hostname,
          port: url.port,
          method: 'POST',
          path: prepared.path,
          headers: { ...prepared.headers, 'content-length': String(Buffer.byteLength(prepared.body)) },
          timeout: options.timeoutMs ?? 15_000,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            latencies.push(Number(process.hrtime.bigint() - sentAt) / 1e6);
            const status = res.statusCode ?? 0;
            bump(statuses, String(status));
            if (options.classify) bump(counts, options.classify(status, Buffer.concat(chunks).toString('utf8'), prepared.tag));
            resolve();
          });
        },
      );
      req.on('timeout', () => {
        timeouts++;
        req.destroy(new Error('timeout'));
      });
      req.on('error', () => {
        errors++;
        resolve();
      });
      req.end(prepared.body);
    });

  for (let i = 0; i < total; i++) {
    const due = started + BigInt(Math.round(i * intervalNs));
    const waitMs = Number(due - process.hrtime.bigint()) / 1e6;
    if (waitMs > 1) await new Promise((resolve) => setTimeout(resolve, waitMs));
    const prepared = source();
    if (!prepared) throw new Error('bench: prepared requests ran out; raise the prepared count');
    inFlight.push(send(prepared));
  }
  await Promise.all(inFlight);
  agent.destroy();
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  latencies.sort((a, b) => a - b);
  return {
    offered: total,
    responses: latencies.length,
    seconds,
    rate: latencies.length / seconds,
    latencies,
    statuses,
    classes: counts,
    errors: errors - timeouts,
    timeouts,
  };
}
