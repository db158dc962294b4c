import { antigravityLogin } from './antigravity.login';
import { claudeLogin } from './claude.login';
import { codexDeviceLogin, codexLogin } from './codex.login';
import { geminiCliLogin } from './gemini-cli.login';
import { iflowLogin } from './iflow.login';
import { kimiLogin } from './kimi.login';
import type { DeviceLoginFlow, LoginFlow } from './login-flow';

/**
 * Every login this router can run. A family's login is one file exporting its flow; list it
 * here and the management routes, the gateway's browser callback and `npm run login` serve it.
 */
export const LOGIN_FLOWS: readonly LoginFlow[] = [
  claudeLogin,
  codexLogin,
  codexDeviceLogin,
  geminiCliLogin,
  antigravityLogin,
  kimiLogin,
  iflowLogin,
];

/**
 * CLIProxyAPI's `/<route>-auth-url` management routes. All are served; a route without a flow
 * in LOGIN_FLOWS answers 501 until its family's login is added.
 */
export const LOGIN_ROUTES = ['anthropic', 'codex', 'gemini-cli', 'antigravity', 'kimi', 'iflow'] as const;
export type LoginRoute = (typeof LOGIN_ROUTES)[number];

const normalize = (name: string) => name.trim().toLowerCase();

/** A flow by its command-line name, one of its aliases, or its management route name (the redirect flow first). */
export function findLoginFlow(name: string, flows: readonly LoginFlow[] = LOGIN_FLOWS): LoginFlow | undefined {
  const key = normalize(name);
  return (
    flows.find((flow) => flow.name === key) ??
    flows.find((flow) => flow.aliases.includes(key)) ??
    flows.find((flow) => flow.route === key && flow.kind === 'redirect') ??
    flows.find((flow) => flow.route === key)
  );
}

/** The flow behind `/<route>-auth-url`; `device` picks the route's device flow (`?flow=device`), else its browser flow. */
export function loginFlowForRoute(
  route: string,
  device = false,
  flows: readonly LoginFlow[] = LOGIN_FLOWS,
): LoginFlow | undefined {
  const key = normalize(route);
  const candidates = flows.filter((flow) => flow.route === key);
  return device
    ? candidates.find((flow): flow is DeviceLoginFlow => flow.kind === 'device')
    : (candidates.find((flow) => flow.kind === 'redirect') ?? candidates[0]);
}

/** The gateway path the provider's browser redirect may be forwarded to for a flow: `/<route>/callback` unless it names its own. */
export function callbackRouteOf(flow: LoginFlow): string {
  return flow.kind === 'redirect' && flow.callbackRoute ? flow.callbackRoute : flow.route;
}
