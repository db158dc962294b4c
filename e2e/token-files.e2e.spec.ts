/**
 * A user's CLIProxyAPI token files, end to end: files of every type in AUTH_DIR, one uploaded
 * through the management API and one imported with `npm run import-auth` (a real process)
 * serve requests from the official SDKs through the running stack, without restarts. Every
 * upstream is a dialect mock that refuses what its real counterpart refuses, and every token
 * endpoint is a mock that spends refresh tokens on use: the files' access tokens are expired
 * or were never issued, so nothing answers unless the files' refresh tokens (or service
 * account) are used, every rotation is stored, and the stored tokens are the ones sent.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type * as GenAI from '@google/genai' with { 'resolution-mode': 'import' };
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  ANTIGRAVITY_OAUTH_CLIENT_ID,
  ANTIGRAVITY_OAUTH_CLIENT_SECRET,
  GEMINI_CLI_OAUTH_CLIENT_ID,
  GEMINI_CLI_OAUTH_CLIENT_SECRET,
} from '@cpa/providers';
import {
  CHATGPT_CODEX_PATH,
  MockGoogleTokenServer,
  startCodeAssistMock,
  startVertexMock,
  TOKEN_FILE_SAMPLES,
  waitFor,
  writeTokenFiles,
  type CodeAssistMock,
  type RecordedRequest,
  type TestServiceAccount,
  type VertexMock,
} from '@cpa/testing';
import { unsignedJwt, MockTokenServer, RotatingTokens } from '@cpa/testing';
import { importAuthLines, runImportAuth } from './import-auth-command';
import { CLIENT_KEY, MANAGEMENT_SECRET, useStack } from './stack-fixture';

/** Google's and ChatGPT's access tokens live this long here, so a few requests see several rotations. */
const TOKEN_LIFETIME_S = 4;
const PAST = '2024-01-01T00:00:00Z';

const CODEX_ACCOUNT = TOKEN_FILE_SAMPLES['codex-codex-user@example.com-plus.json'].account_id;
/** A ChatGPT access token: a JWT whose `exp` and account claim the backend checks. */
const chatgptToken = (expiresInSeconds: number, id: string) =>
  unsignedJwt({
    exp: Math.floor(Date.now() / 1000) + expiresInSeconds,
    'https://api.openai.com/auth': { chatgpt_account_id: CODEX_ACCOUNT },
    jti: id,
  });

// Token endpoints. Anthropic's and OpenAI's rotate both tokens and refuse a spent refresh token.
const claudeTokens = new RotatingTokens({ expiresIn: 3600, accessToken: (n) => `sk-ant-oat01-rotated-${n}` });
const codexTokens = new RotatingTokens({
  expiresIn: TOKEN_LIFETIME_S,
  accessToken: (n, expiresIn) => chatgptToken(expiresIn, `rotated-${n}`),
});
const claudeTokenServer = new MockTokenServer();
const codexTokenServer = new MockTokenServer();
/** Access token issued with each refresh token, to tell which pair is current. */
const issuedWith = new Map<string, string>();
const google = new MockGoogleTokenServer({
  clients: {
    [GEMINI_CLI_OAUTH_CLIENT_ID]: GEMINI_CLI_OAUTH_CLIENT_SECRET,
    [ANTIGRAVITY_OAUTH_CLIENT_ID]: ANTIGRAVITY_OAUTH_CLIENT_SECRET,
  },
  accessTokenLifetimeSeconds: TOKEN_LIFETIME_S,
});

const PROJECTS = ['tf-proj-one', 'tf-proj-two'];
const AG_PROJECT = 'tf-ag-project';
const VX_PROJECT = 'tf-vx-project';
const VX_LOCATION = 'europe-west4';

/** Client model names: the families' default models, two of them given per-channel aliases (oauth-model-alias) so each names one family. */
const CLAUDE_MODEL = 'claude-haiku-4-5-20251001';
const CODEX_MODEL = 'gpt-5';
const CLI_MODEL = 'tf-cli-flash';
const VX_MODEL = 'tf-vx-pro';
const AG_GEMINI = 'gemini-3-flash';
const AG_CLAUDE = 'claude-sonnet-4-6';
/** The prefix only the revoked Claude login carries: once it needs a login, nothing serves it. */
const REVOKED_PREFIX = 'solo';

const FILES = {
  claude: 'claude-user@example.com.json',
  claudeRevoked: 'claude-revoked@example.com.json',
  codex: 'codex-codex-user@example.com-plus.json',
  gemini: 'gemini-team@gmail.com-all.json',
  vertex: 'vertex-tf-vx-project.json',
  antigravity: 'antigravity-ag-user@gmail.com.json',
  uploaded: 'codex-uploaded@example.com.json',
  imported: 'claude-imported@example.com.json',
} as const;

let codeAssist: CodeAssistMock;
let vertex: VertexMock;
let serviceAccount: TestServiceAccount;
let genai: typeof GenAI;
let authDir: string;
/** The files as written, by name. */
const written: Record<string, Record<string, unknown>> = {};

/** The sample files of every type, with expired (or never issued) access tokens and refresh tokens the mocks know. */
function startupFiles(): Record<string, Record<string, unknown>> {
  const claude = TOKEN_FILE_SAMPLES['claude-user@example.com.json'];
  const gemini = TOKEN_FILE_SAMPLES['gemini-user@gmail.com-my-project.json'];
  return {
    [FILES.claude]: {
      ...claude,
      access_token: 'sk-ant-oat01-expired-user',
      refresh_token: 'sk-ant-ort01-user',
      expired: PAST,
      last_refresh: PAST,
    },
    // Its refresh token was revoked: the endpoint has never heard of it.
    [FILES.claudeRevoked]: {
      ...claude,
      email: 'revoked@example.com',
      access_token: 'sk-ant-oat01-expired-revoked',
      refresh_token: 'sk-ant-ort01-revoked',
      expired: PAST,
      last_refresh: PAST,
      prefix: REVOKED_PREFIX,
    },
    [FILES.codex]: {
      ...TOKEN_FILE_SAMPLES['codex-codex-user@example.com-plus.json'],
      access_token: chatgptToken(-60, 'expired'),
      refresh_token: 'codex-refresh-user',
      expired: PAST,
      last_refresh: PAST,
    },
    [FILES.gemini]: {
      ...gemini,
      email: 'team@gmail.com',
      project_id: PROJECTS.join(','),
      token: {
        ...gemini.token,
        access_token: 'ya29.never-issued',
        client_id: GEMINI_CLI_OAUTH_CLIENT_ID,
        expiry: PAST,
        refresh_token: google.issueRefreshToken(GEMINI_CLI_OAUTH_CLIENT_ID),
        token_uri: google.tokenUrl,
      },
    },
    [FILES.vertex]: {
      ...TOKEN_FILE_SAMPLES['vertex-my-gcp-project.json'],
      email: serviceAccount.client_email,
      location: VX_LOCATION,
      project_id: VX_PROJECT,
      service_account: { ...serviceAccount },
    },
    [FILES.antigravity]: {
      ...TOKEN_FILE_SAMPLES['antigravity-ag-user@gmail.com.json'],
      access_token: 'ya29.never-issued-ag',
      refresh_token: google.issueRefreshToken(ANTIGRAVITY_OAUTH_CLIENT_ID),
      project_id: AG_PROJECT,
      expired: PAST,
      timestamp: Date.parse(PAST) - 3_600_000,
    },
  };
}

beforeAll(async () => {
  genai = await import('@google/genai');
  claudeTokens.seed('sk-ant-ort01-user', 'sk-ant-ort01-imported');
  codexTokens.seed('codex-refresh-user', 'codex-refresh-uploaded');
  claudeTokenServer.handler = claudeTokens.handler;
  codexTokenServer.handler = async (req, index) => {
    const reply = await codexTokens.handler(req, index);
    const body = reply.body as { access_token?: string; refresh_token?: string };
    if (reply.status === 200 && body.refresh_token && body.access_token)
      issuedWith.set(body.refresh_token, body.access_token);
    return reply;
  };
  await Promise.all([claudeTokenServer.start(), codexTokenServer.start(), google.start()]);
  const verifyToken = (token: string) => google.verify(token);
  codeAssist = await startCodeAssistMock({ verifyToken, projects: [...PROJECTS, AG_PROJECT] });
  vertex = await startVertexMock({ verifyToken, projects: { [VX_PROJECT]: VX_LOCATION }, apiKeys: [] });
  serviceAccount = google.createServiceAccount(VX_PROJECT);
  authDir = mkdtempSync(join(tmpdir(), 'cpa-token-files-'));
  Object.assign(written, startupFiles());
  writeTokenFiles(authDir, written);
});
afterAll(async () => {
  await codeAssist?.close();
  await vertex?.close();
  await Promise.all([claudeTokenServer.stop(), codexTokenServer.stop(), google.close()]);
});

const { mock, stack, openai, anthropic, management } = useStack({
  families: ['claude', 'codex', 'gemini-cli', 'vertex', 'antigravity'],
  config: () => ({
    'oauth-model-alias': {
      'gemini-cli': [{ name: 'gemini-2.5-flash', alias: CLI_MODEL }],
      vertex: [{ name: 'gemini-2.5-pro', alias: VX_MODEL }],
    },
  }),
  env: () => ({
    AUTH_DIR: authDir,
    CLAUDE_BASE_URL: mock.url,
    CODEX_BASE_URL: `${mock.url}/backend-api/codex`,
    GEMINI_CLI_BASE_URL: codeAssist.url,
    ANTIGRAVITY_BASE_URL: codeAssist.url,
    VERTEX_BASE_URL: vertex.url,
    OAUTH_TOKEN_URL_CLAUDE: `${claudeTokenServer.url}/v1/oauth/token`,
    OAUTH_TOKEN_URL_CODEX: `${codexTokenServer.url}/oauth/token`,
    OAUTH_TOKEN_URL_GEMINI: google.tokenUrl,
  }),
});

/** Anthropic refuses an expired OAuth token (the mock checks the dialect, not token lifetimes). */
const EXPIRED_CLAUDE_TOKENS = ['sk-ant-oat01-expired-user', 'sk-ant-oat01-expired-revoked'];
beforeEach(() => {
  for (const token of EXPIRED_CLAUDE_TOKENS) mock.setBehavior(token, { status: 401 });
});

interface AuthFileEntry {
  id: string;
  auth_index: string;
  name: string;
  type: string;
  provider: string;
  email: string;
  status: string;
  status_message: string;
  disabled: boolean;
  unavailable: boolean;
  prefix: string;
  success: number;
  failed: number;
  [field: string]: unknown;
}

async function authFiles(): Promise<AuthFileEntry[]> {
  const res = await management('/auth-files');
  expect(res.status).toBe(200);
  return ((await res.json()) as { files: AuthFileEntry[] }).files;
}

async function download(name: string): Promise<Record<string, unknown>> {
  const res = await management(`/auth-files/download?name=${encodeURIComponent(name)}`);
  expect(res.status).toBe(200);
  return (await res.json()) as Record<string, unknown>;
}

const modelIds = async () => (await openai().models.list()).data.map((m) => m.id);
const gemini = () => new genai.GoogleGenAI({ apiKey: CLIENT_KEY, httpOptions: { baseUrl: stack.url } });
const bearer = (request: { headers: Record<string, unknown> }) =>
  String(request.headers.authorization ?? '').replace(/^Bearer /, '');
const codexServed = () => mock.requests.filter((r) => r.path === CHATGPT_CODEX_PATH);
const claudeServed = () => mock.requests.filter((r) => r.path === '/v1/messages');
const projectOf = (request: { body: unknown }) => (request.body as { project?: string }).project;

async function streamText(stream: AsyncIterable<{ text?: string }>): Promise<string> {
  let text = '';
  for await (const chunk of stream) text += chunk.text ?? '';
  return text;
}

beforeAll(async () => {
  await waitFor(
    async () => {
      const models = await modelIds();
      return [CLAUDE_MODEL, CODEX_MODEL, CLI_MODEL, VX_MODEL, AG_GEMINI, AG_CLAUDE].every((m) => models.includes(m));
    },
    30_000,
    200,
  );
});

describe('token files in AUTH_DIR', () => {
  it('GET /auth-files lists every credential with CLIProxyAPI fields, one per gemini project', async () => {
    const files = await authFiles();
    const byId = new Map(files.map((f) => [f.id, f]));
    const expected: Array<[id: string, name: string, provider: string, email: string]> = [
      [FILES.claude, FILES.claude, 'claude', 'user@example.com'],
      [FILES.claudeRevoked, FILES.claudeRevoked, 'claude', 'revoked@example.com'],
      [FILES.codex, FILES.codex, 'codex', 'codex-user@example.com'],
      [`${FILES.gemini}::${PROJECTS[0]}`, FILES.gemini, 'gemini-cli', 'team@gmail.com'],
      [`${FILES.gemini}::${PROJECTS[1]}`, FILES.gemini, 'gemini-cli', 'team@gmail.com'],
      [FILES.vertex, FILES.vertex, 'vertex', serviceAccount.client_email],
      [FILES.antigravity, FILES.antigravity, 'antigravity', 'ag-user@gmail.com'],
    ];
    expect(files).toHaveLength(expected.length);
    for (const [id, name, provider, email] of expected) {
      const file = byId.get(id);
      expect(file, id).toMatchObject({
        id,
        auth_index: id,
        name,
        type: provider,
        provider,
        email,
        account: email,
        disabled: false,
        source: 'auth-file',
      });
      for (const field of [
        'label',
        'status',
        'status_message',
        'unavailable',
        'priority',
        'prefix',
        'proxy_url',
        'success',
        'failed',
      ]) {
        expect(file, `${id}.${field}`).toHaveProperty(field);
      }
    }
    expect(byId.get(FILES.claudeRevoked)!.prefix).toBe(REVOKED_PREFIX);
  });

  it('claude: the Anthropic SDK, streaming and not, is served with a token refreshed from the expired file', async () => {
    const client = anthropic();
    const message = await client.messages.create({
      model: CLAUDE_MODEL,
      max_tokens: 64,
      messages: [{ role: 'user', content: 'hello claude file' }],
    });
    expect(message.content[0]).toMatchObject({ type: 'text', text: 'echo: hello claude file' });
    const stream = client.messages.stream({
      model: CLAUDE_MODEL,
      max_tokens: 64,
      messages: [{ role: 'user', content: 'stream claude file' }],
    });
    let text = '';
    stream.on('text', (delta) => (text += delta));
    await stream.finalMessage();
    expect(text).toBe('echo: stream claude file');

    const answered = claudeServed().filter((r) => !EXPIRED_CLAUDE_TOKENS.includes(bearer(r)));
    expect(answered.length).toBeGreaterThanOrEqual(2);
    for (const request of answered) {
      expect(request.query).toEqual({ beta: 'true' });
      expect(request.headers['x-api-key']).toBeUndefined();
      expect(bearer(request)).toMatch(/^sk-ant-oat01-rotated-\d+$/);
    }
    expect(claudeTokens.spent.has('sk-ant-ort01-user')).toBe(true);
  });

  it('codex: OpenAI responses and chat, streaming and not, on the ChatGPT backend with the refreshed token', async () => {
    const client = openai();
    const response = await client.responses.create({ model: CODEX_MODEL, input: 'hello codex file' });
    expect(response.output_text).toBe('echo: hello codex file');
    const responses = await client.responses.create({
      model: CODEX_MODEL,
      input: 'stream codex responses',
      stream: true,
    });
    let text = '';
    for await (const event of responses) if (event.type === 'response.output_text.delta') text += event.delta;
    expect(text).toBe('echo: stream codex responses');
    const completion = await client.chat.completions.create({
      model: CODEX_MODEL,
      messages: [{ role: 'user', content: 'chat codex file' }],
    });
    expect(completion.choices[0]!.message.content).toBe('echo: chat codex file');
    const chat = await client.chat.completions.create({
      model: CODEX_MODEL,
      stream: true,
      messages: [{ role: 'user', content: 'stream codex chat' }],
    });
    let chatText = '';
    for await (const chunk of chat) chatText += chunk.choices[0]?.delta?.content ?? '';
    expect(chatText).toBe('echo: stream codex chat');

    const answered = codexServed().filter(
      (r) => r.headers.authorization !== `Bearer ${String(written[FILES.codex].access_token)}`,
    );
    expect(answered.length).toBeGreaterThanOrEqual(4);
    for (const request of answered) expect(request.headers['chatgpt-account-id']).toBe(CODEX_ACCOUNT);
    expect(codexTokens.spent.has('codex-refresh-user')).toBe(true);
  });

  it('gemini-cli: the Gemini SDK, streaming and not, through both projects of one file', async () => {
    const client = gemini();
    for (let i = 0; i < 6; i++) {
      const answer = await client.models.generateContent({ model: CLI_MODEL, contents: `gemini file turn ${i}` });
      expect(answer.text).toBe(`echo: gemini file turn ${i}`);
    }
    expect(
      await streamText(await client.models.generateContentStream({ model: CLI_MODEL, contents: 'stream gemini file' })),
    ).toBe('echo: stream gemini file');
    const served = codeAssist.requests.filter(
      (r) => r.client === 'gemini-cli' && r.path !== '/v1internal:loadCodeAssist',
    );
    expect(new Set(served.map(projectOf))).toEqual(new Set(PROJECTS));
    for (const request of served.slice(-1)) expect(google.verify(bearer(request))).toBe('valid');
  });

  it("vertex: the Gemini SDK, streaming and not, with a token from the file's service account", async () => {
    const client = gemini();
    const answer = await client.models.generateContent({ model: VX_MODEL, contents: 'hello vertex file' });
    expect(answer.text).toBe('echo: hello vertex file');
    expect(
      await streamText(await client.models.generateContentStream({ model: VX_MODEL, contents: 'stream vertex file' })),
    ).toBe('echo: stream vertex file');
    const served = vertex.requests.at(-1)!;
    expect(served.path).toBe(
      `/v1/projects/${VX_PROJECT}/locations/${VX_LOCATION}/publishers/google/models/gemini-2.5-pro:streamGenerateContent`,
    );
    expect(google.issuedTo(serviceAccount.client_email)).toBeGreaterThanOrEqual(1);
  });

  it('antigravity: the Gemini SDK, streaming and not, and the Anthropic SDK for its Claude model', async () => {
    const client = gemini();
    const answer = await client.models.generateContent({ model: AG_GEMINI, contents: 'hello antigravity file' });
    expect(answer.text).toBe('echo: hello antigravity file');
    expect(
      await streamText(
        await client.models.generateContentStream({ model: AG_GEMINI, contents: 'stream antigravity file' }),
      ),
    ).toBe('echo: stream antigravity file');
    const message = await anthropic().messages.create({
      model: AG_CLAUDE,
      max_tokens: 32,
      messages: [{ role: 'user', content: 'claude on antigravity' }],
    });
    expect(message.content[0]).toMatchObject({ text: 'echo: claude on antigravity' });
    const served = codeAssist.requests.filter((r) => r.client === 'antigravity').at(-1)!;
    expect(served.body).toMatchObject({ project: AG_PROJECT, model: 'claude-sonnet-4-6' });
  });
});

describe('token rotations', () => {
  it('codex, gemini-cli and antigravity keep answering across rotations (tokens live 4 s, refresh tokens are single-use)', async () => {
    const seen = { codex: new Set<string>(), cli: new Set<string>(), ag: new Set<string>() };
    for (let round = 0; round < 3; round++) {
      const codex = await openai().responses.create({ model: CODEX_MODEL, input: `codex round ${round}` });
      expect(codex.output_text).toBe(`echo: codex round ${round}`);
      seen.codex.add(bearer(codexServed().at(-1)!));
      const cli = await gemini().models.generateContent({ model: CLI_MODEL, contents: `cli round ${round}` });
      expect(cli.text).toBe(`echo: cli round ${round}`);
      seen.cli.add(bearer(codeAssist.requests.filter((r) => r.client === 'gemini-cli').at(-1)!));
      const ag = await gemini().models.generateContent({ model: AG_GEMINI, contents: `ag round ${round}` });
      expect(ag.text).toBe(`echo: ag round ${round}`);
      seen.ag.add(bearer(codeAssist.requests.filter((r) => r.client === 'antigravity').at(-1)!));
      if (round < 2) await sleep(TOKEN_LIFETIME_S * 1000 + 300);
    }
    for (const tokens of Object.values(seen)) expect(tokens.size).toBe(3);
    // Single-credential logins never presented a spent refresh token.
    const presented = codexTokenServer.requests.map((r) => String(r.fields.refresh_token));
    expect(new Set(presented).size).toBe(presented.length);
    const agGrants = google.requests.filter(
      (r) => r.grantType === 'refresh_token' && r.fields.client_id === ANTIGRAVITY_OAUTH_CLIENT_ID,
    );
    expect(agGrants).toHaveLength(google.issuedTo(ANTIGRAVITY_OAUTH_CLIENT_ID));
    // The gemini file's projects are one login (one refresh token, spent on every rotation):
    // both still serve, with live tokens.
    const before = codeAssist.requests.length;
    for (let i = 0; i < 6; i++)
      expect((await gemini().models.generateContent({ model: CLI_MODEL, contents: `after rotations ${i}` })).text).toBe(
        `echo: after rotations ${i}`,
      );
    const served = codeAssist.requests.slice(before).filter((r) => r.client === 'gemini-cli');
    expect(new Set(served.map(projectOf))).toEqual(new Set(PROJECTS));
    expect(served.every((r) => google.verify(bearer(r)) === 'valid')).toBe(true);
    for (const file of await authFiles()) {
      if (file.provider !== 'claude') expect(file, file.id).toMatchObject({ status: 'active' });
    }
  });
});

describe('files added while running', () => {
  it('a file uploaded through POST /auth-files (multipart) serves requests without a restart', async () => {
    const content = {
      ...TOKEN_FILE_SAMPLES['codex-codex-user@example.com-plus.json'],
      access_token: chatgptToken(-60, 'uploaded-expired'),
      refresh_token: 'codex-refresh-uploaded',
      expired: PAST,
      prefix: 'up',
    };
    written[FILES.uploaded] = content;
    const form = new FormData();
    form.append('file', new Blob([JSON.stringify(content)], { type: 'application/json' }), FILES.uploaded);
    const res = await fetch(`${stack.url}/v0/management/auth-files`, {
      method: 'POST',
      headers: { authorization: `Bearer ${MANAGEMENT_SECRET}` },
      body: form,
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: 'ok' });

    await waitFor(async () => (await modelIds()).includes(`up/${CODEX_MODEL}`), 10_000, 100);
    const answer = await openai().responses.create({ model: `up/${CODEX_MODEL}`, input: 'uploaded file' });
    expect(answer.output_text).toBe('echo: uploaded file');
    const served = codexServed().at(-1)!;
    expect((served.body as { model: string }).model).toBe(CODEX_MODEL);
    expect(codexTokens.spent.has('codex-refresh-uploaded')).toBe(true);
    expect([...issuedWith.values()]).toContain(bearer(served));
    expect((await authFiles()).find((f) => f.id === FILES.uploaded)).toMatchObject({
      provider: 'codex',
      prefix: 'up',
      status: 'active',
    });
  });

  it('a file imported by `npm run import-auth` serves requests without a restart', async () => {
    const content = {
      ...TOKEN_FILE_SAMPLES['claude-user@example.com.json'],
      email: 'imported@example.com',
      access_token: 'sk-ant-oat01-imported-live',
      refresh_token: 'sk-ant-ort01-imported',
      expired: new Date(Date.now() + 8 * 3_600_000).toISOString().replace(/\.\d+Z$/, 'Z'),
      prefix: 'cmd',
    };
    written[FILES.imported] = content;
    const [path] = writeTokenFiles(mkdtempSync(join(tmpdir(), 'cpa-token-files-cmd-')), { [FILES.imported]: content });
    const run = await runImportAuth({ DATABASE_URL: stack.databaseUrl, TRANSPORT_KEY_PREFIX: stack.keyPrefix }, path!);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(importAuthLines(run.stdout)).toEqual([`created    ${FILES.imported}`]);

    await waitFor(async () => (await modelIds()).includes(`cmd/${CLAUDE_MODEL}`), 10_000, 100);
    const message = await anthropic().messages.create({
      model: `cmd/${CLAUDE_MODEL}`,
      max_tokens: 32,
      messages: [{ role: 'user', content: 'imported file' }],
    });
    expect(message.content[0]).toMatchObject({ text: 'echo: imported file' });
    const served = claudeServed().at(-1)!;
    expect(bearer(served)).toBe('sk-ant-oat01-imported-live');
    expect((served.body as { model: string }).model).toBe(CLAUDE_MODEL);
  });
});

describe('GET /auth-files/download', () => {
  const keys = (value: unknown) => Object.keys(value as object).sort();

  it('gives back each file with the same fields and the current (rotated) tokens', async () => {
    const codex = await download(FILES.codex);
    expect(keys(codex)).toEqual(keys(written[FILES.codex]));
    expect(codexTokens.valid.has(String(codex.refresh_token))).toBe(true);
    expect(codex.access_token).toBe(issuedWith.get(String(codex.refresh_token)));
    expect(codex).toMatchObject({
      type: 'codex',
      email: 'codex-user@example.com',
      account_id: CODEX_ACCOUNT,
      id_token: written[FILES.codex].id_token,
    });
    expect(Date.parse(String(codex.expired))).toBeGreaterThan(Date.parse(PAST));

    const file = written[FILES.gemini] as { token: Record<string, unknown> };
    const cli = (await download(FILES.gemini)) as { token: Record<string, unknown>; project_id: string };
    expect(keys(cli)).toEqual(keys(file));
    expect(keys(cli.token)).toEqual(keys(file.token));
    expect(cli.project_id).toBe(PROJECTS.join(','));
    expect(google.refreshTokenState(String(cli.token.refresh_token))).toBe('live');
    expect(google.verify(String(cli.token.access_token))).not.toBe('unknown');

    const ag = await download(FILES.antigravity);
    expect(keys(ag)).toEqual(keys(written[FILES.antigravity]));
    expect(google.refreshTokenState(String(ag.refresh_token))).toBe('live');
    expect(google.verify(String(ag.access_token))).not.toBe('unknown');
    expect(ag.project_id).toBe(AG_PROJECT);

    const claude = await download(FILES.claude);
    expect(keys(claude)).toEqual(keys(written[FILES.claude]));
    expect(claudeTokens.valid.has(String(claude.refresh_token))).toBe(true);
    expect(claude.access_token).toMatch(/^sk-ant-oat01-rotated-\d+$/);

    const vx = await download(FILES.vertex);
    expect(vx).toEqual(written[FILES.vertex]);

    const uploaded = await download(FILES.uploaded);
    expect(keys(uploaded)).toEqual(keys(written[FILES.uploaded]));
    expect(uploaded.prefix).toBe('up');
  });
});

describe('a login whose refresh token is refused', () => {
  it('shows needs_login in /auth-files, is no longer picked, and its own model answers with a clear error', async () => {
    await waitFor(
      async () => (await authFiles()).find((f) => f.id === FILES.claudeRevoked)?.status === 'needs_login',
      40_000,
      250,
    );
    const revoked = (await authFiles()).find((f) => f.id === FILES.claudeRevoked)!;
    expect(revoked).toMatchObject({ status: 'needs_login', unavailable: true });
    expect(revoked.status_message).toContain('invalid_grant');
    const refreshAttempts = claudeTokenServer.requests.filter(
      (r) => r.fields.refresh_token === 'sk-ant-ort01-revoked',
    ).length;

    // Its model stays served by the other login of the same model.
    await waitFor(async () => !(await modelIds()).includes(`${REVOKED_PREFIX}/${CLAUDE_MODEL}`), 10_000, 100);
    const before = mock.requests.length;
    for (let i = 0; i < 4; i++) {
      const message = await anthropic().messages.create({
        model: CLAUDE_MODEL,
        max_tokens: 32,
        messages: [{ role: 'user', content: `after revocation ${i}` }],
      });
      expect(message.content[0]).toMatchObject({ text: `echo: after revocation ${i}` });
    }
    const served = mock.requests.slice(before);
    expect(served).toHaveLength(4);
    expect(served.every((r: RecordedRequest) => /^sk-ant-oat01-(rotated-\d+|imported-live)$/.test(bearer(r)))).toBe(
      true,
    );

    // The model only it served: a clear error, and its refused token is not presented again.
    const client = anthropic();
    const error = await client.messages
      .create({
        model: `${REVOKED_PREFIX}/${CLAUDE_MODEL}`,
        max_tokens: 32,
        messages: [{ role: 'user', content: 'nobody left' }],
      })
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(error).toBeInstanceOf(Error);
    expect((error as { status?: number }).status).toBeGreaterThanOrEqual(400);
    expect(String((error as Error).message)).toMatch(
      new RegExp(`${REVOKED_PREFIX}/${CLAUDE_MODEL}|no .*credential|unknown provider`, 'i'),
    );
    expect(mock.requests.slice(before)).toHaveLength(4);
    expect(claudeTokenServer.requests.filter((r) => r.fields.refresh_token === 'sk-ant-ort01-revoked')).toHaveLength(
      refreshAttempts,
    );
  });
});
