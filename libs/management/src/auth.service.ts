import { createHash, timingSafeEqual } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { SettingKeys, verifyManagementSecret } from '@cpa/config';
import { SettingsRepository } from '@cpa/db';
import { ManagementError } from './management-error';
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

/** Most scrypt verifications running at once: a flood of guesses queues instead of taking every core. */
const MAX_CONCURRENT_VERIFICATIONS = 2;

/**
 * The management API's gate, in CLIProxyAPI's order: no secret configured -> the API does
 * not exist (404); remote caller without allow-remote -> 403; banned IP -> 403; missing or
 * wrong key -> 401 (a wrong key counts towards the ban). Each attempt is counted before
 * its key is verified, so concurrent guesses cannot outrun the ban.
 */
@Injectable()
export class ManagementAuthService {
  /** sha256 of the last key that verified against a given stored hash: saves a scrypt per request. */
  private verified?: { stored: string; digest: Buffer };
  private verifying = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(
    private readonly settings: SettingsRepository,
    @Inject(FAILURE_LIMITER) private readonly limiter: FailureLimiter,
  ) {}

  async authorize(key: string | undefined, ip: string): Promise<void> {
    const settings = await this.settings.getMany([SettingKeys.managementSecretHash, SettingKeys.allowRemoteManagement]);
    const value = (k: string) => settings[k];
    const stored = value(SettingKeys.managementSecretHash);
    if (typeof stored !== 'string' || stored === '') throw new ManagementError(404, 'not found');
    if (!isLoopback(ip) && value(SettingKeys.allowRemoteManagement) !== true) {
      throw new ManagementError(403, 'remote management disabled');
    }
    const banned = await this.limiter.bannedFor(ip);
    if (banned > 0) throw bannedError(banned);
    if (!key) throw new ManagementError(401, 'missing management key');
    const digest = createHash('sha256').update(key).digest();
    if (this.verified?.stored === stored && timingSafeEqual(this.verified.digest, digest)) return;

    const attempt = await this.limiter.countAttempt(ip);
    if (attempt > this.limiter.limit) throw bannedError(await this.limiter.bannedFor(ip));
    if (!(await this.verify(key, stored))) {
      if (attempt >= this.limiter.limit) await this.limiter.ban(ip);
      throw new ManagementError(401, 'invalid management key');
    }
    this.verified = { stored, digest };
    await this.limiter.reset(ip);
  }

  private async verify(key: string, stored: string): Promise<boolean> {
    while (this.verifying >= MAX_CONCURRENT_VERIFICATIONS)
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    this.verifying++;
    try {
      return await verifyManagementSecret(key, stored);
    } finally {
      this.verifying--;
      this.waiting.shift()?.();
    }
  }
}

function bannedError(waitMs: number): ManagementError {
  return new ManagementError(403, `IP banned due to too many failed attempts. Try again in ${formatWait(waitMs)}`);
}
