import { Injectable } from '@nestjs/common';
import { toJsonInput } from '../json';
import { PrismaService } from '../prisma.service';

/** Routing and runtime settings, one JSON value per key (e.g. `request-retry`, `routing.strategy`). */
@Injectable()
export class SettingsRepository {
  constructor(private readonly prisma: PrismaService) {}

  async getAll(): Promise<Record<string, unknown>> {
    const rows = await this.prisma.setting.findMany({ orderBy: { key: 'asc' } });
    return Object.fromEntries(rows.map((row) => [row.key, row.value]));
  }

  async get<T = unknown>(key: string): Promise<T | undefined> {
    const row = await this.prisma.setting.findUnique({ where: { key } });
    return row ? (row.value as T) : undefined;
  }

  async set(key: string, value: unknown): Promise<void> {
    const json = toJsonInput(value);
    await this.prisma.setting.upsert({ where: { key }, create: { key, value: json }, update: { value: json } });
  }

  /** Writes several settings atomically. */
  async setMany(values: Record<string, unknown>): Promise<void> {
    const entries = Object.entries(values).filter(([, value]) => value !== undefined);
    await this.prisma.$transaction(
      entries.map(([key, value]) => {
        const json = toJsonInput(value);
        return this.prisma.setting.upsert({ where: { key }, create: { key, value: json }, update: { value: json } });
      }),
    );
  }

  async delete(key: string): Promise<boolean> {
    const { count } = await this.prisma.setting.deleteMany({ where: { key } });
    return count > 0;
  }
}
