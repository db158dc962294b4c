import { spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, spawnRedisServer, waitFor } from './helpers';

/** True when Debian's redis-server and redis-cli can run here (a cluster test skips otherwise). */
export function redisClusterToolsAvailable(): boolean {
  return ['redis-server', 'redis-cli'].every((bin) => spawnSync(bin, ['--version'], { stdio: 'ignore' }).status === 0);
}

/** A free port below 55536, so its cluster bus port (port + 10000) exists; redis-server fails loudly if that one is taken. */
async function clusterPort(taken: Set<number>): Promise<number> {
  for (;;) {
    const port = await freePort();
    if (port + 10_000 > 65_535 || taken.has(port) || taken.has(port + 10_000)) continue;
    taken.add(port);
    taken.add(port + 10_000);
    return port;
  }
}

/**
 * A throwaway Redis Cluster of `masters` masters (no replicas, no persistence) on free
 * loopback ports, created with `redis-cli --cluster create`. `url` is the
 * `redis+cluster://` URL the services take.
 */
export class LocalRedisCluster {
  private constructor(
    readonly ports: number[],
    private readonly children: ChildProcess[],
    private readonly dir: string,
  ) {}

  get url(): string {
    return `redis+cluster://127.0.0.1:${this.ports[0]}`;
  }

  static async start(masters = 3): Promise<LocalRedisCluster> {
    const dir = mkdtempSync(join(tmpdir(), 'cpa-redis-cluster-'));
    const taken = new Set<number>();
    const ports: number[] = [];
    for (let i = 0; i < masters; i++) ports.push(await clusterPort(taken));
    const children = ports.map((port) =>
      spawnRedisServer(port, [
        '--cluster-enabled',
        'yes',
        '--cluster-config-file',
        join(dir, `nodes-${port}.conf`),
        '--dir',
        dir,
      ]),
    );
    const cluster = new LocalRedisCluster(ports, children, dir);
    try {
      for (const port of ports) await waitFor(() => cli(port, 'PING') === 'PONG', 10_000, 50);
      const create = spawnSync(
        'redis-cli',
        ['--cluster', 'create', ...ports.map((p) => `127.0.0.1:${p}`), '--cluster-replicas', '0', '--cluster-yes'],
        { encoding: 'utf8' },
      );
      if (create.status !== 0) throw new Error(`redis-cli --cluster create failed: ${create.stdout}${create.stderr}`);
      // Every node must agree that all slots are served before clients connect.
      for (const port of ports)
        await waitFor(() => cli(port, 'CLUSTER', 'INFO').includes('cluster_state:ok'), 20_000, 100);
    } catch (err) {
      await cluster.stop();
      throw err;
    }
    return cluster;
  }

  async stop(): Promise<void> {
    await Promise.all(
      this.children.map(async (child) => {
        if (child.exitCode !== null || child.signalCode !== null) return;
        child.kill('SIGKILL');
        await once(child, 'exit');
      }),
    );
    rmSync(this.dir, { recursive: true, force: true });
  }
}

function cli(port: number, ...args: string[]): string {
  const out = spawnSync('redis-cli', ['-p', String(port), ...args], { encoding: 'utf8' });
  return (out.stdout ?? '').trim();
}
