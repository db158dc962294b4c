import { createHash, timingSafeEqual } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { SettingKeys, verifyManagementSecret } from '@cpa/config';
import { PrismaService } from '@cpa/db';
import { ManagementError } from './errors';
import { isLoopback } from './client-address';
import type { FailureLimiter } from './failure-limiter';

export const FAILURE_LIMITER = Symbol('FAILURE_LIMITER');

/** Reads the management key the way CLIProxyAPI does: Bearer token, raw Authorization, or X-Management-Key. */
export function presentedManagementKey(headers: Record<string, string | string[] | undefined>): string | undefined {
  const first = (value: string | string[] | undefined) => (Array.isArray(value) ? value[0] : value)?.trim();
  const authorization = first(headers.authorization);
  if (authorization) {
    const match = /^bearer\s+(.+)$/i.exec(authorization);
    return match ? match[1].trim() : authorization;
  }
  return first(headers['x-management-key']) || undefined;
}

function formatWait(ms: number): string {
  const minutes = Math.ceil(ms / 60_000);
  return minutes > 1 ? `${minutes} minutes` : '1 minute';
}

/**
 * The management API's gate, in CLIProxyAPI's order: no secret configured -> the API does
 * not exist (404); remote caller without allow-remote -> 403; banned IP -> 403; missing or
 * wrong key -> 401 (a wrong key counts towards the ban).
 */
@Injectable()
export class ManagementAuthService {
  /** sha256 of the last key that verified against a given stored hash: saves a scrypt per request. */
  private verified?: { stored: string; digest: Buffer };

  constructor(
    private readonly prisma: PrismaService,
    @Inject(FAILURE_LIMITER) private readonly limiter: FailureLimiter,
  ) {}

  async authorize(key: string | undefined, ip: string): Promise<void> {
    const rows = await this.prisma.setting.findMany({
      where: { key: { in: [SettingKeys.managementSecretHash, SettingKeys.allowRemoteManagement] } },
    });
    const value = (k: string) => rows.find((row) => row.key === k)?.value;
    const stored = value(SettingKeys.managementSecretHash);
    if (typeof stored !== 'string' || stored === '') throw new ManagementError(404, 'not found');
    if (!isLoopback(ip) && value(SettingKeys.allowRemoteManagement) !== true) {
      throw new ManagementError(403, 'remote management disabled');
    }
    const banned = await this.limiter.bannedFor(ip);
    if (banned > 0) {
      throw new ManagementError(403, `IP banned due to too many failed attempts. Try again in ${formatWait(banned)}`);
    }
    if (!key) throw new ManagementError(401, 'missing management key');
    if (!(await this.matches(key, stored))) {
      await this.limiter.recordFailure(ip);
      throw new ManagementError(401, 'invalid management key');
    }
    await this.limiter.reset(ip);
  }

  private async matches(key: string, stored: string): Promise<boolean> {
    const digest = createHash('sha256').update(key).digest();
    if (this.verified?.stored === stored && timingSafeEqual(this.verified.digest, digest)) return true;
    const ok = await verifyManagementSecret(key, stored);
    if (ok) this.verified = { stored, digest };
    return ok;
  }
}
