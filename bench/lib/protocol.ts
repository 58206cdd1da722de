/** Messages between the bench (parent) and an instrumented pinline instance (child, bench/server.ts). */

export interface DbCounters {
  /** Connections checked out of the pool (pool.query checks one out too). */
  checkouts: number;
  /** Statements sent to Postgres: each is one network round-trip (pg does not pipeline). */
  statements: number;
  /** BEGIN statements: transactions opened. */
  transactions: number;
}

export interface MemorySample {
  rss: number;
  heapUsed: number;
  external: number;
  arrayBuffers: number;
}

export type Request =
  | { id: number; type: 'counters'; reset: boolean }
  | { id: number; type: 'memory' }
  | { id: number; type: 'sample-start' }
  | { id: number; type: 'sample-stop' }
  | { id: number; type: 'argon2-ceiling'; durationMs: number }
  | { id: number; type: 'gate' }
  | { id: number; type: 'slot-times'; reset: boolean }
  | { id: number; type: 'cpu' }
  | { id: number; type: 'profile-start' }
  | { id: number; type: 'profile-stop'; file: string };

export type Reply =
  | { id: number; type: 'counters'; counters: DbCounters }
  | { id: number; type: 'memory'; afterGc: MemorySample }
  | { id: number; type: 'sample-start' }
  | { id: number; type: 'sample-stop'; peak: MemorySample; samples: number }
  | { id: number; type: 'argon2-ceiling'; verifies: number; seconds: number; slots: number; threads: number; threadpool: number }
  | { id: number; type: 'gate'; slots: number; inUse: number; queued: number }
  | { id: number; type: 'slot-times'; turns: number; slotHeldMs: number; hashingMs: number; queuedMs: number }
  | { id: number; type: 'cpu'; userMicros: number; systemMicros: number }
  | { id: number; type: 'profile-start' }
  | { id: number; type: 'profile-stop' }
  | { id: number; type: 'error'; message: string };

/** First message of a child: it listens and is ready. */
export interface Ready {
  type: 'ready';
  port: number;
}
