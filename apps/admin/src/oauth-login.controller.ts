import { Body, Controller, Get, HttpCode, Param, Post, Query, Req, Res, UseGuards } from '@nestjs/common';
import { LoginRequestError, ManagementAuthGuard, OAuthLoginService } from '@cpa/management';
import { callbackRouteOf, LOGIN_FLOWS, LOGIN_ROUTES } from '@cpa/providers';
import type { FastifyReply, FastifyRequest } from 'fastify';

const AUTH_URL_SUFFIX = '-auth-url';
const single = (value: unknown) => (Array.isArray(value) ? (value[0] as unknown) : value);
const text = (value: unknown) => (typeof single(value) === 'string' ? (single(value) as string) : undefined);

/** CLIProxyAPI's login answers carry `status`; refusals are `{"status":"error","error"}` with the refusal's HTTP status. */
async function answer(
  reply: FastifyReply,
  run: () => Promise<Record<string, unknown>>,
): Promise<Record<string, unknown>> {
  try {
    return await run();
  } catch (error) {
    if (!(error instanceof LoginRequestError)) throw error;
    reply.status(error.status);
    return { status: 'error', error: error.message };
  }
}

/** The management API's login routes (under /v0/management, management key required). */
@Controller()
@UseGuards(ManagementAuthGuard)
export class OAuthLoginController {
  constructor(private readonly logins: OAuthLoginService) {}

  /** `GET /<route>-auth-url` for every CLIProxyAPI login route; `?flow=device` picks the device flow (Codex). */
  @Get(LOGIN_ROUTES.map((route) => `${route}${AUTH_URL_SUFFIX}`))
  authUrl(
    @Req() request: FastifyRequest,
    @Query() query: Record<string, unknown>,
    @Res({ passthrough: true }) reply: FastifyReply,
  ) {
    const path = request.url.split('?')[0];
    const route = path.slice(path.lastIndexOf('/') + 1, -AUTH_URL_SUFFIX.length);
    const device = text(query.flow) === 'device' || text(query.device) === 'true';
    return answer(reply, async () => ({ ...(await this.logins.startRoute(route, device)) }));
  }

  @Post('oauth-callback')
  @HttpCode(200)
  callback(@Body() body: unknown, @Res({ passthrough: true }) reply: FastifyReply) {
    return answer(reply, async () => ({ status: 'ok', auth_index: (await this.logins.callback(body)).authIndex }));
  }

  @Get('get-auth-status')
  status(@Query() query: Record<string, unknown>, @Res({ passthrough: true }) reply: FastifyReply) {
    return answer(reply, async () => ({ ...(await this.logins.status(text(query.state))) }));
  }
}

/** Path of the browser callbacks, outside the management prefix (the gateway passes `/<route>/callback` here). */
export const BROWSER_CALLBACK_PATH = ':route/callback';

const escapeHtml = (value: string) => value.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function page(title: string, lines: string[]): string {
  const body = lines.map((line) => `<p>${escapeHtml(line)}</p>`).join('');
  return `<!doctype html><html><head><meta charset="utf-8"><title>${escapeHtml(title)}</title></head><body><h1>${escapeHtml(title)}</h1>${body}</body></html>`;
}

/**
 * Where the provider's redirect lands (through any gateway pod): no management key, as the
 * browser has none; the unguessable, single-use state is what ties it to a login. Answers a
 * small page the operator can close.
 */
@Controller()
export class OAuthBrowserCallbackController {
  constructor(private readonly logins: OAuthLoginService) {}

  @Get(BROWSER_CALLBACK_PATH)
  async callback(
    @Param('route') route: string,
    @Query() query: Record<string, unknown>,
    @Res({ passthrough: true }) reply: FastifyReply,
  ) {
    reply.header('content-type', 'text/html; charset=utf-8');
    if (!LOGIN_FLOWS.some((flow) => callbackRouteOf(flow) === route)) {
      reply.status(404);
      return page('Not found', [`No login answers at /${route}/callback.`]);
    }
    try {
      await this.logins.callback({
        provider: route,
        code: text(query.code),
        state: text(query.state),
        error: text(query.error) ?? text(query.error_description),
      });
      return page('Authentication successful', ['You can close this window.']);
    } catch (error) {
      if (!(error instanceof LoginRequestError)) throw error;
      reply.status(error.status);
      return page('Authentication failed', [error.message, 'You can close this window and start the login again.']);
    }
  }
}
