import { Inject, Injectable } from '@nestjs/common';
import { jsonEqual, toJsonInput } from '../json';
import { PrismaService } from '../prisma.service';
import type { DbClient } from '../unit-of-work';

/** Routing and runtime settings, one JSON value per key (e.g. `request-retry`, `routing.strategy`). */
@Injectable()
export class SettingsRepository {
  constructor(@Inject(PrismaService) private readonly prisma: DbClient) {}

  async getAll(): Promise<Record<string, unknown>> {
    const rows = await this.prisma.setting.findMany({ orderBy: { key: 'asc' } });
    return Object.fromEntries(rows.map((row) => [row.key, row.value]));
  }

  /** The stored values of `keys` (absent keys are left out). */
  async getMany(keys: readonly string[]): Promise<Record<string, unknown>> {
    const rows = await this.prisma.setting.findMany({ where: { key: { in: [...keys] } } });
    return Object.fromEntries(rows.map((row) => [row.key, row.value]));
  }

  async get<T = unknown>(key: string): Promise<T | undefined> {
    const row = await this.prisma.setting.findUnique({ where: { key } });
    return row ? (row.value as T) : undefined;
  }

  /** Sets one setting; undefined deletes it (back to the default). Writes, and returns true, only on a change. */
  async set(key: string, value: unknown): Promise<boolean> {
    const current = await this.prisma.setting.findUnique({ where: { key } });
    if (value === undefined) {
      if (!current) return false;
      await this.prisma.setting.delete({ where: { key } });
      return true;
    }
    if (current && jsonEqual(current.value, value)) return false;
    const json = toJsonInput(value);
    await this.prisma.setting.upsert({ where: { key }, create: { key, value: json }, update: { value: json } });
    return true;
  }
}
