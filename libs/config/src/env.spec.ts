import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { EnvError, loadEnv } from './env';

const emptyDir = () => mkdtempSync(join(tmpdir(), 'cpa-env-'));

describe('loadEnv', () => {
  it('applies the documented defaults', () => {
    const env = loadEnv({}, emptyDir());
    expect(env).toEqual({
      nodeEnv: 'development',
      port: 8317,
      adminPort: 8318,
      healthPort: 0,
      databaseUrl: 'postgresql://postgres@127.0.0.1:5432/cliproxy',
      redisUrl: 'redis://127.0.0.1:6379',
      configFile: undefined,
      bodyLimitBytes: 20 * 1024 * 1024,
      adminUrl: 'http://127.0.0.1:8318',
      transportKeyPrefix: 'cpa:',
      providerFamily: undefined,
      logLevel: 'info',
      adminHost: '127.0.0.1',
      trustedProxies: '',
      heartbeatMs: 1_000,
      replyIdleTimeoutMs: 5_000,
      gatewayMaxInFlight: 2048,
      gatewayMaxInFlightBytes: 256 * 1024 * 1024,
    });
  });

  it('reads every variable', () => {
    const env = loadEnv(
      {
        NODE_ENV: 'production',
        PORT: '9000',
        ADMIN_PORT: '9001',
        HEALTH_PORT: '9002',
        DATABASE_URL: 'postgresql://u@db:5432/x',
        REDIS_URL: 'redis://redis:6379/2',
        CONFIG_FILE: 'conf/my.yaml',
        BODY_LIMIT_BYTES: '1024',
        ADMIN_URL: 'http://admin:9001',
        TRANSPORT_KEY_PREFIX: 'x:',
        PROVIDER_FAMILY: 'claude',
        LOG_LEVEL: 'debug',
      },
      '/srv',
    );
    expect(env).toMatchObject({
      nodeEnv: 'production',
      port: 9000,
      adminPort: 9001,
      healthPort: 9002,
      databaseUrl: 'postgresql://u@db:5432/x',
      redisUrl: 'redis://redis:6379/2',
      configFile: '/srv/conf/my.yaml',
      bodyLimitBytes: 1024,
      adminUrl: 'http://admin:9001',
      transportKeyPrefix: 'x:',
      providerFamily: 'claude',
      logLevel: 'debug',
    });
  });

  it('defaults the config file to ./config.yaml only when it exists', () => {
    const dir = emptyDir();
    expect(loadEnv({}, dir).configFile).toBeUndefined();
    writeFileSync(join(dir, 'config.yaml'), 'port: 8317\n');
    expect(loadEnv({}, dir).configFile).toBe(join(dir, 'config.yaml'));
  });

  it('treats empty variables as unset', () => {
    expect(loadEnv({ PORT: '', CONFIG_FILE: '' }, emptyDir())).toMatchObject({ port: 8317, configFile: undefined });
  });

  it('names every invalid variable without echoing values', () => {
    let error: unknown;
    try {
      loadEnv(
        {
          PORT: 'abc',
          ADMIN_PORT: '70000',
          PROVIDER_FAMILY: 'mystery',
          DATABASE_URL: 'not a url with password hunter2',
        },
        emptyDir(),
      );
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(EnvError);
    const problems = (error as EnvError).problems.join('\n');
    expect(problems).toMatch(/^PORT:/m);
    expect(problems).toMatch(/^ADMIN_PORT:/m);
    expect(problems).toMatch(/^PROVIDER_FAMILY:/m);
    expect(problems).toMatch(/^DATABASE_URL:/m);
    expect((error as Error).message).not.toContain('hunter2');
  });
});
