import { Inject, Injectable, Logger, Optional, type OnModuleDestroy } from '@nestjs/common';
import { CredentialStatuses } from '@cpa/contracts';
import { PrismaService, type Prisma } from '@cpa/db';
import { RoutingStateStore } from './routing-state.store';

export const STATE_MIRROR_INTERVAL_MS = Symbol('STATE_MIRROR_INTERVAL_MS');
const DEFAULT_INTERVAL_MS = 2_000;

/**
 * Mirrors credential states to Postgres for the admin (Credential.modelStates, status,
 * statusMessage, lastError). Redis stays the source of truth: changes only mark a
 * credential dirty, and a timer writes the dirty ones at most once per interval, reading
 * their current state from Redis so a replica never writes an older state over a newer one.
 */
@Injectable()
export class StateMirror implements OnModuleDestroy {
  private readonly logger = new Logger(StateMirror.name);
  private readonly dirty = new Set<string>();
  private timer?: NodeJS.Timeout;
  private flushing?: Promise<void>;
  private readonly intervalMs: number;

  constructor(
    private readonly store: RoutingStateStore,
    @Optional() private readonly prisma?: PrismaService,
    @Optional() @Inject(STATE_MIRROR_INTERVAL_MS) intervalMs?: number,
  ) {
    this.intervalMs = intervalMs ?? Number(process.env.STATE_MIRROR_MS ?? DEFAULT_INTERVAL_MS);
  }

  markDirty(credentialId: string): void {
    if (!this.prisma) return;
    this.dirty.add(credentialId);
    if (this.timer === undefined) {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        void this.flush();
      }, this.intervalMs);
      this.timer.unref();
    }
  }

  /** Writes every dirty credential now. */
  flush(): Promise<void> {
    this.flushing ??= this.write().finally(() => (this.flushing = undefined));
    return this.flushing;
  }

  private async write(): Promise<void> {
    const prisma = this.prisma;
    if (!prisma || this.dirty.size === 0) return;
    const ids = [...this.dirty];
    this.dirty.clear();
    try {
      const states = await this.store.readStates(ids);
      for (const [id, { state }] of states) {
        await prisma.credential.updateMany({
          where: { id },
          data: { modelStates: (state?.modelStates ?? {}) as unknown as Prisma.InputJsonValue },
        });
        // A credential waiting for a new login keeps the status and error the refresh
        // worker gave it: routing state knows nothing of refresh tokens.
        await prisma.credential.updateMany({
          where: { id, status: { not: CredentialStatuses.needsLogin } },
          data: {
            status: state?.status ?? 'active',
            statusMessage: state?.statusMessage ?? '',
            lastError: state?.lastError?.message ?? '',
          },
        });
      }
    } catch (err) {
      for (const id of ids) this.markDirty(id);
      this.logger.warn(`state mirror failed: ${(err as Error).message}`);
    }
  }

  async onModuleDestroy(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.flush();
  }
}
