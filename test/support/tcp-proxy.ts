import { createServer, connect, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import path from 'node:path';

/**
 * A TCP pass-through to Postgres that a test can cut and restore, to play a database outage
 * for one server without disturbing the others.
 */
export class TcpProxy {
  private server: Server | null = null;
  private readonly sockets = new Set<Socket>();
  port = 0;

  constructor(
    private readonly targetHost: string,
    private readonly targetPort: number,
  ) {}

  async start(port = 0): Promise<number> {
    this.server = createServer((client) => {
      // A host that is a directory: Postgres's Unix socket in it (the embedded one has no TCP).
      const upstream = this.targetHost.startsWith('/')
        ? connect(path.join(this.targetHost, `.s.PGSQL.${this.targetPort}`))
        : connect(this.targetPort, this.targetHost);
      for (const s of [client, upstream]) {
        this.sockets.add(s);
        s.on('close', () => this.sockets.delete(s));
        s.on('error', () => s.destroy());
      }
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((resolve) => this.server!.listen(port, '127.0.0.1', resolve));
    this.port = (this.server.address() as AddressInfo).port;
    return this.port;
  }

  /** Drops every connection and refuses new ones. */
  async cut(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
    this.server = null;
  }

  async restore(): Promise<void> {
    if (!this.server) await this.start(this.port);
  }
}

/** A proxy in front of the Postgres of `databaseUrl`, and that URL through it (on 127.0.0.1:`port`). */
export function proxyFor(databaseUrl: string): { proxy: TcpProxy; through(port: number): string } {
  const target = new URL(databaseUrl);
  const proxy = new TcpProxy(target.searchParams.get('host') ?? target.hostname, Number(target.port || 5432));
  return {
    proxy,
    through(port) {
      const via = new URL(databaseUrl);
      via.hostname = '127.0.0.1';
      via.port = String(port);
      via.searchParams.delete('host');
      return via.toString();
    },
  };
}
