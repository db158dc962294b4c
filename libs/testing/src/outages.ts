import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { freePort, spawnRedisServer, waitFor } from './helpers';

/**
 * A TCP forwarder in front of a real server (Postgres in the outage tests) that a test
 * can cut, as if the server stopped: `cut()` closes the listener (new connections are
 * refused) and resets every open connection; `restore()` listens on the same port again.
 */
export class CuttableTcpForwarder {
  private server?: Server;
  private readonly sockets = new Set<Socket>();

  private constructor(
    readonly port: number,
    private readonly target: { host: string; port: number },
  ) {}

  static async start(target: { host: string; port: number }): Promise<CuttableTcpForwarder> {
    const forwarder = new CuttableTcpForwarder(await freePort(), target);
    await forwarder.restore();
    return forwarder;
  }

  get up(): boolean {
    return this.server !== undefined;
  }

  async restore(): Promise<void> {
    if (this.server) return;
    const server = createServer((client) => {
      const upstream = connect(this.target.port, this.target.host);
      for (const socket of [client, upstream]) {
        this.sockets.add(socket);
        socket.on('error', () => undefined);
        socket.on('close', () => {
          this.sockets.delete(socket);
          client.destroy();
          upstream.destroy();
        });
      }
      client.pipe(upstream).pipe(client);
    });
    server.listen(this.port, '127.0.0.1');
    await once(server, 'listening');
    this.server = server;
  }

  async cut(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    for (const socket of this.sockets) socket.resetAndDestroy();
    this.sockets.clear();
    if (server) await new Promise<void>((done) => server.close(() => done()));
  }
}

/**
 * A redis-server of a test's own on a free port, without persistence (a restart loses
 * every key, as a crashed cache node would), that the test can kill and start again on the
 * same port.
 */
export class TestRedisServer {
  private child?: ChildProcess;

  private constructor(
    readonly port: number,
    private readonly password?: string,
  ) {}

  /** `password`: the server requires it (`requirepass`), and `url` carries it. */
  static async start(options: { password?: string } = {}): Promise<TestRedisServer> {
    const server = new TestRedisServer(await freePort(), options.password);
    await server.restart();
    return server;
  }

  get url(): string {
    return `redis://${this.password ? `:${encodeURIComponent(this.password)}@` : ''}127.0.0.1:${this.port}`;
  }

  async restart(): Promise<void> {
    if (this.child) return;
    const child = spawnRedisServer(this.port, this.password ? ['--requirepass', this.password] : []);
    this.child = child;
    child.once('exit', () => {
      if (this.child === child) this.child = undefined;
    });
    await waitFor(() => this.accepts(), 10_000, 50);
  }

  /** SIGKILL: the server vanishes mid-connection, as in a crash. */
  async kill(): Promise<void> {
    const child = this.child;
    this.child = undefined;
    if (!child || child.exitCode !== null) return;
    const exited = once(child, 'exit');
    child.kill('SIGKILL');
    await exited;
  }

  private accepts(): Promise<boolean> {
    return new Promise((resolve) => {
      const socket = connect(this.port, '127.0.0.1');
      socket.once('connect', () => {
        socket.end('PING\r\n');
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
  }
}
