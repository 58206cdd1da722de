import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Ready, Reply, Request } from './protocol.js';

type Ask = Request extends infer R ? (R extends { id: number } ? Omit<R, 'id'> : never) : never;
type ReplyOf<T extends Ask['type']> = Extract<Reply, { type: T }>;

/** A bench child process (an instance or the baseline) reached over IPC. */
export class Child {
  private nextId = 1;
  private readonly pending = new Map<number, (reply: Reply) => void>();

  private constructor(
    readonly process: ChildProcess,
    readonly port: number,
  ) {
    process.on('message', (message: Reply) => {
      const resolve = this.pending.get(message.id);
      this.pending.delete(message.id);
      resolve?.(message);
    });
  }

  /** Starts script (relative to bench/) under tsx with --expose-gc, and waits until it listens. */
  static async start(script: string, env: Record<string, string>, nodeArgs: string[] = []): Promise<Child> {
    const child = fork(fileURLToPath(new URL(`../${script}`, import.meta.url)), [], {
      execArgv: ['--import', 'tsx', '--expose-gc', ...nodeArgs],
      env: { ...process.env, ...env },
      // Logs go where a production instance's would go when nobody reads them.
      stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
    });
    const port = await new Promise<number>((resolve, reject) => {
      child.once('message', (message: Ready) => resolve(message.port));
      child.once('exit', (code) => reject(new Error(`bench: ${script} exited with ${code} before it was ready`)));
    });
    return new Child(child, port);
  }

  ask<T extends Ask['type']>(request: Extract<Ask, { type: T }>): Promise<ReplyOf<T>> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, (reply) => {
        if (reply.type === 'error') reject(new Error(`bench child: ${reply.message}`));
        else resolve(reply as ReplyOf<T>);
      });
      this.process.send({ ...request, id });
    });
  }

  async stop(): Promise<void> {
    if (this.process.exitCode !== null) return;
    const exited = new Promise<void>((resolve) => this.process.once('exit', () => resolve()));
    this.process.disconnect();
    const timer = setTimeout(() => this.process.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
  }
}
