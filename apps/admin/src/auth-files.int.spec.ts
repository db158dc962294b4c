import { join } from 'node:path';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { FAMILY_DEFAULT_MODELS } from '@cpa/catalog';
import { credentialId } from '@cpa/config';
import { Events } from '@cpa/contracts';
import { BROKEN_TOKEN_FILES, TOKEN_FILE_SAMPLES, writeTokenFiles, type TokenFileSampleName } from '@cpa/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestDatabase } from '@cpa/db/testing';
import { startAdminUnderTest, type AdminUnderTest } from './__fixtures__/admin-under-test';

const SECRET = 'management-secret-for-auth-files';
const CLAUDE_KEY = 'sk-ant-api03-config-claude-key-aaaaaaa';

let admin: AdminUnderTest;
let db: TestDatabase;
let app: NestFastifyApplication;
let events: AdminUnderTest['events'];

const CLAUDE = 'claude-user@example.com.json';
const ROUTED = 'claude-routed@example.com.json';
const CODEX = 'codex-codex-user@example.com-plus.json';
const GEMINI_TEAM = 'gemini-team@gmail.com-all.json';
const VERTEX = 'vertex-my-gcp-project.json';
const STARTUP_FILES: TokenFileSampleName[] = [CLAUDE, ROUTED, GEMINI_TEAM, VERTEX];

beforeAll(async () => {
  admin = await startAdminUnderTest({
    name: 'admin-auth-files',
    // The config names another directory: AUTH_DIR wins.
    configYaml: (dir) =>
      `auth-dir: ${join(dir, 'from-config')}\nclaude-api-key:\n  - api-key: ${CLAUDE_KEY}\nremote-management:\n  secret-key: ${SECRET}\n`,
    prepare: (dir) => {
      const authDir = join(dir, 'auths');
      writeTokenFiles(authDir, Object.fromEntries(STARTUP_FILES.map((name) => [name, TOKEN_FILE_SAMPLES[name]])));
      writeTokenFiles(authDir, { 'unknown-type.json': BROKEN_TOKEN_FILES['unknown-type.json'] });
      writeTokenFiles(join(dir, 'from-config'), { [CODEX]: TOKEN_FILE_SAMPLES[CODEX] });
    },
    env: (dir) => ({ AUTH_DIR: join(dir, 'auths') }),
  });
  ({ db, app, events } = admin);
});

afterAll(() => admin?.close());

interface Call {
  status: number;
  body: unknown;
  headers: Record<string, unknown>;
  text: string;
}

async function call(
  method: 'GET' | 'PUT' | 'PATCH' | 'DELETE' | 'POST',
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<Call> {
  const raw = typeof body === 'string' || Buffer.isBuffer(body);
  const response = await app.inject({
    method,
    url: `/v0/management${path}`,
    headers: {
      authorization: `Bearer ${SECRET}`,
      ...(body !== undefined && !raw ? { 'content-type': 'application/json' } : {}),
      ...headers,
    },
    payload: body === undefined ? undefined : raw ? (body as string | Buffer) : JSON.stringify(body),
    remoteAddress: '127.0.0.1',
  });
  let parsed: unknown;
  try {
    parsed = response.body ? response.json() : undefined;
  } catch {
    parsed = undefined;
  }
  return { status: response.statusCode, body: parsed, headers: response.headers, text: response.body };
}

/** A multipart/form-data body built by the runtime's FormData, as a browser or curl -F sends it. */
async function multipart(
  files: Record<string, string>,
  extraFields: Record<string, string> = {},
): Promise<{ payload: Buffer; contentType: string }> {
  const form = new FormData();
  for (const [name, content] of Object.entries(files))
    form.append('file', new Blob([content], { type: 'application/json' }), name);
  for (const [key, value] of Object.entries(extraFields)) form.append(key, value);
  const request = new Request('http://127.0.0.1/', { method: 'POST', body: form });
  return { payload: Buffer.from(await request.arrayBuffer()), contentType: request.headers.get('content-type')! };
}

async function upload(files: Record<string, string>): Promise<Call> {
  const { payload, contentType } = await multipart(files);
  return call('POST', '/auth-files', payload, { 'content-type': contentType });
}

const listFiles = async () => ((await call('GET', '/auth-files')).body as { files: Record<string, unknown>[] }).files;
const sampleText = (name: TokenFileSampleName) => JSON.stringify(TOKEN_FILE_SAMPLES[name]);

async function eventAfter(
  since: number,
  pattern: string,
  section?: string,
): Promise<{ pattern: string; data: unknown }> {
  for (let i = 0; i < 100; i++) {
    const found = events
      .slice(since)
      .find(
        (e) => e.pattern === pattern && (!section || (e.data as { sections?: string[] }).sections?.includes(section)),
      );
    if (found) return found;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`no ${pattern} broadcast arrived`);
}

describe('start-up import of the auth directory', () => {
  it('imports AUTH_DIR (which wins over the config auth-dir), refusing broken files, and broadcasts', async () => {
    const fileRows = await db.prisma.credential.findMany({ where: { source: 'auth-file' }, orderBy: { id: 'asc' } });
    expect(fileRows.map((r) => r.id).sort()).toEqual([
      ROUTED,
      CLAUDE,
      `${GEMINI_TEAM}::proj-alpha`,
      `${GEMINI_TEAM}::proj-beta`,
      `${GEMINI_TEAM}::proj-gamma`,
      VERTEX,
    ]);
    expect(await db.prisma.credential.count({ where: { id: CODEX } })).toBe(0);
    const event = await eventAfter(0, Events.configChanged, 'auth-files');
    expect((event.data as { credentialIds: string[] }).credentialIds).toContain(CLAUDE);
    const audit = await db.prisma.auditLog.findFirstOrThrow({ where: { action: 'auth-files.import' } });
    expect(audit).toMatchObject({ actor: 'auth-dir-import', details: { failed: ['unknown-type.json'] } });
  });
});

describe('GET /auth-files', () => {
  it('lists token-file credentials by file name next to the config API keys, without secrets', async () => {
    const files = await listFiles();
    expect(files.find((f) => f.id === ROUTED)).toMatchObject({
      auth_index: ROUTED,
      name: ROUTED,
      type: 'claude',
      provider: 'claude',
      email: 'routed@example.com',
      account: 'routed@example.com',
      label: 'routed@example.com',
      disabled: true,
      status: 'disabled',
      prefix: 'blue',
      priority: 5,
      weight: 3,
      proxy_url: 'socks5://127.0.0.1:1080',
      note: 'team blue account',
      source: 'auth-file',
      success: 0,
      failed: 0,
      last_refresh: '2030-01-31T20:00:00.000Z',
      expires_at: '2030-02-01T00:00:00.000Z',
    });
    expect(files.filter((f) => f.name === GEMINI_TEAM)).toHaveLength(3);
    expect(files.find((f) => f.id === credentialId('claude', '', CLAUDE_KEY))).toMatchObject({
      provider: 'claude',
      source: 'config',
    });
    const text = JSON.stringify(files);
    for (const secret of ['sk-ant-oat01', 'ya29.', 'BEGIN PRIVATE KEY', CLAUDE_KEY]) expect(text).not.toContain(secret);
  });

  it('counts successes and failures from the recorded usage', async () => {
    await db.prisma.usageDaily.create({
      data: { day: new Date('2030-01-01'), credentialId: CLAUDE, model: 'm', requests: 7, failures: 2 },
    });
    expect((await listFiles()).find((f) => f.id === CLAUDE)).toMatchObject({ success: 5, failed: 2 });
  });
});

describe('POST /auth-files', () => {
  it('takes one raw JSON file with ?name=', async () => {
    const since = events.length;
    expect(
      await call('POST', `/auth-files?name=${encodeURIComponent(CODEX)}`, TOKEN_FILE_SAMPLES[CODEX]),
    ).toMatchObject({ status: 200, body: { status: 'ok' } });
    expect(await db.prisma.credential.findUniqueOrThrow({ where: { id: CODEX } })).toMatchObject({
      provider: 'codex',
      kind: 'oauth',
      source: 'management',
    });
    expect((await eventAfter(since, Events.configChanged, 'auth-files')).data).toMatchObject({
      credentialIds: [CODEX],
    });
  });

  it('refuses a bad raw file with its reason and stores nothing', async () => {
    expect(
      await call('POST', '/auth-files?name=bad.json', BROKEN_TOKEN_FILES['unknown-type.json'], {
        'content-type': 'application/octet-stream',
      }),
    ).toMatchObject({
      status: 400,
      body: { error: expect.stringMatching(/^invalid auth file: unknown token-file type "qwen-next"/) },
    });
    expect(await call('POST', '/auth-files?name=bad.txt', TOKEN_FILE_SAMPLES[CODEX])).toMatchObject({
      status: 400,
      body: { error: 'invalid auth file: file must be .json' },
    });
    expect(await call('POST', '/auth-files?name=../x.json', TOKEN_FILE_SAMPLES[CODEX])).toMatchObject({
      status: 400,
      body: { error: 'invalid auth file: invalid name' },
    });
    expect(await db.prisma.credential.count({ where: { id: { in: ['bad.json', '../x.json', 'bad.txt'] } } })).toBe(0);
  });

  it('takes multipart file parts: 200 when all import, 207 with per-file results when some fail, 400 when all fail', async () => {
    expect(
      await upload({
        'a1.json': sampleText('antigravity-ag-user@gmail.com.json'),
        'g1.json': sampleText('gemini-user@gmail.com-my-project.json'),
      }),
    ).toMatchObject({
      status: 200,
      body: { status: 'ok', uploaded: 2, files: ['a1.json', 'g1.json'] },
    });
    expect(await db.prisma.credential.findUniqueOrThrow({ where: { id: 'g1.json' } })).toMatchObject({
      provider: 'gemini-cli',
    });

    expect(
      await upload({
        'a2.json': sampleText('antigravity-ag-user@gmail.com.json'),
        'broken.json': BROKEN_TOKEN_FILES['not-json.json'],
        'notes.txt': 'x',
      }),
    ).toEqual(
      expect.objectContaining({
        status: 207,
        body: {
          status: 'partial',
          uploaded: 1,
          files: ['a2.json'],
          failed: [
            { name: 'broken.json', error: 'not valid JSON' },
            { name: 'notes.txt', error: 'file must be .json' },
          ],
        },
      }),
    );
    expect(await db.prisma.credential.count({ where: { id: 'a2.json' } })).toBe(1);

    expect(
      await upload({
        'b1.json': BROKEN_TOKEN_FILES['claude-without-tokens.json'],
        'b2.json': BROKEN_TOKEN_FILES['array.json'],
      }),
    ).toMatchObject({
      status: 400,
      body: { error: 'no file was imported', failed: [{ name: 'b1.json' }, { name: 'b2.json' }] },
    });
  });

  it('answers one multipart file like CLIProxyAPI, and refuses a form without files', async () => {
    expect(await upload({ 'single.json': sampleText(CLAUDE) })).toMatchObject({ status: 200, body: { status: 'ok' } });
    expect(await upload({ 'single-bad.json': '{' })).toMatchObject({
      status: 400,
      body: { error: 'invalid auth file: not valid JSON' },
    });
    const { payload, contentType } = await multipart({}, { note: 'no file here' });
    expect(await call('POST', '/auth-files', payload, { 'content-type': contentType })).toMatchObject({
      status: 400,
      body: { error: 'no files uploaded' },
    });
    expect(
      await call('POST', '/auth-files', 'garbage', { 'content-type': 'multipart/form-data; boundary=x' }),
    ).toMatchObject({ status: 400 });
  });

  it('re-uploading the same file changes nothing; a changed one updates and keeps the operator disable', async () => {
    const before = await db.prisma.credential.findUniqueOrThrow({ where: { id: 'single.json' } });
    expect((await upload({ 'single.json': sampleText(CLAUDE) })).status).toBe(200);
    expect((await db.prisma.credential.findUniqueOrThrow({ where: { id: 'single.json' } })).version).toBe(
      before.version,
    );
    expect((await call('PATCH', '/auth-files/status', { name: 'single.json', disabled: true })).status).toBe(200);
    expect(
      (await upload({ 'single.json': JSON.stringify({ ...TOKEN_FILE_SAMPLES[CLAUDE], access_token: 'relogin' }) }))
        .status,
    ).toBe(200);
    expect(await db.prisma.credential.findUniqueOrThrow({ where: { id: 'single.json' } })).toMatchObject({
      disabled: true,
      version: before.version + 1,
    });
  });
});

describe('GET /auth-files/download', () => {
  it('gives the file back as an attachment, with the current tokens, and round-trips through delete and upload', async () => {
    const first = await call('GET', `/auth-files/download?name=${encodeURIComponent(ROUTED)}`);
    expect(first.status).toBe(200);
    expect(first.headers['content-type']).toMatch(/^application\/json/);
    expect(first.headers['content-disposition']).toBe(`attachment; filename="${ROUTED}"`);
    expect(JSON.parse(first.text)).toEqual(TOKEN_FILE_SAMPLES[ROUTED]);

    expect(await call('DELETE', `/auth-files?name=${encodeURIComponent(ROUTED)}`)).toMatchObject({
      status: 200,
      body: { status: 'ok' },
    });
    expect((await call('GET', `/auth-files/download?name=${encodeURIComponent(ROUTED)}`)).status).toBe(404);
    expect((await upload({ [ROUTED]: first.text })).status).toBe(200);
    const again = await call('GET', `/auth-files/download?name=${encodeURIComponent(ROUTED)}`);
    expect(JSON.parse(again.text)).toEqual(TOKEN_FILE_SAMPLES[ROUTED]);
    expect(await db.prisma.credential.findUniqueOrThrow({ where: { id: ROUTED } })).toMatchObject({
      disabled: true,
      prefix: 'blue',
      priority: 5,
      source: 'management',
    });
  });

  it('writes the refreshed tokens and joins the projects of a gemini file', async () => {
    const id = `${GEMINI_TEAM}::proj-beta`;
    const row = await db.prisma.credential.findUniqueOrThrow({ where: { id } });
    const secret = {
      ...JSON.parse(db.box.decrypt(row.secretEnc)),
      accessToken: 'ya29.refreshed',
      lastRefreshAt: '2030-01-01T00:59:00Z',
      expiresAt: '2030-01-01T01:59:00Z',
    };
    await db.prisma.credential.update({ where: { id }, data: { secretEnc: db.box.encrypt(JSON.stringify(secret)) } });
    const file = JSON.parse((await call('GET', `/auth-files/download?name=${encodeURIComponent(GEMINI_TEAM)}`)).text);
    expect(file).toMatchObject({
      type: 'gemini',
      project_id: 'proj-alpha,proj-beta,proj-gamma',
      token: { access_token: 'ya29.refreshed', expiry: '2030-01-01T01:59:00Z' },
    });
  });

  it('answers 404 for an unknown file, 400 for a bad name, and audits each download', async () => {
    expect(await call('GET', '/auth-files/download?name=nope.json')).toMatchObject({
      status: 404,
      body: { error: 'file not found' },
    });
    expect(await call('GET', '/auth-files/download?name=a/b.json')).toMatchObject({
      status: 400,
      body: { error: 'invalid name' },
    });
    expect(await call('GET', '/auth-files/download?name=x.txt')).toMatchObject({
      status: 400,
      body: { error: 'name must end with .json' },
    });
    expect(await db.prisma.auditLog.count({ where: { action: 'auth-file.download', target: ROUTED } })).toBe(2);
  });
});

describe('PATCH /auth-files/fields', () => {
  it('edits routing fields of every credential of a file by name, and the download shows them', async () => {
    const since = events.length;
    expect(
      await call('PATCH', '/auth-files/fields', {
        name: GEMINI_TEAM,
        prefix: 'team',
        priority: 3,
        weight: 2,
        note: ' shared ',
        proxy_url: 'http://127.0.0.1:3128',
        headers: { 'X-A': '1' },
        excluded_models: ['gemini-2.5-flash-lite'],
        request_retry: 1,
        disable_cooling: true,
        websockets: true,
      }),
    ).toMatchObject({ status: 200, body: { status: 'ok' } });
    const rows = await db.prisma.credential.findMany({ where: { id: { startsWith: GEMINI_TEAM } } });
    expect(rows).toHaveLength(3);
    for (const row of rows) {
      expect(row).toMatchObject({ prefix: 'team', priority: 3, weight: 2, proxyUrl: 'http://127.0.0.1:3128' });
      expect(row.attributes).toMatchObject({
        note: 'shared',
        headers: { 'X-A': '1' },
        excludedModels: ['gemini-2.5-flash-lite'],
        requestRetry: 1,
        disableCooling: true,
      });
    }
    expect((await eventAfter(since, Events.credentialChanged)).data).toMatchObject({
      credentialIds: expect.arrayContaining(rows.map((r) => r.id)),
    });
    const file = JSON.parse((await call('GET', `/auth-files/download?name=${encodeURIComponent(GEMINI_TEAM)}`)).text);
    expect(file).toMatchObject({
      prefix: 'team',
      priority: 3,
      weight: 2,
      note: 'shared',
      headers: { 'X-A': '1' },
      excluded_models: ['gemini-2.5-flash-lite'],
      request_retry: 1,
      disable_cooling: true,
    });
    expect(file).not.toHaveProperty('websockets');
  });

  it('merges headers (an empty value removes one), clears with null, and targets one credential by auth_index', async () => {
    const id = `${GEMINI_TEAM}::proj-alpha`;
    expect(
      (
        await call('PATCH', '/auth-files/fields', {
          auth_index: id,
          headers: { 'X-B': '2', 'X-A': '' },
          note: null,
          prefix: null,
        })
      ).status,
    ).toBe(200);
    const alpha = await db.prisma.credential.findUniqueOrThrow({ where: { id } });
    expect(alpha.prefix).toBe('');
    expect(alpha.attributes).toMatchObject({ headers: { 'X-B': '2' } });
    expect(alpha.attributes).not.toHaveProperty('note');
    expect((await db.prisma.credential.findUniqueOrThrow({ where: { id: `${GEMINI_TEAM}::proj-beta` } })).prefix).toBe(
      'team',
    );
  });

  it('refuses bad input and credentials that are not token files', async () => {
    expect(await call('PATCH', '/auth-files/fields', { name: CLAUDE })).toMatchObject({
      status: 400,
      body: { error: 'no fields to update' },
    });
    expect(await call('PATCH', '/auth-files/fields', { priority: 1 })).toMatchObject({
      status: 400,
      body: { error: 'name is required' },
    });
    expect(await call('PATCH', '/auth-files/fields', { name: CLAUDE, weight: 'heavy' })).toMatchObject({
      status: 400,
      body: { error: 'weight: weight must be an integer' },
    });
    expect(await call('PATCH', '/auth-files/fields', { name: CLAUDE, prefix: 'a/b' })).toMatchObject({
      status: 400,
      body: { error: 'prefix must not contain /' },
    });
    expect(await call('PATCH', '/auth-files/fields', { name: CLAUDE, proxy_url: 'ftp://x' })).toMatchObject({
      status: 400,
    });
    expect(await call('PATCH', '/auth-files/fields', { name: 'nope.json', priority: 1 })).toMatchObject({
      status: 404,
      body: { error: 'auth file not found' },
    });
    expect(
      await call('PATCH', '/auth-files/fields', { auth_index: credentialId('claude', '', CLAUDE_KEY), priority: 1 }),
    ).toMatchObject({ status: 404 });
  });
});

describe('GET /auth-files/models and the OAuth model rules', () => {
  const modelIds = async (name: string) =>
    (
      (await call('GET', `/auth-files/models?name=${encodeURIComponent(name)}`)).body as { models: { id: string }[] }
    ).models.map((m) => m.id);
  const SONNET = 'claude-sonnet-4-5-20250929';

  it('lists the models a credential serves', async () => {
    const listed = (await call('GET', `/auth-files/models?name=${encodeURIComponent(CLAUDE)}`)).body as {
      models: Record<string, unknown>[];
    };
    expect(listed.models.map((m) => m.id)).toEqual([...FAMILY_DEFAULT_MODELS.claude]);
    expect(listed.models[0]).toMatchObject({ type: 'claude', owned_by: 'anthropic' });
    expect(await call('GET', '/auth-files/models?name=nope.json')).toMatchObject({ status: 200, body: { models: [] } });
    expect(await call('GET', '/auth-files/models')).toMatchObject({ status: 400, body: { error: 'name is required' } });
  });

  it('oauth-model-alias: PUT, GET, PATCH, DELETE in CLIProxyAPI shapes, applied to the channel', async () => {
    expect(await call('GET', '/oauth-model-alias')).toMatchObject({ status: 200, body: { 'oauth-model-alias': {} } });
    const since = events.length;
    expect(
      await call('PUT', '/oauth-model-alias', {
        Claude: [
          { name: SONNET, alias: 'sonnet' },
          { name: 'x', alias: 'X' },
        ],
      }),
    ).toMatchObject({ status: 200, body: { status: 'ok' } });
    await eventAfter(since, Events.configChanged, 'oauth-model-alias');
    expect((await call('GET', '/oauth-model-alias')).body).toEqual({
      'oauth-model-alias': { claude: [{ name: SONNET, alias: 'sonnet' }] },
    });
    expect(await modelIds(CLAUDE)).toContain('sonnet');
    expect(await modelIds(CLAUDE)).not.toContain(SONNET);

    expect(
      (
        await call('PATCH', '/oauth-model-alias', {
          channel: 'claude',
          aliases: [{ name: SONNET, alias: 'sonnet', fork: true }],
        })
      ).status,
    ).toBe(200);
    expect(await modelIds(CLAUDE)).toEqual(expect.arrayContaining(['sonnet', SONNET]));
    expect(
      (await call('PUT', '/oauth-model-alias', { items: { codex: [{ name: 'gpt-5', alias: 'five' }] } })).status,
    ).toBe(200);
    expect((await call('GET', '/oauth-model-alias')).body).toEqual({
      'oauth-model-alias': { codex: [{ name: 'gpt-5', alias: 'five' }] },
    });
    expect(await call('DELETE', '/oauth-model-alias?channel=claude')).toMatchObject({
      status: 404,
      body: { error: 'channel not found' },
    });
    expect(await call('DELETE', '/oauth-model-alias?provider=codex')).toMatchObject({ status: 200 });
    expect(await call('DELETE', '/oauth-model-alias')).toMatchObject({
      status: 400,
      body: { error: 'missing channel' },
    });
    expect(await call('PATCH', '/oauth-model-alias', { channel: 'vertex', aliases: [] })).toMatchObject({
      status: 404,
    });
    expect(await call('PUT', '/oauth-model-alias', [1, 2])).toMatchObject({
      status: 400,
      body: { error: 'invalid body' },
    });
    expect(await db.prisma.setting.count({ where: { key: 'oauth-model-alias' } })).toBe(0);
  });

  it('oauth-excluded-models: PUT, GET, PATCH, DELETE, applied to the channel', async () => {
    expect((await call('PUT', '/oauth-excluded-models', { CLAUDE: [' *Haiku* '] })).status).toBe(200);
    expect((await call('GET', '/oauth-excluded-models')).body).toEqual({
      'oauth-excluded-models': { claude: ['*haiku*'] },
    });
    expect((await modelIds(CLAUDE)).some((id) => id.includes('haiku'))).toBe(false);
    expect((await call('PATCH', '/oauth-excluded-models', { provider: 'codex', models: ['gpt-5'] })).status).toBe(200);
    expect((await call('PATCH', '/oauth-excluded-models', { provider: 'claude', models: [] })).status).toBe(200);
    expect((await call('GET', '/oauth-excluded-models')).body).toEqual({
      'oauth-excluded-models': { codex: ['gpt-5'] },
    });
    expect(await call('DELETE', '/oauth-excluded-models?provider=claude')).toMatchObject({
      status: 404,
      body: { error: 'provider not found' },
    });
    expect(await call('DELETE', '/oauth-excluded-models?provider=codex')).toMatchObject({ status: 200 });
    expect(await call('PATCH', '/oauth-excluded-models', { models: [] })).toMatchObject({
      status: 400,
      body: { error: 'invalid body' },
    });
    expect(await db.prisma.auditLog.count({ where: { action: { startsWith: 'oauth-excluded-models.' } } })).toBe(4);
  });

  it('come from config.yaml too and show in GET /config', async () => {
    const yaml = `remote-management:\n  secret-key: ${SECRET}\nclaude-api-key:\n  - api-key: ${CLAUDE_KEY}\noauth-model-alias:\n  claude:\n    - { name: ${SONNET}, alias: s45, fork: true }\noauth-excluded-models:\n  claude: ["*opus*"]\n`;
    expect((await call('PUT', '/config.yaml', yaml, { 'content-type': 'application/yaml' })).status).toBe(200);
    expect((await call('GET', '/config')).body).toMatchObject({
      'oauth-model-alias': { claude: [{ name: SONNET, alias: 's45', fork: true }] },
      'oauth-excluded-models': { claude: ['*opus*'] },
    });
    const ids = await modelIds(CLAUDE);
    expect(ids).toEqual(expect.arrayContaining(['s45', SONNET]));
    expect(ids.some((id) => id.includes('opus'))).toBe(false);
    // The config import leaves file-backed credentials alone.
    expect(await db.prisma.credential.count({ where: { id: CLAUDE } })).toBe(1);
  });
});

describe('PATCH /auth-files/status by file name', () => {
  it('switches every credential of the file', async () => {
    expect((await call('PATCH', '/auth-files/status', { name: GEMINI_TEAM, disabled: true })).status).toBe(200);
    expect(
      (await db.prisma.credential.findMany({ where: { id: { startsWith: GEMINI_TEAM } } })).map((r) => r.disabled),
    ).toEqual([true, true, true]);
  });
});

describe('DELETE /auth-files', () => {
  it('deletes by name (404 when unknown), several with 207 when some are missing, then all file-backed credentials', async () => {
    expect(await call('DELETE', '/auth-files?name=nope.json')).toMatchObject({
      status: 404,
      body: { error: 'auth file not found' },
    });
    expect(await call('DELETE', '/auth-files')).toMatchObject({ status: 400, body: { error: 'invalid name' } });
    expect(await call('DELETE', `/auth-files?name=${encodeURIComponent(GEMINI_TEAM)}&name=nope.json`)).toEqual(
      expect.objectContaining({
        status: 207,
        body: {
          status: 'partial',
          deleted: 1,
          files: [GEMINI_TEAM],
          failed: [{ name: 'nope.json', error: 'auth file not found' }],
        },
      }),
    );
    expect(await db.prisma.credential.count({ where: { id: { startsWith: GEMINI_TEAM } } })).toBe(0);
    expect(await call('DELETE', '/auth-files', { names: ['a1.json', 'a2.json'] })).toMatchObject({
      status: 200,
      body: { status: 'ok', deleted: 2, files: ['a1.json', 'a2.json'] },
    });

    const since = events.length;
    const all = await call('DELETE', '/auth-files?all=true');
    expect(all).toMatchObject({ status: 200, body: { status: 'ok', deleted: expect.any(Number) } });
    expect((all.body as { deleted: number }).deleted).toBeGreaterThan(3);
    await eventAfter(since, Events.configChanged, 'auth-files');
    expect((await db.prisma.credential.findMany()).map((r) => r.source)).toEqual(['config']);
  });

  it('left an audit trail without a single token', async () => {
    const entries = await db.prisma.auditLog.findMany();
    expect(entries.map((e) => e.action)).toEqual(
      expect.arrayContaining([
        'auth-files.import',
        'auth-files.upload',
        'auth-files.delete',
        'auth-file.fields',
        'auth-file.download',
      ]),
    );
    const text = JSON.stringify(entries, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
    for (const secret of ['sk-ant-oat01', 'sk-ant-ort01', 'ya29.', 'codex-refresh-token', 'PRIVATE KEY', 'relogin'])
      expect(text).not.toContain(secret);
  });
});
