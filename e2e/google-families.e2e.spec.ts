/**
 * Google's account families through the whole stack: the official SDKs talk to the gateway,
 * which routes to a Gemini CLI login, an Antigravity login, a Vertex service account and a
 * vertex-api-key entry. The mocks enforce what Google enforces (live Bearer tokens from the
 * token endpoint, Code Assist's wrapper and client identity, Vertex's paths and plain
 * bodies, API keys), and the token endpoint issues 4-second tokens and spends refresh
 * tokens on use, so the logins only keep working if every rotation is stored and used.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type * as GenAI from '@google/genai' with { 'resolution-mode': 'import' };
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CredentialRepository, PrismaService, SecretBox } from '@cpa/db';
import {
  ANTIGRAVITY_OAUTH_CLIENT_ID,
  ANTIGRAVITY_OAUTH_CLIENT_SECRET,
  GEMINI_CLI_OAUTH_CLIENT_ID,
  GEMINI_CLI_OAUTH_CLIENT_SECRET,
} from '@cpa/providers';
import {
  freePort,
  MockGoogleTokenServer,
  startCodeAssistMock,
  startVertexMock,
  waitFor,
  type CodeAssistMock,
  type CodeAssistRequest,
  type TestServiceAccount,
  type VertexMock,
} from '@cpa/testing';
import { announceCatalogChange, CLIENT_KEY, useStack } from './stack-fixture';

const TOKEN_LIFETIME_S = 4;
const CLI_PROJECT = 'cli-proj-e2e';
const AG_PROJECT = 'ag-proj-e2e';
const VX_PROJECT = 'vx-proj-e2e';
const VX_LOCATION = 'europe-west4';
const VERTEX_KEY = 'vk-e2e-key';

/** Client model names, one per family, so each request lands on the family under test. */
const CLI_MODEL = 'cli-flash';
const AG_CLAUDE = 'ag-sonnet';
const AG_GEMINI = 'ag-flash';
const VX_MODEL = 'vx-pro';
const VK_MODEL = 'vk-flash';

const google = new MockGoogleTokenServer({
  clients: {
    [GEMINI_CLI_OAUTH_CLIENT_ID]: GEMINI_CLI_OAUTH_CLIENT_SECRET,
    [ANTIGRAVITY_OAUTH_CLIENT_ID]: ANTIGRAVITY_OAUTH_CLIENT_SECRET,
  },
  accessTokenLifetimeSeconds: TOKEN_LIFETIME_S,
});
let codeAssist: CodeAssistMock;
let vertex: VertexMock;
let unreachableBase: string;
let serviceAccount: TestServiceAccount;
let genai: typeof GenAI;

beforeAll(async () => {
  genai = await import('@google/genai');
  await google.start();
  const verifyToken = (token: string) => google.verify(token);
  codeAssist = await startCodeAssistMock({
    verifyToken,
    projects: [CLI_PROJECT, AG_PROJECT],
    loadCodeAssistProject: AG_PROJECT,
  });
  vertex = await startVertexMock({ verifyToken, projects: { [VX_PROJECT]: VX_LOCATION }, apiKeys: [VERTEX_KEY] });
  // Nothing listens there: Antigravity must move on to the next base.
  unreachableBase = `http://127.0.0.1:${await freePort()}`;
  serviceAccount = google.createServiceAccount(VX_PROJECT);
});
afterAll(async () => {
  await codeAssist?.close();
  await vertex?.close();
  await google.close();
});

const { stack, openai, anthropic } = useStack({
  families: ['gemini-cli', 'antigravity', 'vertex'],
  config: () => ({
    'vertex-api-key': [
      { 'api-key': VERTEX_KEY, 'base-url': vertex.url, models: [{ name: 'gemini-2.5-flash', alias: VK_MODEL }] },
    ],
  }),
  env: () => ({
    OAUTH_TOKEN_URL_GEMINI: google.tokenUrl,
    GEMINI_CLI_BASE_URL: codeAssist.url,
    ANTIGRAVITY_BASE_URL: `${unreachableBase},${codeAssist.url}`,
    VERTEX_BASE_URL: vertex.url,
  }),
});

let prisma: PrismaService;
let credentials: CredentialRepository;
const ids: Record<'cli' | 'ag' | 'vx', string> = { cli: '', ag: '', vx: '' };

beforeAll(async () => {
  // Logins stored as a login or token-file import stores them; their access tokens were
  // never issued by this endpoint (as after a restore), so the first use refreshes them.
  prisma = new PrismaService(stack.databaseUrl);
  await prisma.$connect();
  credentials = new CredentialRepository(prisma, SecretBox.fromEnv());
  const hour = new Date(Date.now() + 3_600_000);
  const [cli, ag, vx] = await Promise.all([
    credentials.create({
      provider: 'gemini-cli',
      kind: 'oauth',
      label: 'gemini cli login',
      source: 'e2e-login',
      expiresAt: hour,
      attributes: { models: [{ name: 'gemini-2.5-flash', alias: CLI_MODEL }] },
      secret: {
        accessToken: 'ya29.restored-cli',
        refreshToken: google.issueRefreshToken(GEMINI_CLI_OAUTH_CLIENT_ID),
        tokenType: 'Bearer',
        projectId: CLI_PROJECT,
      },
    }),
    credentials.create({
      provider: 'antigravity',
      kind: 'oauth',
      label: 'antigravity login',
      source: 'e2e-login',
      expiresAt: hour,
      attributes: {
        models: [
          { name: 'claude-sonnet-4-6', alias: AG_CLAUDE },
          { name: 'gemini-3-flash', alias: AG_GEMINI },
        ],
      },
      // No project: the refresh looks it up with loadCodeAssist.
      secret: {
        accessToken: 'ya29.restored-ag',
        refreshToken: google.issueRefreshToken(ANTIGRAVITY_OAUTH_CLIENT_ID),
        tokenType: 'Bearer',
      },
    }),
    credentials.create({
      provider: 'vertex',
      kind: 'oauth',
      label: 'vertex service account',
      source: 'e2e-login',
      expiresAt: hour,
      attributes: { models: [{ name: 'gemini-2.5-pro', alias: VX_MODEL }] },
      secret: { accessToken: 'ya29.restored-vx', serviceAccount, projectId: VX_PROJECT, location: VX_LOCATION },
    }),
  ]);
  Object.assign(ids, { cli: cli.id, ag: ag.id, vx: vx.id });
  await announceCatalogChange(stack, [cli.id, ag.id, vx.id]);
  const models = async () => (await openai().models.list()).data.map((m) => m.id);
  await waitFor(
    async () => {
      const list = await models();
      return [CLI_MODEL, AG_CLAUDE, VX_MODEL, VK_MODEL].every((m) => list.includes(m));
    },
    20_000,
    100,
  );
});

afterAll(() => prisma?.$disconnect());

const gemini = () => new genai.GoogleGenAI({ apiKey: CLIENT_KEY, httpOptions: { baseUrl: stack.url } });
const lastCodeAssist = (client: CodeAssistRequest['client']) =>
  codeAssist.requests.filter((r) => r.client === client).at(-1)!;
const bodyOf = (request: { body: unknown }) => request.body as Record<string, unknown>;
const bearer = (request: { headers: Record<string, unknown> }) =>
  String(request.headers.authorization).replace(/^Bearer /, '');

async function streamText(stream: AsyncIterable<{ text?: string }>): Promise<string> {
  let text = '';
  for await (const chunk of stream) text += chunk.text ?? '';
  return text;
}

describe('gemini-cli', () => {
  it('a Gemini client gets the unwrapped answer; upstream saw the wrapper, the project and the Gemini CLI identity', async () => {
    const answer = await gemini().models.generateContent({ model: CLI_MODEL, contents: 'hello from genai' });
    expect(answer.text).toBe('echo: hello from genai');
    expect(answer.usageMetadata?.totalTokenCount).toBeGreaterThan(0);

    const served = lastCodeAssist('gemini-cli');
    expect(served.path).toBe('/v1internal:generateContent');
    expect(bodyOf(served)).toMatchObject({
      model: 'gemini-2.5-flash',
      project: CLI_PROJECT,
      request: { contents: [{ role: 'user', parts: [{ text: 'hello from genai' }] }] },
    });
    expect(served.headers['user-agent']).toMatch(/^GeminiCLI\/\d+\.\d+\.\d+\/gemini-2\.5-flash \(/);
    expect(served.headers['x-goog-api-client']).toMatch(/^google-genai-sdk\//);
    expect(google.verify(bearer(served))).toBe('valid');
  });

  it('streams: every SSE event is unwrapped for the Gemini SDK', async () => {
    const text = await streamText(
      await gemini().models.generateContentStream({ model: CLI_MODEL, contents: 'stream these four words' }),
    );
    expect(text).toBe('echo: stream these four words');
    const served = lastCodeAssist('gemini-cli');
    expect(served.path).toBe('/v1internal:streamGenerateContent');
    expect(served.query).toEqual({ alt: 'sse' });
  });

  it('OpenAI chat clients, streaming and not', async () => {
    const completion = await openai().chat.completions.create({
      model: CLI_MODEL,
      messages: [{ role: 'user', content: 'hi via openai' }],
    });
    expect(completion.choices[0]!.message.content).toBe('echo: hi via openai');
    const stream = await openai().chat.completions.create({
      model: CLI_MODEL,
      stream: true,
      messages: [{ role: 'user', content: 'streamed via openai' }],
    });
    let text = '';
    for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
    expect(text).toBe('echo: streamed via openai');
  });

  it('countTokens sends {request} without safety settings and reads the unwrapped count', async () => {
    const counted = await gemini().models.countTokens({ model: CLI_MODEL, contents: 'one two three four five' });
    expect(counted.totalTokens).toBe(5);
    const served = lastCodeAssist('gemini-cli');
    expect(served.path).toBe('/v1internal:countTokens');
    expect(Object.keys(bodyOf(served))).toEqual(['request']);
  });

  it('a 429 with RetryInfo.retryDelay is honoured: the login is tried again only after that delay', async () => {
    codeAssist.failNext(429, { retryAfterSeconds: 2 });
    const before = codeAssist.requests.length;
    const started = Date.now();
    // The only login cools for the 2 s Google asked for; the scheduler waits that out and retries it.
    const answer = await gemini().models.generateContent({ model: CLI_MODEL, contents: 'after the delay' });
    expect(answer.text).toBe('echo: after the delay');
    expect(Date.now() - started).toBeGreaterThanOrEqual(1_900);
    expect(codeAssist.requests.length - before).toBe(2);
  });
});

describe('antigravity', () => {
  it('serves a Claude model to the Anthropic SDK through the Gemini wire format, past an unreachable base', async () => {
    const message = await anthropic().messages.create({
      model: AG_CLAUDE,
      max_tokens: 64,
      messages: [{ role: 'user', content: 'hello antigravity' }],
    });
    expect(message.content).toEqual([expect.objectContaining({ type: 'text', text: 'echo: hello antigravity' })]);
    expect(message.model).toBe(AG_CLAUDE);

    const served = lastCodeAssist('antigravity');
    const body = bodyOf(served);
    expect(body).toMatchObject({
      model: 'claude-sonnet-4-6',
      userAgent: 'antigravity',
      requestType: 'agent',
      project: AG_PROJECT,
    });
    expect(body.requestId).toMatch(/^agent-[0-9a-f-]{36}$/);
    expect((body.request as Record<string, unknown>).sessionId).toMatch(/^-\d+$/);
    expect(served.headers['user-agent']).toMatch(/^antigravity\/\d+\.\d+\.\d+ darwin\/arm64$/);
    // The refresh looked the project up and stored it with the tokens.
    expect(await credentials.getSecret(ids.ag)).toMatchObject({ projectId: AG_PROJECT });
  });

  it('streams to the Anthropic SDK; a conversation keeps its session id, requests get fresh ids', async () => {
    const stream = anthropic().messages.stream({
      model: AG_CLAUDE,
      max_tokens: 64,
      messages: [{ role: 'user', content: 'same first words' }],
    });
    let text = '';
    for await (const event of stream)
      if (event.type === 'content_block_delta' && event.delta.type === 'text_delta') text += event.delta.text;
    expect(text).toBe('echo: same first words');
    const first = bodyOf(lastCodeAssist('antigravity'));

    const next = await anthropic().messages.create({
      model: AG_CLAUDE,
      max_tokens: 64,
      messages: [
        { role: 'user', content: 'same first words' },
        { role: 'assistant', content: 'echo: same first words' },
        { role: 'user', content: 'a second turn' },
      ],
    });
    expect(next.content[0]).toMatchObject({ text: 'echo: a second turn' });
    const second = bodyOf(lastCodeAssist('antigravity'));
    expect((second.request as Record<string, unknown>).sessionId).toBe(
      (first.request as Record<string, unknown>).sessionId,
    );
    expect(second.requestId).not.toBe(first.requestId);
  });

  it('serves its Gemini models to the Gemini SDK', async () => {
    const answer = await gemini().models.generateContent({ model: AG_GEMINI, contents: 'gemini on antigravity' });
    expect(answer.text).toBe('echo: gemini on antigravity');
    expect(bodyOf(lastCodeAssist('antigravity')).model).toBe('gemini-3-flash');
  });
});

describe('vertex', () => {
  it('service account: Gemini SDK and OpenAI clients, streaming and not, on the project and location path', async () => {
    const answer = await gemini().models.generateContent({ model: VX_MODEL, contents: 'hello vertex' });
    expect(answer.text).toBe('echo: hello vertex');
    const served = vertex.requests.at(-1)!;
    expect(served.auth).toBe('service-account');
    expect(served.path).toBe(
      `/v1/projects/${VX_PROJECT}/locations/${VX_LOCATION}/publishers/google/models/gemini-2.5-pro:generateContent`,
    );
    expect(bodyOf(served).project).toBeUndefined();
    expect(google.verify(bearer(served))).toBe('valid');
    expect(google.issuedTo(serviceAccount.client_email)).toBeGreaterThanOrEqual(1);

    const text = await streamText(
      await gemini().models.generateContentStream({ model: VX_MODEL, contents: 'stream from vertex' }),
    );
    expect(text).toBe('echo: stream from vertex');
    expect(vertex.requests.at(-1)!.query).toEqual({ alt: 'sse' });

    const stream = await openai().chat.completions.create({
      model: VX_MODEL,
      stream: true,
      messages: [{ role: 'user', content: 'openai to vertex' }],
    });
    let streamed = '';
    for await (const chunk of stream) streamed += chunk.choices[0]?.delta.content ?? '';
    expect(streamed).toBe('echo: openai to vertex');

    const counted = await gemini().models.countTokens({ model: VX_MODEL, contents: 'three words here' });
    expect(counted.totalTokens).toBe(3);
  });

  it('vertex-api-key: the publisher path with x-goog-api-key, for Gemini and OpenAI clients', async () => {
    const answer = await gemini().models.generateContent({ model: VK_MODEL, contents: 'key based' });
    expect(answer.text).toBe('echo: key based');
    const served = vertex.requests.at(-1)!;
    expect(served.auth).toBe('api-key');
    expect(served.path).toBe('/v1/publishers/google/models/gemini-2.5-flash:generateContent');
    expect(served.headers['x-goog-api-key']).toBe(VERTEX_KEY);
    expect(served.headers.authorization).toBeUndefined();

    const completion = await openai().chat.completions.create({
      model: VK_MODEL,
      messages: [{ role: 'user', content: 'openai with a key' }],
    });
    expect(completion.choices[0]!.message.content).toBe('echo: openai with a key');
    const text = await streamText(
      await gemini().models.generateContentStream({ model: VK_MODEL, contents: 'keyed stream' }),
    );
    expect(text).toBe('echo: keyed stream');
  });

  it('is listed by the management API like gemini-api-key', async () => {
    const res = await fetch(`${stack.url}/v0/management/vertex-api-key`, {
      headers: { authorization: 'Bearer mgmt-e2e-secret' },
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as Record<string, Array<Record<string, unknown>>>;
    expect(body['vertex-api-key']).toEqual([
      expect.objectContaining({ 'api-key': VERTEX_KEY, 'base-url': vertex.url }),
    ]);
  });
});

describe('token rotations', () => {
  it('every family keeps answering across token rotations (each token lives 4 s; refresh tokens are single-use)', async () => {
    const tokensSeen = { cli: new Set<string>(), ag: new Set<string>(), vx: new Set<string>() };
    for (let round = 0; round < 3; round++) {
      const cli = await gemini().models.generateContent({ model: CLI_MODEL, contents: `cli round ${round}` });
      expect(cli.text).toBe(`echo: cli round ${round}`);
      tokensSeen.cli.add(bearer(lastCodeAssist('gemini-cli')));

      const ag = await anthropic().messages.create({
        model: AG_CLAUDE,
        max_tokens: 32,
        messages: [{ role: 'user', content: `ag round ${round}` }],
      });
      expect(ag.content[0]).toMatchObject({ text: `echo: ag round ${round}` });
      tokensSeen.ag.add(bearer(lastCodeAssist('antigravity')));

      const vx = await openai().chat.completions.create({
        model: VX_MODEL,
        messages: [{ role: 'user', content: `vx round ${round}` }],
      });
      expect(vx.choices[0]!.message.content).toBe(`echo: vx round ${round}`);
      tokensSeen.vx.add(bearer(vertex.requests.filter((r) => r.auth === 'service-account').at(-1)!));

      // Outlive the tokens just used.
      await sleep(TOKEN_LIFETIME_S * 1000 + 300);
    }
    for (const seen of Object.values(tokensSeen)) expect(seen.size).toBeGreaterThanOrEqual(3);
    expect(google.issuedTo(GEMINI_CLI_OAUTH_CLIENT_ID)).toBeGreaterThanOrEqual(3);
    expect(google.issuedTo(ANTIGRAVITY_OAUTH_CLIENT_ID)).toBeGreaterThanOrEqual(3);
    expect(google.issuedTo(serviceAccount.client_email)).toBeGreaterThanOrEqual(3);
    // Every refresh grant succeeded: no spent refresh token was ever presented again.
    const refreshGrants = google.requests.filter((r) => r.grantType === 'refresh_token').length;
    expect(refreshGrants).toBe(
      google.issuedTo(GEMINI_CLI_OAUTH_CLIENT_ID) + google.issuedTo(ANTIGRAVITY_OAUTH_CLIENT_ID),
    );
    for (const id of [ids.cli, ids.ag])
      expect((await prisma.credential.findUniqueOrThrow({ where: { id } })).status).toBe('active');
  });
});
