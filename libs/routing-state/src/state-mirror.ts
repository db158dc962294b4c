import {
  Inject,
  Injectable,
  Logger,
  Optional,
  type OnApplicationBootstrap,
  type OnModuleDestroy,
} from '@nestjs/common';
import { CredentialRepository, type JsonObject } from '@cpa/db';
import type { CredentialState } from '@cpa/routing';
import { RoutingStateStore } from './routing-state.store';

export const STATE_MIRROR_INTERVAL_MS = Symbol('STATE_MIRROR_INTERVAL_MS');
const DEFAULT_INTERVAL_MS = 2_000;

/**
 * Mirrors credential states to Postgres for the management API (Credential.modelStates,
 * status, statusMessage, lastError). Runs in the admin, not the scheduler: it follows the
 * routing state's change log in Redis (every state write is in it), so schedulers never
 * touch Postgres, and a Postgres outage only delays the mirror. Redis stays the source of
 * truth: each pass reads the current state of every credential changed since the last one.
 */
@Injectable()
export class StateMirror implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger(StateMirror.name);
  private timer?: NodeJS.Timeout;
  private flushing?: Promise<void>;
  private readonly intervalMs: number;
  /** Change-log epoch mirrored so far (0: everything the log holds). */
  private epoch = 0;
  private failing = false;

  constructor(
    private readonly store: RoutingStateStore,
    private readonly credentials: CredentialRepository,
    @Optional() @Inject(STATE_MIRROR_INTERVAL_MS) intervalMs?: number,
  ) {
    this.intervalMs = intervalMs ?? Number(process.env.STATE_MIRROR_MS ?? DEFAULT_INTERVAL_MS);
  }

  onApplicationBootstrap(): void {
    if (this.intervalMs <= 0) return;
    this.timer = setInterval(() => void this.flush(), this.intervalMs);
    this.timer.unref();
  }

  /** Writes every credential whose state changed since the last pass; never rejects. */
  flush(): Promise<void> {
    this.flushing ??= this.write().finally(() => (this.flushing = undefined));
    return this.flushing;
  }

  private async write(): Promise<void> {
    try {
      // Redis restarted empty: its clock started again, so start again from its beginning.
      if ((await this.store.stateEpoch()) < this.epoch) this.epoch = 0;
      for (;;) {
        const { ids, epoch } = await this.store.changedSince(this.epoch);
        if (ids.length === 0) break;
        const states = await this.store.readStates(ids);
        for (const [id, { state }] of states) await this.writeOne(id, state);
        this.epoch = epoch;
      }
      if (this.failing) this.logger.log('credential states mirrored to Postgres again');
      this.failing = false;
    } catch (err) {
      if (!this.failing)
        this.logger.warn(`state mirror paused, retrying every ${this.intervalMs} ms: ${(err as Error).message}`);
      this.failing = true;
    }
  }

  private async writeOne(id: string, state: CredentialState | undefined): Promise<void> {
    await this.credentials.mirrorRoutingState(id, {
      modelStates: (state?.modelStates ?? {}) as unknown as JsonObject,
      status: state?.status ?? 'active',
      statusMessage: state?.statusMessage ?? '',
      lastError: state?.lastError?.message ?? '',
    });
  }

  async onModuleDestroy(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.flush();
  }
}
