import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BROKEN_TOKEN_FILES, TOKEN_FILE_SAMPLES, writeTokenFiles } from '@cpa/testing';
import { UnitOfWork } from '@cpa/db';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '@cpa/db/testing';
import { importTokenFiles, resolveAuthDir } from './auth-dir';
import { AUTH_FILE_SOURCE, deleteAuthFiles, exportAuthFile } from './auth-file-store';

let db: TestDatabase;
const uow = () => new UnitOfWork(db.prisma, db.box);
let dir: string;

beforeAll(async () => {
  db = await createTestDatabase('cpa_auth_files_test');
  dir = mkdtempSync(join(tmpdir(), 'cpa-auth-dir-'));
  writeTokenFiles(dir, { ...TOKEN_FILE_SAMPLES, ...BROKEN_TOKEN_FILES });
  writeFileSync(join(dir, 'README.txt'), 'not a token file');
});
afterAll(() => db?.close());

const SAMPLE_NAMES = Object.keys(TOKEN_FILE_SAMPLES);
const GEMINI_TEAM = 'gemini-team@gmail.com-all.json';
const CLAUDE = 'claude-user@example.com.json';

const rows = () => db.prisma.credential.findMany({ orderBy: { id: 'asc' } });
const secretOf = async (id: string) =>
  JSON.parse(db.box.decrypt((await db.prisma.credential.findUniqueOrThrow({ where: { id } })).secretEnc)) as Record<
    string,
    unknown
  >;
const importDir = () => importTokenFiles(uow(), db.box, dir, AUTH_FILE_SOURCE);

describe('importing an auth directory', () => {
  it('creates the credentials of every valid file and reports every broken one, skipping non-json files', async () => {
    const results = await importDir();
    const byName = new Map(results.map((r) => [r.name, r]));
    expect(results).toHaveLength(SAMPLE_NAMES.length + Object.keys(BROKEN_TOKEN_FILES).length);
    for (const name of SAMPLE_NAMES) expect(byName.get(name)?.outcome).toBe('created');
    expect(byName.get('unknown-type.json')).toMatchObject({
      outcome: 'error',
      error: expect.stringContaining('unknown token-file type'),
    });
    expect(byName.get('not-json.json')).toMatchObject({ outcome: 'error', error: 'not valid JSON' });
    expect(byName.get(GEMINI_TEAM)?.credentialIds).toEqual([
      `${GEMINI_TEAM}::proj-alpha`,
      `${GEMINI_TEAM}::proj-beta`,
      `${GEMINI_TEAM}::proj-gamma`,
    ]);

    const stored = await rows();
    // One credential per file, three for the three-project gemini file.
    expect(stored).toHaveLength(SAMPLE_NAMES.length + 2);
    expect(new Set(stored.map((r) => r.source))).toEqual(new Set([AUTH_FILE_SOURCE]));
    expect(new Set(stored.map((r) => r.kind))).toEqual(new Set(['oauth']));
    expect(stored.find((r) => r.id === CLAUDE)).toMatchObject({
      provider: 'claude',
      account: 'user@example.com',
      expiresAt: new Date('2030-01-01T08:00:00Z'),
    });
    expect(stored.find((r) => r.id === 'claude-routed@example.com.json')).toMatchObject({
      disabled: true,
      prefix: 'blue',
      priority: 5,
      weight: 3,
    });
  });

  it('keeps tokens encrypted: no column holds them in clear', async () => {
    const { rows: raw } = await db.raw.query('SELECT * FROM credentials');
    const text = JSON.stringify(raw);
    for (const token of [
      'sk-ant-oat01-claude-access-token',
      'codex-refresh-token',
      'ya29.team-access-token',
      'BEGIN PRIVATE KEY',
    ])
      expect(text).not.toContain(token);
    expect((await secretOf(CLAUDE)).accessToken).toBe('sk-ant-oat01-claude-access-token');
  });

  it('is idempotent: a second import writes nothing', async () => {
    const before = await rows();
    const results = await importDir();
    for (const name of SAMPLE_NAMES) expect(results.find((r) => r.name === name)?.outcome).toBe('unchanged');
    expect(await rows()).toEqual(before);
  });

  it('never overwrites tokens refreshed since the import while the file is unchanged', async () => {
    const row = await db.prisma.credential.findUniqueOrThrow({ where: { id: CLAUDE } });
    const refreshed = {
      ...(await secretOf(CLAUDE)),
      accessToken: 'refreshed-access',
      refreshToken: 'rotated-refresh',
      expiresAt: '2030-01-02T08:00:00.000Z',
    };
    await db.prisma.credential.update({
      where: { id: CLAUDE },
      data: {
        secretEnc: db.box.encrypt(JSON.stringify(refreshed)),
        expiresAt: new Date('2030-01-02T08:00:00Z'),
        version: row.version + 1,
      },
    });

    expect((await importDir()).find((r) => r.name === CLAUDE)?.outcome).toBe('unchanged');
    expect(await secretOf(CLAUDE)).toMatchObject({ accessToken: 'refreshed-access', refreshToken: 'rotated-refresh' });
    // The download carries the current tokens.
    expect((await exportAuthFile(uow().repos, db.box, CLAUDE))?.file).toMatchObject({
      access_token: 'refreshed-access',
      refresh_token: 'rotated-refresh',
      expired: '2030-01-02T08:00:00Z',
    });
  });

  it('updates a changed file, keeps an operator disable, and clears a failed-refresh status', async () => {
    await db.prisma.credential.update({
      where: { id: CLAUDE },
      data: { disabled: true, status: 'error', statusMessage: 'refresh refused', lastError: 'invalid_grant' },
    });
    const before = await db.prisma.credential.findUniqueOrThrow({ where: { id: CLAUDE } });
    writeTokenFiles(dir, {
      [CLAUDE]: {
        ...TOKEN_FILE_SAMPLES[CLAUDE],
        access_token: 'relogin-access',
        refresh_token: 'relogin-refresh',
        note: 'new note',
      },
    });

    expect((await importDir()).find((r) => r.name === CLAUDE)?.outcome).toBe('updated');
    const after = await db.prisma.credential.findUniqueOrThrow({ where: { id: CLAUDE } });
    expect(after).toMatchObject({
      disabled: true,
      status: 'active',
      statusMessage: '',
      lastError: '',
      version: before.version + 1,
    });
    expect(after.attributes).toMatchObject({ note: 'new note' });
    expect(await secretOf(CLAUDE)).toMatchObject({ accessToken: 'relogin-access', refreshToken: 'relogin-refresh' });
  });

  it('follows a disabled flag the file itself changes', async () => {
    writeTokenFiles(dir, {
      [CLAUDE]: { ...TOKEN_FILE_SAMPLES[CLAUDE], disabled: false, note: 'enabled again in the file' },
    });
    await importDir();
    // The file said false before too: the operator's disable stays.
    expect((await db.prisma.credential.findUniqueOrThrow({ where: { id: CLAUDE } })).disabled).toBe(true);
    writeTokenFiles(dir, {
      'claude-routed@example.com.json': { ...TOKEN_FILE_SAMPLES['claude-routed@example.com.json'], disabled: false },
    });
    await importDir();
    expect(
      (await db.prisma.credential.findUniqueOrThrow({ where: { id: 'claude-routed@example.com.json' } })).disabled,
    ).toBe(false);
  });

  it('removes the credential of a project dropped from a gemini file', async () => {
    writeTokenFiles(dir, {
      [GEMINI_TEAM]: { ...TOKEN_FILE_SAMPLES[GEMINI_TEAM], project_id: 'proj-alpha,proj-gamma' },
    });
    const result = (await importDir()).find((r) => r.name === GEMINI_TEAM);
    expect(result).toMatchObject({ outcome: 'updated', removedIds: [`${GEMINI_TEAM}::proj-beta`] });
    expect((await rows()).filter((r) => r.id.startsWith(GEMINI_TEAM)).map((r) => r.id)).toEqual([
      `${GEMINI_TEAM}::proj-alpha`,
      `${GEMINI_TEAM}::proj-gamma`,
    ]);
    expect((await exportAuthFile(uow().repos, db.box, `${GEMINI_TEAM}::proj-gamma`))?.file).toMatchObject({
      project_id: 'proj-alpha,proj-gamma',
    });
  });

  it('writes each file in one transaction: a failure leaves nothing of that file and the others are imported', async () => {
    await db.raw.query(`
      CREATE FUNCTION refuse_gamma() RETURNS trigger AS $$
      BEGIN IF NEW.id LIKE '%::doomed-gamma' THEN RAISE EXCEPTION 'refused by test trigger'; END IF; RETURN NEW; END $$ LANGUAGE plpgsql;
      CREATE TRIGGER refuse_gamma BEFORE INSERT ON credentials FOR EACH ROW EXECUTE FUNCTION refuse_gamma();`);
    try {
      const doomedDir = mkdtempSync(join(tmpdir(), 'cpa-auth-doomed-'));
      writeTokenFiles(doomedDir, {
        'doomed.json': { ...TOKEN_FILE_SAMPLES[GEMINI_TEAM], project_id: 'doomed-alpha,doomed-gamma' },
        'fine.json': TOKEN_FILE_SAMPLES['codex-codex-user@example.com-plus.json'],
      });
      const results = await importTokenFiles(uow(), db.box, doomedDir, AUTH_FILE_SOURCE);
      expect(results.map((r) => [r.name, r.outcome])).toEqual([
        ['doomed.json', 'error'],
        ['fine.json', 'created'],
      ]);
      expect(results[0].error).toMatch(/^could not store the file/);
      expect(results[0].error).not.toContain('ya29');
      expect(await db.prisma.credential.count({ where: { id: { startsWith: 'doomed.json' } } })).toBe(0);
    } finally {
      await db.raw.query('DROP TRIGGER refuse_gamma ON credentials; DROP FUNCTION refuse_gamma();');
    }
  });

  it('imports a single file path too', async () => {
    const single = join(mkdtempSync(join(tmpdir(), 'cpa-auth-one-')), 'one.json');
    writeFileSync(single, JSON.stringify(TOKEN_FILE_SAMPLES['antigravity-ag-user@gmail.com.json']));
    expect(await importTokenFiles(uow(), db.box, single, AUTH_FILE_SOURCE)).toMatchObject([
      { name: 'one.json', outcome: 'created', credentialIds: ['one.json'] },
    ]);
  });
});

describe('deleting files', () => {
  it('deletes every credential of a named file, reports unknown names, never touches API-key credentials', async () => {
    await db.prisma.credential.create({
      data: {
        id: 'claude:apikey',
        provider: 'claude',
        kind: 'api_key',
        secretEnc: db.box.encrypt('{"apiKey":"k"}'),
        source: 'config',
      },
    });
    const result = await deleteAuthFiles(uow(), [GEMINI_TEAM, 'nope.json', 'claude:apikey']);
    expect(result.deleted).toEqual([
      { name: GEMINI_TEAM, credentialIds: [`${GEMINI_TEAM}::proj-alpha`, `${GEMINI_TEAM}::proj-gamma`] },
    ]);
    expect(result.missing).toEqual(['nope.json', 'claude:apikey']);
    const all = await deleteAuthFiles(uow(), 'all');
    expect(all.deleted.length).toBeGreaterThan(3);
    expect((await rows()).map((r) => r.id)).toEqual(['claude:apikey']);
  });
});

describe('resolveAuthDir', () => {
  it('prefers AUTH_DIR, expands ~ and resolves relative paths', () => {
    expect(resolveAuthDir('/env/dir', '~/cfg', '/cwd', '/home/u')).toBe('/env/dir');
    expect(resolveAuthDir(undefined, '~/.cli-proxy-api', '/cwd', '/home/u')).toBe('/home/u/.cli-proxy-api');
    expect(resolveAuthDir('', 'auths', '/cwd', '/home/u')).toBe('/cwd/auths');
    expect(resolveAuthDir('~', undefined, '/cwd', '/home/u')).toBe('/home/u');
    expect(resolveAuthDir(undefined, undefined)).toBeUndefined();
  });
});
