/**
 * What the refresh-worker integration suites share: a scripted OAuth token endpoint, a
 * Redis key prefix and credential source of their own, and a record of the
 * credential-rotated events the workers announce.
 *
 * The token server is passed in and typed by shape, so this module needs nothing from
 * outside the app (it is compiled with it).
 */
import { randomBytes } from 'node:crypto';
import Redis from 'ioredis';
import { Events } from '@cpa/contracts';
import { decodeRequest, transportKeys } from '@cpa/transport';

export const HOUR = 3_600_000;

export interface TokenRequest {
  fields: Record<string, unknown>;
}
export interface TokenReply {
  status: number;
  body: unknown;
}
export type TokenHandler<Req extends TokenRequest> = (req: Req, index: number) => TokenReply | Promise<TokenReply>;

/** The mock OAuth token endpoint of @cpa/providers' test fixtures, by shape. */
export interface TokenServer<Req extends TokenRequest> {
  readonly url: string;
  readonly requests: readonly Req[];
  handler: TokenHandler<Req>;
  start(): Promise<unknown>;
  stop(): Promise<void>;
}

export interface RefreshFixtureOptions {
  /** Segment of the Redis key prefix, unique per suite. */
  prefix: string;
  /** Stem of the credential source: the suite's rows, as other suites share the test database. */
  source: string;
  /** Lifetime of the tokens the endpoint issues unless a test scripts another reply. */
  expiresIn: number;
  /** Families whose token URL points at the mock endpoint. */
  families: readonly string[];
}

export class RefreshFixture<Req extends TokenRequest> {
  readonly redisUrl = process.env.REDIS_URL!;
  readonly keyPrefix: string;
  readonly source: string;
  /** Replies by refresh token, so each test scripts its own credential's endpoint. */
  readonly scripts = new Map<string, TokenHandler<Req>>();
  /** Ids of the credentials announced as rotated, in order. */
  readonly rotated: string[] = [];
  /** Ids of the credentials announced as changed (routing must reload them), in order. */
  readonly changed: string[] = [];
  private subscriber?: Redis;

  constructor(
    readonly tokens: TokenServer<Req>,
    private readonly options: RefreshFixtureOptions,
  ) {
    this.keyPrefix = `${process.env.TEST_KEY_PREFIX}${options.prefix}:${randomBytes(3).toString('hex')}:`;
    this.source = `${options.source}-${randomBytes(3).toString('hex')}`;
  }

  async start(): Promise<void> {
    const { tokens, scripts } = this;
    await tokens.start();
    tokens.handler = (req, index) => {
      const script = scripts.get(String(req.fields.refresh_token));
      if (script) return script(req, index);
      return {
        status: 200,
        body: {
          access_token: `access-${index + 1}`,
          refresh_token: `refresh-${index + 1}`,
          expires_in: this.options.expiresIn,
        },
      };
    };
    for (const family of this.options.families)
      process.env[`OAUTH_TOKEN_URL_${family.toUpperCase()}`] = `${tokens.url}/${family}`;

    this.subscriber = new Redis(this.redisUrl);
    const rotatedChannel = transportKeys.event(this.keyPrefix, Events.credentialRotated);
    const changedChannel = transportKeys.event(this.keyPrefix, Events.credentialChanged);
    await this.subscriber.subscribe(rotatedChannel, changedChannel);
    this.subscriber.on('messageBuffer', (channel: Buffer, message: Buffer) => {
      const data = decodeRequest(message).data as { id?: string; credentialIds?: string[] };
      if (channel.toString() === rotatedChannel) this.rotated.push(data.id!);
      else if (channel.toString() === changedChannel) this.changed.push(...(data.credentialIds ?? []));
    });
  }

  /** Stops listening and serving tokens, and leaves no Redis keys of this run behind. */
  async stop(): Promise<void> {
    this.subscriber?.disconnect();
    await this.tokens.stop();
    const redis = new Redis(this.redisUrl);
    const keys = await redis.keys(`${this.keyPrefix}*`);
    if (keys.length) await redis.del(...keys);
    redis.disconnect();
  }

  /** The token requests that presented this refresh token. */
  readonly requestsFor = (refreshToken: string): Req[] =>
    this.tokens.requests.filter((req) => req.fields.refresh_token === refreshToken);
}
