import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { z } from 'zod';
import { keyPrefixFor, PROVIDER_FAMILIES } from '@cpa/contracts';

// 0 asks the OS for a free port (tests and local stacks run many services side by side).
const port = (fallback: number) => z.coerce.number().int().min(0).max(65535).default(fallback);
const url = (fallback: string) => z.url().default(fallback);

const EnvSchema = z.object({
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  PORT: port(8317),
  ADMIN_PORT: port(8318),
  HEALTH_PORT: z.coerce.number().int().min(0).max(65535).default(0),
  DATABASE_URL: url('postgresql://postgres@127.0.0.1:5432/cliproxy'),
  REDIS_URL: url('redis://127.0.0.1:6379'),
  CONFIG_FILE: z.string().min(1).optional(),
  AUTH_DIR: z.string().min(1).optional(),
  BODY_LIMIT_BYTES: z.coerce
    .number()
    .int()
    .positive()
    .default(20 * 1024 * 1024),
  ADMIN_URL: url('http://127.0.0.1:8318'),
  // Default by the kind of Redis (keyPrefixFor): `cpa:` on one server, `{cpa}:` on a cluster.
  TRANSPORT_KEY_PREFIX: z.string().optional(),
  PROVIDER_FAMILY: z.enum(PROVIDER_FAMILIES).optional(),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace']).default('info'),
  ADMIN_HOST: z.string().default('127.0.0.1'),
  TRUSTED_PROXIES: z.string().default(''),
  HEARTBEAT_MS: z.coerce.number().int().positive().default(1_000),
  REPLY_IDLE_TIMEOUT_MS: z.coerce.number().int().positive().default(5_000),
  GATEWAY_MAX_IN_FLIGHT: z.coerce.number().int().min(0).default(2048),
  GATEWAY_MAX_IN_FLIGHT_BYTES: z.coerce
    .number()
    .int()
    .min(0)
    .default(256 * 1024 * 1024),
});

export interface Env {
  nodeEnv: 'development' | 'production' | 'test';
  port: number;
  adminPort: number;
  /** Port of a plain health endpoint for processes without HTTP (0 = none). */
  healthPort: number;
  databaseUrl: string;
  redisUrl: string;
  /** CONFIG_FILE, else ./config.yaml when it exists, else undefined. */
  configFile?: string;
  /** AUTH_DIR as given (wins over config.yaml's auth-dir; see resolveAuthDir). */
  authDir?: string;
  bodyLimitBytes: number;
  adminUrl: string;
  /** Prefix of every Redis key the transport and state use. */
  transportKeyPrefix: string;
  /** Family an executor process serves. */
  providerFamily?: (typeof PROVIDER_FAMILIES)[number];
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace';
  /** Interface the admin listens on: loopback unless a deployment says otherwise (compose: 0.0.0.0). */
  adminHost: string;
  /** Comma-separated addresses or CIDR ranges whose X-Forwarded-For the admin believes (loopback always). */
  trustedProxies: string;
  /** A request in a service's hands with nothing to say for this long sends its caller a heartbeat. */
  heartbeatMs: number;
  /**
   * The gateway fails a request in the client's format when no reply frame or heartbeat
   * came for this long: the process holding it has died. Must exceed the heartbeat plus
   * the longest queue wait.
   */
  replyIdleTimeoutMs: number;
  /** Proxied requests one gateway process holds before it answers new ones 503 (0 = no cap). */
  gatewayMaxInFlight: number;
  /** Request-body bytes one gateway process holds before it answers new requests 503 (0 = no cap). */
  gatewayMaxInFlightBytes: number;
}

export class EnvError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid environment:\n  ${problems.join('\n  ')}`);
    this.name = 'EnvError';
  }
}

/** Reads the process environment once, with defaults; throws EnvError naming every bad variable. */
export function loadEnv(env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): Env {
  // Empty strings mean "unset" for every variable, as in most shells' `VAR= cmd`.
  const present = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = EnvSchema.safeParse(present);
  if (!parsed.success) {
    // Values are not echoed: DATABASE_URL and REDIS_URL may carry passwords.
    throw new EnvError(parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`));
  }
  const e = parsed.data;
  const defaultConfig = resolve(cwd, 'config.yaml');
  return {
    nodeEnv: e.NODE_ENV,
    port: e.PORT,
    adminPort: e.ADMIN_PORT,
    healthPort: e.HEALTH_PORT,
    databaseUrl: e.DATABASE_URL,
    redisUrl: e.REDIS_URL,
    configFile: e.CONFIG_FILE ? resolve(cwd, e.CONFIG_FILE) : existsSync(defaultConfig) ? defaultConfig : undefined,
    authDir: e.AUTH_DIR,
    bodyLimitBytes: e.BODY_LIMIT_BYTES,
    adminUrl: e.ADMIN_URL,
    transportKeyPrefix: keyPrefixFor(e.REDIS_URL, e.TRANSPORT_KEY_PREFIX),
    providerFamily: e.PROVIDER_FAMILY,
    logLevel: e.LOG_LEVEL,
    adminHost: e.ADMIN_HOST,
    trustedProxies: e.TRUSTED_PROXIES,
    heartbeatMs: e.HEARTBEAT_MS,
    replyIdleTimeoutMs: e.REPLY_IDLE_TIMEOUT_MS,
    gatewayMaxInFlight: e.GATEWAY_MAX_IN_FLIGHT,
    gatewayMaxInFlightBytes: e.GATEWAY_MAX_IN_FLIGHT_BYTES,
  };
}
