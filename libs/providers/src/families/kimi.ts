import { arch, hostname, platform } from 'node:os';
import type { ProviderAdapter, UpstreamBody, UpstreamCall } from '../provider-adapter';
import { joinUrl, tryParseJsonObject } from '../provider-adapter';
import { DEFAULT_KIMI_BASE_URL, KIMI_CLI } from './client-profiles';
import { stableUuid } from './stable-id';

/** The machine as Kimi CLI describes it in X-Msh-Device-Name / -Model. */
export interface KimiDevice {
  name: string;
  model: string;
}

// Kimi CLI (and CLIProxyAPI) write Go's GOOS/GOARCH names: "linux amd64", "darwin arm64".
const GO_OS: Record<string, string> = { win32: 'windows' };
const GO_ARCH: Record<string, string> = { x64: 'amd64', ia32: '386' };

/** This executor's host, read once. */
export const LOCAL_KIMI_DEVICE: KimiDevice = {
  name: safeHostname(),
  model: `${GO_OS[platform()] ?? platform()} ${GO_ARCH[arch()] ?? arch()}`,
};

function safeHostname(): string {
  try {
    return hostname() || 'unknown';
  } catch {
    return 'unknown';
  }
}

/**
 * The device id Kimi knows the login by: the one the device flow ran with (`device_id` of the
 * token file, `deviceId` in the secret). A login without one gets an id derived from the
 * credential, the same on every executor replica.
 */
export function kimiDeviceId(secret: Record<string, unknown>, credentialId: string): string {
  const stored = typeof secret.deviceId === 'string' ? secret.deviceId.trim() : '';
  return stored || stableUuid('kimi-device', credentialId);
}

/** Kimi CLI's platform and device headers, sent to the API and to the token endpoint alike (pure). */
export function kimiDeviceHeaders(deviceId: string, device: KimiDevice = LOCAL_KIMI_DEVICE): Record<string, string> {
  return {
    'x-msh-platform': KIMI_CLI.platform,
    'x-msh-version': KIMI_CLI.version,
    'x-msh-device-name': device.name,
    'x-msh-device-model': device.model,
    'x-msh-device-id': deviceId,
  };
}

/** The headers of one Kimi Code request (pure). */
export function kimiHeaders(
  accessToken: string,
  deviceId: string,
  stream: boolean,
  device: KimiDevice = LOCAL_KIMI_DEVICE,
): Record<string, string> {
  return {
    'content-type': 'application/json',
    authorization: `Bearer ${accessToken}`,
    'user-agent': KIMI_CLI.userAgent,
    ...kimiDeviceHeaders(deviceId, device),
    accept: stream ? 'text/event-stream' : 'application/json',
  };
}

/** Kimi Code's ids for the K2.7 Code models CLIProxyAPI lists under other names. */
const KIMI_MODEL_IDS: Record<string, string> = {
  'kimi-k2.7-code': 'kimi-for-coding',
  'k2.7-code': 'kimi-for-coding',
  'for-coding': 'kimi-for-coding',
  'kimi-for-coding': 'kimi-for-coding',
  'kimi-k2.7-code-highspeed': 'kimi-for-coding-highspeed',
  'k2.7-code-highspeed': 'kimi-for-coding-highspeed',
  'for-coding-highspeed': 'kimi-for-coding-highspeed',
  'kimi-for-coding-highspeed': 'kimi-for-coding-highspeed',
};

/**
 * The model id Kimi's API expects (CLIProxyAPI's normalizeKimiUpstreamModel): lower case,
 * without Claude Code's `[1m]` context marker, K2.7 Code aliases mapped, and without the
 * `kimi-` prefix the model list carries (`kimi-k2.5` -> `k2.5`).
 */
export function kimiUpstreamModel(model: string): string {
  let id = model.trim().toLowerCase();
  if (id.endsWith('[1m]')) id = id.slice(0, -'[1m]'.length);
  return KIMI_MODEL_IDS[id] ?? (id.startsWith('kimi-') ? id.slice('kimi-'.length) : id);
}

function accessTokenOf(call: UpstreamCall): string {
  const token = call.secret.accessToken ?? call.secret.apiKey;
  if (!token) throw new Error('kimi credential has no access token');
  return token;
}

/**
 * Kimi Code (device-flow logins): `{base|KIMI_BASE_URL|https://api.kimi.com/coding}/v1/chat/completions`
 * with the access token as Bearer and Kimi CLI's platform and device headers.
 */
export const kimiAdapter: ProviderAdapter = {
  family: 'kimi',
  upstreamFormat: 'openai-chat',
  target(call: UpstreamCall, stream: boolean) {
    const base = call.baseUrl || process.env.KIMI_BASE_URL?.trim() || DEFAULT_KIMI_BASE_URL;
    const deviceId = kimiDeviceId(call.secret, call.credentialId ?? accessTokenOf(call));
    return {
      url: joinUrl(base, '/v1/chat/completions'),
      headers: { ...kimiHeaders(accessTokenOf(call), deviceId, stream), ...call.headers },
    };
  },
  prepareBody(call: UpstreamCall, body: UpstreamBody, stream: boolean) {
    const request = tryParseJsonObject(body);
    if (!request) return body;
    request.model = kimiUpstreamModel(call.upstreamModel);
    // Usage arrives only when asked for; CLIProxyAPI always asks on streams.
    if (stream)
      request.stream_options = {
        ...(isObject(request.stream_options) ? request.stream_options : {}),
        include_usage: true,
      };
    return Buffer.from(JSON.stringify(request));
  },
};

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);
