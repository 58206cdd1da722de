import { HashingBusyError } from '../errors.js';

interface Waiter {
  grant: () => void;
  timer: NodeJS.Timeout | null;
}

/**
 * Bounds concurrent argon2 work. Each argon2 call takes ~19 MiB and a libuv thread; beyond the
 * slot count, turns wait in a bounded FIFO queue, and one that can't start within the timeout
 * is refused rather than left to run into Twilio's 15 s webhook timeout.
 * A turn takes one slot for all of its hashing, so it never queues twice.
 */
export class HashGate {
  private active = 0;
  private readonly waiting: Waiter[] = [];

  constructor(
    readonly slots: number,
    readonly queueLimit: number,
    /** null: wait as long as it takes. */
    readonly queueTimeoutMs: number | null,
  ) {}

  get inUse(): number {
    return this.active;
  }

  get queued(): number {
    return this.waiting.length;
  }

  async run<T>(work: () => Promise<T>): Promise<T> {
    await this.acquire();
    try {
      return await work();
    } finally {
      this.release();
    }
  }

  private acquire(): Promise<void> {
    if (this.active < this.slots) {
      this.active++;
      return Promise.resolve();
    }
    if (this.waiting.length >= this.queueLimit) return Promise.reject(new HashingBusyError());
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        grant: () => {
          if (waiter.timer) clearTimeout(waiter.timer);
          resolve();
        },
        timer:
          this.queueTimeoutMs === null
            ? null
            : setTimeout(() => {
                const index = this.waiting.indexOf(waiter);
                if (index >= 0) this.waiting.splice(index, 1);
                reject(new HashingBusyError());
              }, this.queueTimeoutMs),
      };
      this.waiting.push(waiter);
    });
  }

  private release(): void {
    const next = this.waiting.shift();
    // The slot passes straight to the next waiter, so active stays the same.
    if (next) next.grant();
    else this.active--;
  }
}
