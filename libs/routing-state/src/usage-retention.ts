import {
  Inject,
  Injectable,
  Logger,
  Optional,
  type OnApplicationBootstrap,
  type OnModuleDestroy,
} from '@nestjs/common';
import { SettingsRepository, UsageRequestRepository } from '@cpa/db';

export const USAGE_RETENTION_SWEEP_MS = Symbol('USAGE_RETENTION_SWEEP_MS');
export const DEFAULT_USAGE_RETENTION_DAYS = 30;
const DAY_MS = 86_400_000;

/**
 * Days per-request usage rows are kept: config.yaml's `usage-retention-days` (a setting),
 * else env USAGE_RETENTION_DAYS, else 30. 0 keeps them for good.
 */
export function usageRetentionDays(setting: unknown, env: string | undefined): number {
  for (const value of [setting, env]) {
    const n = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
    if (typeof n === 'number' && Number.isInteger(n) && n >= 0) return n;
  }
  return DEFAULT_USAGE_RETENTION_DAYS;
}

/**
 * Deletes per-request usage rows older than the retention (the hourly roll-up and
 * usage_daily stay), on start and then every USAGE_RETENTION_SWEEP_MS (1 hour). Every admin
 * replica runs it; a Postgres advisory lock lets one sweep at a time.
 */
@Injectable()
export class UsageRetention implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger(UsageRetention.name);
  private readonly intervalMs: number;
  private timer?: NodeJS.Timeout;
  private first?: NodeJS.Timeout;
  private sweeping?: Promise<number>;

  constructor(
    private readonly requests: UsageRequestRepository,
    private readonly settings: SettingsRepository,
    @Optional() @Inject(USAGE_RETENTION_SWEEP_MS) intervalMs?: number,
  ) {
    this.intervalMs = intervalMs ?? Number(process.env.USAGE_RETENTION_SWEEP_MS ?? 3_600_000);
  }

  onApplicationBootstrap(): void {
    if (this.intervalMs <= 0) return;
    this.first = setTimeout(() => void this.sweep(), 5_000);
    this.first.unref();
    this.timer = setInterval(() => void this.sweep(), this.intervalMs);
    this.timer.unref();
  }

  /** Deletes what is past the retention; resolves with the rows deleted. Never rejects. */
  sweep(now = new Date()): Promise<number> {
    this.sweeping ??= this.run(now).finally(() => (this.sweeping = undefined));
    return this.sweeping;
  }

  private async run(now: Date): Promise<number> {
    try {
      // SettingKeys.usageRetentionDays of @cpa/config (not a dependency of this lib).
      const days = usageRetentionDays(
        await this.settings.get('usage-retention-days'),
        process.env.USAGE_RETENTION_DAYS,
      );
      if (days === 0) return 0;
      const deleted = await this.requests.deleteOlderThan(new Date(now.getTime() - days * DAY_MS));
      if (deleted > 0) this.logger.log(`usage: deleted ${deleted} per-request rows older than ${days} days`);
      return deleted;
    } catch (err) {
      this.logger.warn(`usage retention sweep failed, retried in ${this.intervalMs} ms: ${(err as Error).message}`);
      return 0;
    }
  }

  async onModuleDestroy(): Promise<void> {
    if (this.first) clearTimeout(this.first);
    if (this.timer) clearInterval(this.timer);
    await this.sweeping;
  }
}
