import { randomUUID } from 'node:crypto';
import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import { Queue, Worker, type Job } from 'bullmq';
import { createRedis, type RedisConnection } from '@cpa/transport';
import type { CredentialFilter } from '@cpa/db';
import { REFRESH_CONCURRENCY, REFRESH_SCAN_INTERVAL_MS } from '@cpa/providers';
import { CredentialRefreshService, observeRefresh, type RefreshOutcome } from '@cpa/providers/refresh';
import { RotationAnnouncer } from './rotation';

export const REFRESH_QUEUE = 'oauth-refresh';

export interface RefreshJobData {
  credentialId: string;
}

export interface RefreshWorkerOptions {
  redisUrl: string;
  /** Prefix of every Redis key (TRANSPORT_KEY_PREFIX); BullMQ keys live under `<prefix>bull`. */
  keyPrefix: string;
  scanIntervalMs?: number;
  concurrency?: number;
  /** Limits the scan to some credentials (e.g. one `source`); default: all. */
  scanFilter?: CredentialFilter;
  /** Start the periodic scan on bootstrap (tests drive scans by hand). Default true. */
  scan?: boolean;
}

export const REFRESH_WORKER_OPTIONS = Symbol('REFRESH_WORKER_OPTIONS');

/**
 * The `oauth-refresh` queue: a periodic scan enqueues due credentials with the credential
 * id as job id, so a credential has at most one job waiting or running across all
 * replicas; workers (16 at a time per process) refresh and announce the rotation.
 */
@Injectable()
export class RefreshQueueService implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger('RefreshQueue');
  private readonly scanIntervalMs: number;
  private readonly lockKey: string;
  private readonly replicaId = randomUUID();
  private readonly redis: RedisConnection;
  private readonly queue: Queue<RefreshJobData, RefreshOutcome>;
  private worker?: Worker<RefreshJobData, RefreshOutcome>;
  private timer?: NodeJS.Timeout;
  private scanning?: Promise<unknown>;

  constructor(
    private readonly refresher: CredentialRefreshService,
    private readonly announcer: RotationAnnouncer,
    @Inject(REFRESH_WORKER_OPTIONS) private readonly options: RefreshWorkerOptions,
  ) {
    this.scanIntervalMs = options.scanIntervalMs ?? REFRESH_SCAN_INTERVAL_MS;
    this.lockKey = `${options.keyPrefix}refresh-worker:scan-lock`;
    this.redis = connect(options.redisUrl);
    this.queue = new Queue(REFRESH_QUEUE, { connection: this.redis, prefix: bullPrefix(options.keyPrefix) });
  }

  onApplicationBootstrap(): void {
    this.worker = new Worker<RefreshJobData, RefreshOutcome>(REFRESH_QUEUE, (job) => this.process(job), {
      connection: connect(this.options.redisUrl),
      prefix: bullPrefix(this.options.keyPrefix),
      concurrency: this.options.concurrency ?? REFRESH_CONCURRENCY,
    });
    this.worker.on('failed', (job, error) => {
      this.logger.error(
        `refresh job for credential ${job?.data.credentialId ?? '?'} failed: ${error.name}: ${error.message}`,
      );
    });
    this.worker.on('error', (error) => this.logger.error(`worker error: ${error.message}`));
    if (this.options.scan !== false) {
      this.timer = setInterval(() => void this.runScan(), this.scanIntervalMs);
      void this.runScan();
    }
  }

  /**
   * Enqueues every credential due now, unless another replica scanned within the interval
   * (`SET NX PX`; the lock is left to expire so replicas do not scan back to back).
   * Returns the ids enqueued, or null when another replica holds the scan.
   */
  async scan(now: Date = new Date()): Promise<string[] | null> {
    const locked = await this.redis.set(
      this.lockKey,
      this.replicaId,
      'PX',
      Math.max(1000, this.scanIntervalMs - 1000),
      'NX',
    );
    if (locked !== 'OK') return null;
    const ids = await this.refresher.dueCredentialIds(now, this.options.scanFilter);
    await this.enqueue(ids);
    return ids;
  }

  /** Adds refresh jobs; a credential with a job already waiting or running is not added twice. */
  async enqueue(credentialIds: string[]): Promise<void> {
    if (credentialIds.length === 0) return;
    await this.queue.addBulk(
      credentialIds.map((credentialId) => ({
        name: 'refresh',
        data: { credentialId },
        // Finished jobs are removed at once so the id is free for the next refresh.
        opts: { jobId: credentialId, removeOnComplete: true, removeOnFail: true },
      })),
    );
  }

  /** The job: refresh (the service re-checks whether it is still due) and announce new tokens. */
  async process(job: Job<RefreshJobData>): Promise<RefreshOutcome> {
    const outcome = await this.refresher.refresh(job.data.credentialId);
    observeRefresh('scheduled', outcome);
    await this.announcer.announce(outcome);
    return outcome;
  }

  async onModuleDestroy(): Promise<void> {
    clearInterval(this.timer);
    await this.scanning;
    // Worker.close() waits for the jobs in flight, so no refreshed token is left unwritten.
    await this.worker?.close();
    await this.queue.close();
    this.redis.disconnect();
  }

  private async runScan(): Promise<void> {
    if (this.scanning) return;
    const scanning = this.scan().then(
      (ids) => {
        if (ids?.length) this.logger.log(`enqueued ${ids.length} credential(s) for refresh`);
      },
      (error: unknown) =>
        this.logger.error(`refresh scan failed: ${error instanceof Error ? error.message : String(error)}`),
    );
    this.scanning = scanning;
    await scanning;
    this.scanning = undefined;
  }
}

/** BullMQ needs `maxRetriesPerRequest: null` so blocking commands survive reconnects. */
function connect(url: string): RedisConnection {
  return createRedis(url, { maxRetriesPerRequest: null });
}

export function bullPrefix(keyPrefix: string): string {
  return `${keyPrefix}bull`;
}
