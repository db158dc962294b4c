import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { kimiDeviceHeaders } from '../families/kimi';
import { KIMI_OAUTH_CLIENT_ID, TOKEN_URLS } from '../oauth/refreshers';
import { endpointUrl, LoginError, type DeviceLoginFlow, type LoginResult } from './login-flow';

/**
 * Kimi Code login as CLIProxyAPI does it (internal/auth/kimi): an RFC 8628 device flow at
 * auth.kimi.com with Kimi's public client, every call carrying the device headers of a fresh
 * device id, which the token file keeps (`device_id`) because Kimi ties the login to it.
 * Polls no faster than every 5 s; authorization_pending and slow_down keep waiting.
 */

const ENDPOINTS = {
  deviceCode: { env: 'OAUTH_DEVICE_URL_KIMI', url: 'https://auth.kimi.com/api/oauth/device_authorization' },
  token: TOKEN_URLS.kimi,
};

const DEVICE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';
/** CLIProxyAPI never polls Kimi faster than this, whatever interval it is given. */
export const KIMI_MIN_POLL_SECONDS = 5;
const MAX_POLL_SECONDS = 15 * 60;
/** RFC 8628 §3.5: slow_down adds 5 s to the interval. */
const SLOW_DOWN_STEP_SECONDS = 5;

const DeviceCodeSchema = z.looseObject({
  device_code: z.string().trim().min(1),
  user_code: z.string().optional(),
  verification_uri: z.string().optional(),
  verification_uri_complete: z.string().optional(),
  expires_in: z.coerce.number().optional(),
  interval: z.coerce.number().optional(),
});

const TokenAnswerSchema = z.looseObject({
  error: z.string().optional(),
  access_token: z.string().optional(),
  refresh_token: z.string().optional(),
  token_type: z.string().optional(),
  expires_in: z.coerce.number().optional(),
  scope: z.string().optional(),
});

const PollDataSchema = z.object({ deviceCode: z.string(), deviceId: z.string(), intervalSeconds: z.number() });

/** Go's time.RFC3339 in UTC: whole seconds. */
const rfc3339 = (date: Date): string => date.toISOString().replace(/\.\d{3}Z$/, 'Z');

/** The token file CLIProxyAPI writes after a Kimi login (`kimi-<ms>.json`). */
export function kimiLoginResult(
  answer: z.infer<typeof TokenAnswerSchema> & { access_token: string },
  deviceId: string,
  now: Date,
): LoginResult {
  const file: Record<string, unknown> = {
    type: 'kimi',
    access_token: answer.access_token,
    refresh_token: answer.refresh_token ?? '',
    token_type: answer.token_type ?? '',
    scope: answer.scope ?? '',
    timestamp: now.getTime(),
  };
  if (answer.expires_in && answer.expires_in > 0)
    file.expired = rfc3339(new Date(now.getTime() + Math.trunc(answer.expires_in) * 1000));
  if (deviceId.trim()) file.device_id = deviceId.trim();
  return { fileName: `kimi-${now.getTime()}.json`, tokenFile: file };
}

export const kimiLogin: DeviceLoginFlow = {
  kind: 'device',
  name: 'kimi',
  aliases: [],
  provider: 'kimi',
  route: 'kimi',
  endpoints: ENDPOINTS,
  async start(ctx) {
    const deviceId = randomUUID();
    const res = await ctx.http.post(
      endpointUrl(ENDPOINTS.deviceCode, ctx.env),
      { form: { client_id: KIMI_OAUTH_CLIENT_ID } },
      kimiDeviceHeaders(deviceId),
    );
    if (res.status !== 200) throw new LoginError(`kimi device code request answered ${res.status}`);
    const parsed = DeviceCodeSchema.safeParse(res.body);
    if (!parsed.success) throw new LoginError('kimi device code answer lacks device_code');
    const answer = parsed.data;
    const verificationUrl = (answer.verification_uri_complete || answer.verification_uri || '').trim();
    if (!verificationUrl) throw new LoginError('kimi device code answer names no verification URL');
    const intervalSeconds = Math.max(Math.trunc(answer.interval ?? 0), KIMI_MIN_POLL_SECONDS);
    const expires =
      answer.expires_in && answer.expires_in > 0 ? Math.min(answer.expires_in, MAX_POLL_SECONDS) : MAX_POLL_SECONDS;
    return {
      verificationUrl,
      userCode: answer.user_code?.trim() ?? '',
      intervalSeconds,
      expiresInSeconds: expires,
      pollData: { deviceCode: answer.device_code, deviceId, intervalSeconds },
    };
  },
  async poll(pollData, ctx) {
    const { deviceCode, deviceId, intervalSeconds } = PollDataSchema.parse(pollData);
    const res = await ctx.http.post(
      endpointUrl(ENDPOINTS.token, ctx.env),
      { form: { client_id: KIMI_OAUTH_CLIENT_ID, device_code: deviceCode, grant_type: DEVICE_GRANT } },
      kimiDeviceHeaders(deviceId),
    );
    // Kimi answers its OAuth errors (pending included) with a 4xx and a JSON body: the body decides.
    const parsed = TokenAnswerSchema.safeParse(res.body);
    if (!parsed.success) throw new LoginError(`kimi token endpoint answered ${res.status} without a token answer`);
    const answer = parsed.data;
    switch (answer.error) {
      case undefined:
      case '':
        break;
      case 'authorization_pending':
        return { status: 'pending' };
      case 'slow_down':
        return { status: 'pending', intervalSeconds: intervalSeconds + SLOW_DOWN_STEP_SECONDS };
      case 'expired_token':
        throw new LoginError('kimi device code expired');
      case 'access_denied':
        throw new LoginError('kimi access denied by user');
      default:
        throw new LoginError(`kimi OAuth error: ${answer.error.slice(0, 80)}`);
    }
    const accessToken = answer.access_token?.trim();
    if (!accessToken) throw new LoginError('kimi token endpoint answered without an access token');
    return { status: 'done', result: kimiLoginResult({ ...answer, access_token: accessToken }, deviceId, ctx.now) };
  },
};
