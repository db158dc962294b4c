/**
 * Subscription (OAuth) dialects through the whole stack: the official SDKs talk to the gateway,
 * which routes to a Claude subscription login and to a ChatGPT-account Codex login. The mock
 * upstream enforces what Anthropic and the ChatGPT backend enforce for such tokens (Bearer
 * only, the beta endpoint and oauth flag, Claude Code's system prompt, the account header,
 * stream/store rules, refused parameters), so every answer below passed those checks.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type OpenAI from 'openai';
import { CredentialRepository, PrismaService, SecretBox } from '@cpa/db';
import { CHATGPT_CODEX_PATH, waitFor, type RecordedRequest } from '@cpa/testing';
import { unsignedJwt, MockTokenServer } from '@cpa/testing';
import { announceCatalogChange, CLIENT_KEY, useStack } from './stack-fixture';

const CLAUDE_TOKEN = 'sk-ant-oat01-dialect-e2e';
const CLAUDE_ACCOUNT = '5b0e8d6c-1f2a-4c3d-8e4f-0123456789ab';
const CLAUDE_MODEL = 'claude-sub';
/** Served under its own name: a Claude Code request for it reaches upstream byte for byte. */
const CLAUDE_NATIVE_MODEL = 'claude-opus-4-1';
const CODEX_MODEL = 'codex-sub';
const CODEX_EXPIRING_MODEL = 'codex-expiring';
const ACCOUNT = 'acct-dialect-e2e';
const EXPIRING_ACCOUNT = 'acct-expiring-e2e';
const IDENTITY = "You are Claude Code, Anthropic's official CLI for Claude.";
const USER_ID = /^user_[0-9a-f]{64}_account_[0-9a-f-]{36}_session_[0-9a-f-]{36}$/;

const chatgptClaims = (account: string, expiresInSeconds: number) => ({
  exp: Math.floor(Date.now() / 1000) + expiresInSeconds,
  'https://api.openai.com/auth': { chatgpt_account_id: account },
});
const CODEX_TOKEN = unsignedJwt(chatgptClaims(ACCOUNT, 30 * 86_400));
const EXPIRED_CODEX_TOKEN = unsignedJwt(chatgptClaims(EXPIRING_ACCOUNT, -60));
const REFRESHED_CODEX_TOKEN = unsignedJwt({ ...chatgptClaims(EXPIRING_ACCOUNT, 30 * 86_400), jti: 'refreshed' });

let prisma: PrismaService;
let credentials: CredentialRepository;
let expiringId: string;
const tokens = new MockTokenServer();

beforeAll(async () => {
  await tokens.start();
  tokens.handler = () => ({
    status: 200,
    body: {
      access_token: REFRESHED_CODEX_TOKEN,
      refresh_token: 'rt-codex-rotated',
      id_token: unsignedJwt({
        email: 'e2e@example.com',
        'https://api.openai.com/auth': { chatgpt_account_id: EXPIRING_ACCOUNT },
      }),
      expires_in: 30 * 86_400,
    },
  });
});
afterAll(() => tokens.stop());

const { mock, stack, openai, anthropic } = useStack({
  config: () => ({}),
  env: () => ({
    // Nothing may reach a real token endpoint; only the expired Codex login is due for a refresh.
    OAUTH_TOKEN_URL_CODEX: `${tokens.url}/codex`,
    OAUTH_TOKEN_URL_CLAUDE: `${tokens.url}/claude`,
  }),
});

beforeAll(async () => {
  // Logins stored the way a login or token-file import stores them, then announced.
  prisma = new PrismaService(stack.databaseUrl);
  await prisma.$connect();
  credentials = new CredentialRepository(prisma, SecretBox.fromEnv());
  const day = 86_400_000;
  const created = await Promise.all([
    credentials.create({
      provider: 'claude',
      kind: 'oauth',
      label: 'claude subscription',
      source: 'e2e-login',
      baseUrl: mock.url,
      expiresAt: new Date(Date.now() + 8 * 3_600_000),
      attributes: {
        models: [
          { name: 'claude-sonnet-4-5', alias: CLAUDE_MODEL },
          { name: CLAUDE_NATIVE_MODEL, alias: CLAUDE_NATIVE_MODEL },
        ],
      },
      secret: { accessToken: CLAUDE_TOKEN, refreshToken: 'sk-ant-ort01-dialect-e2e', accountUuid: CLAUDE_ACCOUNT },
    }),
    credentials.create({
      provider: 'codex',
      kind: 'oauth',
      label: 'chatgpt account',
      source: 'e2e-login',
      baseUrl: `${mock.url}/backend-api/codex`,
      // Beyond the 5-day refresh lead: the worker leaves it alone.
      expiresAt: new Date(Date.now() + 30 * day),
      attributes: { models: [{ name: 'gpt-5', alias: CODEX_MODEL }] },
      // No accountId: the header must come from the id_token claim.
      secret: {
        accessToken: CODEX_TOKEN,
        refreshToken: 'rt-codex',
        idToken: unsignedJwt({ 'https://api.openai.com/auth': { chatgpt_account_id: ACCOUNT } }),
      },
    }),
    credentials.create({
      provider: 'codex',
      kind: 'oauth',
      label: 'expired chatgpt account',
      source: 'e2e-login',
      baseUrl: `${mock.url}/backend-api/codex`,
      expiresAt: new Date(Date.now() - 60_000),
      attributes: { models: [{ name: 'gpt-5-codex', alias: CODEX_EXPIRING_MODEL }] },
      secret: { accessToken: EXPIRED_CODEX_TOKEN, refreshToken: 'rt-codex-expiring', accountId: EXPIRING_ACCOUNT },
    }),
  ]);
  expiringId = created[2].id;
  await announceCatalogChange(
    stack,
    created.map((c) => c.id),
  );
  await waitFor(async () => (await openai().models.list()).data.some((m) => m.id === CODEX_MODEL), 20_000, 100);
  await waitFor(
    async () =>
      (await postMessages({ model: CLAUDE_MODEL, max_tokens: 16, messages: [{ role: 'user', content: 'warm up' }] }))
        .status === 200,
    20_000,
    100,
  );
});

afterAll(() => prisma?.$disconnect());

function postMessages(body: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${stack.url}/v1/messages`, {
    method: 'POST',
    headers: {
      'x-api-key': CLIENT_KEY,
      'content-type': 'application/json',
      'anthropic-version': '2023-06-01',
      ...headers,
    },
    body: JSON.stringify(body),
  });
}

const served = (): RecordedRequest => mock.requests.at(-1)!;
const servedBody = () => served().body as Record<string, unknown>;
const header = (request: RecordedRequest, name: string) => request.headers[name] as string | undefined;

/** What every request on the Claude subscription must look like upstream. */
function expectClaudeDialect(request: RecordedRequest, path = '/v1/messages'): void {
  expect(request.path).toBe(path);
  expect(request.query).toEqual({ beta: 'true' });
  expect(header(request, 'authorization')).toBe(`Bearer ${CLAUDE_TOKEN}`);
  expect(header(request, 'x-api-key')).toBeUndefined();
  expect(header(request, 'anthropic-beta')).toContain('oauth-2025-04-20');
  expect(header(request, 'x-app')).toBe('cli');
  expect(header(request, 'x-claude-code-session-id')).toMatch(/^[0-9a-f-]{36}$/);
  expect(header(request, 'x-client-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  expect(header(request, 'x-stainless-lang')).toBe('js');
}

/** A cloaked request: Claude Code's identity and headers, not the client's. */
function expectCloaked(request: RecordedRequest): void {
  expectClaudeDialect(request);
  expect(header(request, 'user-agent')).toMatch(/^claude-cli\/\d+\.\d+\.\d+ \(external, cli\)$/);
  const body = request.body as { system: Array<{ text: string }>; metadata: { user_id: string } };
  expect(body.system[0].text).toMatch(/^x-anthropic-billing-header: cc_version=/);
  expect(body.system[1].text).toBe(IDENTITY);
  expect(body.metadata.user_id).toMatch(USER_ID);
  expect(body.metadata.user_id).toContain(`_account_${CLAUDE_ACCOUNT}_`);
}

describe('Claude subscription login', () => {
  it("Anthropic SDK, non-streaming: cloaked upstream, the answer parses, the client system prompt kept after Claude Code's", async () => {
    const message = await anthropic().messages.create({
      model: CLAUDE_MODEL,
      max_tokens: 64,
      system: 'Answer like a pirate.',
      messages: [{ role: 'user', content: 'hello subscription' }],
    });
    expect(message.type).toBe('message');
    expect(message.content[0].type === 'text' && message.content[0].text).toMatch(
      /^echo: <system-reminder>[\s\S]*Answer like a pirate\.[\s\S]*hello subscription$/,
    );
    expect(message.usage.output_tokens).toBeGreaterThan(0);
    expectCloaked(served());
    expect(header(served(), 'accept')).toBe('application/json');
  });

  it('Anthropic SDK, streaming: events parse into the echo', async () => {
    const stream = anthropic().messages.stream({
      model: CLAUDE_MODEL,
      max_tokens: 64,
      messages: [{ role: 'user', content: 'stream the subscription' }],
    });
    let text = '';
    stream.on('text', (delta) => (text += delta));
    const final = await stream.finalMessage();
    expect(text).toBe('echo: stream the subscription');
    expect(final.stop_reason).toBe('end_turn');
    expectCloaked(served());
    expect(header(served(), 'accept')).toBe('text/event-stream');
    expect(header(served(), 'accept-encoding')).toBe('identity');
  });

  it('body betas move into Anthropic-Beta; the client flags are kept', async () => {
    const res = await postMessages(
      {
        model: CLAUDE_MODEL,
        max_tokens: 16,
        betas: ['files-api-2025-04-14'],
        messages: [{ role: 'user', content: 'with betas' }],
      },
      { 'anthropic-beta': 'tools-2024-04-04' },
    );
    expect(res.status).toBe(200);
    expect(servedBody().betas).toBeUndefined();
    expect(header(served(), 'anthropic-beta')).toBe(
      'oauth-2025-04-20,tools-2024-04-04,interleaved-thinking-2025-05-14,files-api-2025-04-14',
    );
  });

  it('count_tokens goes to the beta counting endpoint', async () => {
    const count = await anthropic().messages.countTokens({
      model: CLAUDE_MODEL,
      messages: [{ role: 'user', content: 'count these four words' }],
    });
    expect(count.input_tokens).toBe(4);
    expectClaudeDialect(served(), '/v1/messages/count_tokens');
  });

  it('OpenAI chat client, non-streaming and streaming', async () => {
    const res = await openai().chat.completions.create({
      model: CLAUDE_MODEL,
      messages: [{ role: 'user', content: 'chat to claude' }],
    });
    expect(res.choices[0].message.content).toBe('echo: chat to claude');
    expectCloaked(served());
    const stream = await openai().chat.completions.create({
      model: CLAUDE_MODEL,
      stream: true,
      messages: [{ role: 'user', content: 'chat stream to claude' }],
    });
    let text = '';
    for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? '';
    expect(text).toBe('echo: chat stream to claude');
    expectCloaked(served());
  });

  it('OpenAI Responses client, non-streaming and streaming', async () => {
    const res = await openai().responses.create({ model: CLAUDE_MODEL, input: 'responses to claude' });
    expect(res.output_text).toBe('echo: responses to claude');
    expectCloaked(served());
    const stream = await openai().responses.create({
      model: CLAUDE_MODEL,
      input: 'responses stream to claude',
      stream: true,
    });
    let text = '';
    for await (const event of stream) if (event.type === 'response.output_text.delta') text += event.delta;
    expect(text).toBe('echo: responses stream to claude');
    expectCloaked(served());
  });

  it('a Claude Code client passes through unchanged apart from auth', async () => {
    const userAgent = 'claude-cli/2.1.220 (external, cli)';
    const body = JSON.stringify({
      model: CLAUDE_NATIVE_MODEL,
      max_tokens: 32,
      system: [
        { type: 'text', text: IDENTITY, cache_control: { type: 'ephemeral' } },
        { type: 'text', text: 'Project rules.' },
      ],
      metadata: { user_id: `user_${'a'.repeat(64)}_account__session_0f0e0d0c-0b0a-4908-8706-050403020100` },
      messages: [{ role: 'user', content: 'from claude code' }],
      stream: true,
    });
    const res = await fetch(`${stack.url}/v1/messages?beta=true`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${CLIENT_KEY}`,
        'content-type': 'application/json',
        'anthropic-version': '2023-06-01',
        'anthropic-beta': 'claude-code-20250219,interleaved-thinking-2025-05-14',
        'user-agent': userAgent,
        'x-claude-code-session-id': '7d1e2f3a-4b5c-4d6e-8f70-8192a3b4c5d6',
      },
      body,
    });
    expect(res.status).toBe(200);
    const deltas = (await res.text())
      .split('\n')
      .filter((line) => line.startsWith('data: '))
      .map((line) => JSON.parse(line.slice(6)) as { delta?: { text?: string } });
    expect(deltas.map((event) => event.delta?.text ?? '').join('')).toBe('echo: from claude code');
    expectClaudeDialect(served());
    expect(served().rawBody).toBe(body);
    expect(header(served(), 'user-agent')).toBe(userAgent);
    expect(header(served(), 'x-claude-code-session-id')).toBe('7d1e2f3a-4b5c-4d6e-8f70-8192a3b4c5d6');
    expect(header(served(), 'anthropic-beta')).toBe(
      'claude-code-20250219,oauth-2025-04-20,interleaved-thinking-2025-05-14',
    );
  });
});

/** What every request on a ChatGPT-account login must look like upstream. */
function expectCodexDialect(request: RecordedRequest, token = CODEX_TOKEN, account = ACCOUNT): Record<string, unknown> {
  expect(request.path).toBe(CHATGPT_CODEX_PATH);
  expect(header(request, 'authorization')).toBe(`Bearer ${token}`);
  expect(header(request, 'chatgpt-account-id')).toBe(account);
  expect(header(request, 'originator')).toBe('codex-tui');
  expect(header(request, 'user-agent')).toMatch(/^codex-tui\/\d+\.\d+\.\d+ /);
  expect(header(request, 'accept')).toBe('text/event-stream');
  const body = request.body as Record<string, unknown>;
  expect(body).toMatchObject({
    stream: true,
    store: false,
    parallel_tool_calls: true,
    include: ['reasoning.encrypted_content'],
  });
  expect(typeof body.instructions).toBe('string');
  expect(typeof body.prompt_cache_key).toBe('string');
  expect(header(request, 'session_id')).toBe(body.prompt_cache_key);
  return body;
}

describe('Codex with a ChatGPT account', () => {
  it('OpenAI Responses client, non-streaming: refused parameters removed, the aggregated answer parses', async () => {
    const res = await openai().responses.create({
      model: CODEX_MODEL,
      instructions: 'be brief',
      input: 'hello chatgpt',
      temperature: 0.3,
      max_output_tokens: 500,
      prompt_cache_key: 'conv-1',
    });
    expect(res.output_text).toBe('echo: hello chatgpt');
    expect(res.status).toBe('completed');
    const body = expectCodexDialect(served());
    expect(body).toMatchObject({ instructions: 'be brief', prompt_cache_key: 'conv-1' });
    expect(body).not.toHaveProperty('temperature');
    expect(body).not.toHaveProperty('max_output_tokens');
  });

  it('OpenAI Responses client, streaming, with Codex CLI headers passed through', async () => {
    const client = openai({
      defaultHeaders: { originator: 'codex_cli_rs', version: '0.146.0', 'x-codex-turn-metadata': '{"turn_id":"t-1"}' },
    });
    const stream = await client.responses.create({
      model: CODEX_MODEL,
      input: [
        { role: 'system', content: 'sys rules' },
        { role: 'user', content: 'stream chatgpt' },
      ],
      stream: true,
    });
    let text = '';
    let completed: OpenAI.Responses.Response | undefined;
    for await (const event of stream) {
      if (event.type === 'response.output_text.delta') text += event.delta;
      if (event.type === 'response.completed') completed = event.response;
    }
    expect(text).toBe('echo: stream chatgpt');
    expect(completed?.status).toBe('completed');
    const request = served();
    expect(header(request, 'originator')).toBe('codex_cli_rs');
    expect(header(request, 'version')).toBe('0.146.0');
    expect(header(request, 'x-codex-turn-metadata')).toBe('{"turn_id":"t-1"}');
    const input = (request.body as { input: Array<{ role?: string }> }).input;
    expect(input.map((item) => item.role)).toEqual(['developer', 'user']);
  });

  it('OpenAI chat client, non-streaming and streaming', async () => {
    const res = await openai().chat.completions.create({
      model: CODEX_MODEL,
      temperature: 0.2,
      messages: [
        { role: 'system', content: 'terse' },
        { role: 'user', content: 'chat to codex' },
      ],
    });
    expect(res.choices[0].message.content).toBe('echo: chat to codex');
    const body = expectCodexDialect(served());
    expect(body).not.toHaveProperty('temperature');
    expect(JSON.stringify(body.input)).not.toContain('"role":"system"');
    const stream = await openai().chat.completions.create({
      model: CODEX_MODEL,
      stream: true,
      stream_options: { include_usage: true },
      messages: [{ role: 'user', content: 'chat stream to codex' }],
    });
    let text = '';
    for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? '';
    expect(text).toBe('echo: chat stream to codex');
    expectCodexDialect(served());
  });

  it('a login whose token expired is refreshed and served with the new token', async () => {
    const res = await openai().responses.create({ model: CODEX_EXPIRING_MODEL, input: 'after expiry' });
    expect(res.output_text).toBe('echo: after expiry');
    expectCodexDialect(served(), REFRESHED_CODEX_TOKEN, EXPIRING_ACCOUNT);
    // Either the worker refreshed ahead of the request or the executor's 401 asked it to: one refresh, with the stored refresh token.
    const codexRefreshes = tokens.requests.filter((r) => r.path === '/codex');
    expect(codexRefreshes).toHaveLength(1);
    expect(codexRefreshes[0].fields).toMatchObject({ grant_type: 'refresh_token', refresh_token: 'rt-codex-expiring' });
    expect(await credentials.getSecret(expiringId)).toMatchObject({
      accessToken: REFRESHED_CODEX_TOKEN,
      refreshToken: 'rt-codex-rotated',
      accountId: EXPIRING_ACCOUNT,
    });
    // At most the one request the backend refused (401) carried the expired token.
    expect(
      mock.requests.filter((r) => header(r, 'authorization') === `Bearer ${EXPIRED_CODEX_TOKEN}`).length,
    ).toBeLessThanOrEqual(1);
  });
});
