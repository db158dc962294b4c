import { createServer, type Server } from 'node:http';
import { createInterface } from 'node:readline';
import { Module, type DynamicModule } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { loadEnv, type Env } from '@cpa/config';
import { DbModule } from '@cpa/db';
import { LoginRequestError, ManagementModule, OAuthLoginService, type LoginStatus } from '@cpa/management';
import { findLoginFlow, LOGIN_FLOWS, type LoginFlow, type RedirectLoginFlow } from '@cpa/providers';
import { TransportModule } from '@cpa/transport';

/**
 * `npm run login -- <family> [--device] [--no-browser]`: logs an account in with the admin's
 * own OAuthLoginService, so the credential lands in Postgres (DATABASE_URL, secrets encrypted
 * with CPA_SECRET_KEY) exactly as a management-API login or an imported token file would,
 * and running pods are told at once. Prints the URL to open (it opens nothing itself, so it
 * works the same over SSH), then waits for the provider's redirect on the family's usual
 * local port (LOGIN_CALLBACK_PORT or --port overrides it) or for the redirect URL pasted on
 * stdin. Device flows print the code and poll. Exit code 0 with `auth_index: <id>` printed,
 * 1 when the login failed or expired, 2 for wrong usage.
 */

@Module({})
class LoginModule {
  static forRoot(env: Env): DynamicModule {
    return {
      module: LoginModule,
      imports: [
        DbModule.forRoot({ databaseUrl: env.databaseUrl }),
        TransportModule.forRoot({ redisUrl: env.redisUrl, keyPrefix: env.transportKeyPrefix }),
        // The same Redis and key prefix as the stack: the login is published in the catalog snapshot every pod reads.
        ManagementModule.forRoot({ redisUrl: env.redisUrl, keyPrefix: env.transportKeyPrefix }),
      ],
    };
  }
}

export interface LoginIo {
  write(line: string): void;
  input: NodeJS.ReadableStream;
  env: NodeJS.ProcessEnv;
}

interface Options {
  flow?: LoginFlow;
  port?: number;
  problem?: string;
}

const USAGE = `usage: npm run login -- <${[...new Set(LOGIN_FLOWS.map((f) => f.name))].join('|')}> [--device] [--no-browser] [--port <n>]`;

export function parseLoginArgs(args: readonly string[], env: NodeJS.ProcessEnv): Options {
  const positional: string[] = [];
  let device = false;
  let port: number | undefined = env.LOGIN_CALLBACK_PORT ? Number(env.LOGIN_CALLBACK_PORT) : undefined;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (arg === '--device') device = true;
    // Nothing is ever opened; accepted for CLIProxyAPI users' muscle memory.
    else if (arg === '--no-browser') continue;
    else if (arg === '--port') port = Number(args[++i]);
    else if (arg.startsWith('--port=')) port = Number(arg.slice('--port='.length));
    else if (arg.startsWith('--')) return { problem: `unknown option ${arg}` };
    else positional.push(arg);
  }
  if (positional.length !== 1) return { problem: 'name one family' };
  const name = device && !positional[0].endsWith('-device') ? `${positional[0]}-device` : positional[0];
  // A family whose only login is a device flow (kimi) takes --device too.
  const named = findLoginFlow(positional[0]);
  const flow = findLoginFlow(name) ?? (device && named?.kind === 'device' ? named : undefined);
  if (!flow) return { problem: `no login for "${positional[0]}"` };
  if (port !== undefined && !(Number.isInteger(port) && port > 0 && port < 65536))
    return { problem: 'the callback port must be a number from 1 to 65535' };
  return { flow, port };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The redirect's query on the local listener, or a pasted redirect URL / code, finishes the login. */
async function waitForRedirect(
  service: OAuthLoginService,
  flow: RedirectLoginFlow,
  state: string,
  port: number,
  io: LoginIo,
): Promise<LoginStatus> {
  let server: Server | undefined;
  let lines: ReturnType<typeof createInterface> | undefined;
  const attempt = async (body: Record<string, string | undefined>): Promise<{ ok: boolean; message: string }> => {
    try {
      await service.callback({ provider: flow.name, ...body });
      return { ok: true, message: 'Authentication successful.' };
    } catch (error) {
      if (!(error instanceof LoginRequestError)) throw error;
      return { ok: false, message: error.message };
    }
  };
  try {
    const listening = await new Promise<boolean>((resolve) => {
      server = createServer((req, res) => {
        const url = new URL(req.url ?? '/', 'http://localhost');
        if (req.method !== 'GET' || url.pathname !== flow.callbackPath) {
          res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
          return;
        }
        const query = url.searchParams;
        void attempt({
          code: query.get('code') ?? undefined,
          state: query.get('state') ?? undefined,
          error: query.get('error') ?? query.get('error_description') ?? undefined,
        }).then(
          (outcome) => {
            res
              .writeHead(outcome.ok ? 200 : 400, { 'content-type': 'text/plain; charset=utf-8' })
              .end(`${outcome.message}\nYou can close this window.\n`);
            if (!outcome.ok) io.write(`callback refused: ${outcome.message}`);
          },
          () => res.writeHead(500).end(),
        );
      });
      server.once('error', (error: NodeJS.ErrnoException) => {
        io.write(`cannot listen on port ${port} (${error.code ?? 'error'}): paste the redirect URL instead`);
        resolve(false);
      });
      server.listen(port, () => resolve(true));
    });
    io.write(
      listening
        ? `Waiting for the redirect to ${flow.redirectUri(port)} ...`
        : 'Waiting for the pasted redirect URL ...',
    );
    io.write('Or paste the URL your browser was sent to (or the code shown) and press Enter:');

    lines = createInterface({ input: io.input, terminal: false });
    lines.on('line', (line) => {
      const text = line.trim();
      if (!text) return;
      const pasted = /:\/\/|(^|[?&])(code|error)=/.test(text) ? { redirect_url: text } : { code: text, state };
      void attempt(pasted).then((outcome) => {
        if (!outcome.ok) io.write(`not accepted: ${outcome.message}`);
      });
    });
    for (;;) {
      const status = await service.status(state);
      if (status.status !== 'wait') return status;
      await sleep(250);
    }
  } finally {
    lines?.close();
    server?.closeAllConnections();
    await new Promise<void>((resolve) => (server?.listening ? server.close(() => resolve()) : resolve()));
  }
}

export async function runLogin(
  args: readonly string[],
  io: LoginIo = { write: (line) => process.stdout.write(`${line}\n`), input: process.stdin, env: process.env },
): Promise<number> {
  const options = parseLoginArgs(args, io.env);
  if (!options.flow) {
    io.write(`${options.problem ?? 'wrong usage'}\n${USAGE}`);
    return 2;
  }
  const flow = options.flow;
  const env = loadEnv();
  const app = await NestFactory.createApplicationContext(LoginModule.forRoot(env), { logger: ['error', 'warn'] });
  try {
    const service = app.get(OAuthLoginService);
    const port = flow.kind === 'redirect' ? (options.port ?? flow.callbackPort) : undefined;
    let started;
    try {
      started = await service.start(flow, { callbackPort: port });
    } catch (error) {
      if (!(error instanceof LoginRequestError)) throw error;
      io.write(`login failed: ${error.message}`);
      return 1;
    }
    let status: LoginStatus;
    if (flow.kind === 'redirect') {
      io.write(`Open this URL in a browser and sign in:\n\n${started.url}\n`);
      status = await waitForRedirect(service, flow, started.state, port!, io);
    } else {
      io.write(`Open ${started.url} and enter the code ${started.user_code}`);
      io.write('Waiting for the code to be entered ...');
      do {
        await sleep(1000);
        status = await service.status(started.state);
      } while (status.status === 'wait');
    }
    if (status.status !== 'ok') {
      io.write(`login failed: ${status.status === 'error' ? status.error : 'no answer'}`);
      return 1;
    }
    io.write(`Authentication successful; the credential is stored and every pod routes with it now.`);
    io.write(`auth_index: ${status.auth_index}`);
    return 0;
  } finally {
    await app.close();
  }
}

if (require.main === module) {
  runLogin(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err: unknown) => {
      // Start-up failures (environment, database, key) carry no secrets by construction.
      console.error(`login failed: ${err instanceof Error ? err.message : String(err)}`);
      process.exit(1);
    },
  );
}
