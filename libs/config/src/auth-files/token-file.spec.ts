import {
  BROKEN_TOKEN_FILES,
  CODEX_ID_TOKEN,
  FAKE_PRIVATE_KEY,
  TOKEN_FILE_SAMPLES,
  type TokenFileSampleName,
} from '@cpa/testing';
import { describe, expect, it } from 'vitest';
import {
  authFileCredentialId,
  authFileNameProblem,
  formatFileTime,
  parseFileTime,
  parseTokenFile,
  renderTokenFile,
  TokenFileError,
  type CredentialDraft,
  type StoredAuthFileCredential,
} from './token-file';

const sample = (name: TokenFileSampleName) => JSON.stringify(TOKEN_FILE_SAMPLES[name], null, 2);
const parse = (name: TokenFileSampleName) => parseTokenFile(name, sample(name));
/** A draft as it reads back from Postgres. */
const stored = (d: CredentialDraft): StoredAuthFileCredential => ({ ...d, secret: structuredClone(d.secret) });
const errorOf = (fn: () => unknown): TokenFileError => {
  try {
    fn();
  } catch (err) {
    if (err instanceof TokenFileError) return err;
    throw err;
  }
  throw new Error('expected a TokenFileError');
};

describe('parseTokenFile', () => {
  it('maps a claude file to one oauth credential with its tokens in the secret', () => {
    const [draft, ...rest] = parse('claude-user@example.com.json');
    expect(rest).toHaveLength(0);
    expect(draft).toMatchObject({
      id: 'claude-user@example.com.json',
      provider: 'claude',
      kind: 'oauth',
      label: 'user@example.com',
      account: 'user@example.com',
      prefix: '',
      priority: 0,
      weight: 1,
      disabled: false,
      proxyUrl: '',
      expiresAt: new Date('2030-01-01T08:00:00Z'),
      lastRefreshAt: new Date('2030-01-01T00:00:00Z'),
    });
    expect(draft.secret).toEqual({
      accessToken: 'sk-ant-oat01-claude-access-token',
      refreshToken: 'sk-ant-ort01-claude-refresh-token',
      email: 'user@example.com',
      expiresAt: '2030-01-01T08:00:00Z',
      lastRefreshAt: '2030-01-01T00:00:00Z',
      accountUuid: '3f9b2c1e-0000-4000-8000-000000000001',
      organizationUuid: '3f9b2c1e-0000-4000-8000-000000000002',
      organizationName: 'Example Org',
    });
    expect(draft.attributes).toMatchObject({
      fileName: 'claude-user@example.com.json',
      fileType: 'claude',
      fileDisabled: false,
    });
    expect(draft.attributes.fileHash).toMatch(/^[0-9a-f]{64}$/);
  });

  it('maps a codex file with its account id and id_token', () => {
    const [draft] = parse('codex-codex-user@example.com-plus.json');
    expect(draft.provider).toBe('codex');
    expect(draft.secret).toMatchObject({
      accountId: 'acct-codex-1',
      idToken: CODEX_ID_TOKEN,
      accessToken: 'codex-access-token',
      refreshToken: 'codex-refresh-token',
    });
    expect(draft.expiresAt).toEqual(new Date('2030-01-10T00:00:00Z'));
  });

  it('maps a gemini file to provider gemini-cli with the project and the nested Google token', () => {
    const drafts = parse('gemini-user@gmail.com-my-project.json');
    expect(drafts).toHaveLength(1);
    expect(drafts[0]).toMatchObject({
      id: 'gemini-user@gmail.com-my-project.json',
      provider: 'gemini-cli',
      label: 'user@gmail.com',
    });
    expect(drafts[0].secret).toMatchObject({
      accessToken: 'ya29.gemini-access-token',
      refreshToken: '1//gemini-refresh-token',
      tokenType: 'Bearer',
      expiresAt: '2030-01-01T01:00:00Z',
      projectId: 'my-project',
      email: 'user@gmail.com',
      auto: false,
      checked: true,
      tokenExtra: {
        client_id: '681255809395-example.apps.googleusercontent.com',
        scopes: ['https://www.googleapis.com/auth/cloud-platform'],
        token_uri: 'https://oauth2.googleapis.com/token',
      },
    });
    expect(drafts[0].expiresAt).toEqual(new Date('2030-01-01T01:00:00Z'));
  });

  it('makes one gemini-cli credential per project of a comma-separated project_id', () => {
    const drafts = parse('gemini-team@gmail.com-all.json');
    expect(drafts.map((d) => [d.id, d.label, d.secret.projectId])).toEqual([
      ['gemini-team@gmail.com-all.json::proj-alpha', 'team@gmail.com [proj-alpha]', 'proj-alpha'],
      ['gemini-team@gmail.com-all.json::proj-beta', 'team@gmail.com [proj-beta]', 'proj-beta'],
      ['gemini-team@gmail.com-all.json::proj-gamma', 'team@gmail.com [proj-gamma]', 'proj-gamma'],
    ]);
    for (const d of drafts) {
      expect(d.attributes.fileProjects).toEqual(['proj-alpha', 'proj-beta', 'proj-gamma']);
      expect(d.attributes.fileName).toBe('gemini-team@gmail.com-all.json');
      expect(d.secret.accessToken).toBe('ya29.team-access-token');
    }
  });

  it('deduplicates and trims project ids', () => {
    const drafts = parseTokenFile('g.json', {
      type: 'gemini',
      token: { refresh_token: 'r' },
      project_id: ' a , b,a,, ',
    });
    expect(drafts.map((d) => d.secret.projectId)).toEqual(['a', 'b']);
  });

  it('reads the top-level token CLIProxyAPI writes when the nested one is missing', () => {
    const [draft] = parseTokenFile('g.json', {
      type: 'gemini',
      access_token: 'top',
      refresh_token: 'r',
      expiry: '2030-01-01T00:00:00Z',
      project_id: 'p',
    });
    expect(draft.secret).toMatchObject({ accessToken: 'top', refreshToken: 'r', expiresAt: '2030-01-01T00:00:00Z' });
    expect(draft.attributes.fileTopLevelToken).toBe(true);
  });

  it('maps a vertex file: the service account is the secret, location defaults to us-central1', () => {
    const [draft] = parse('vertex-my-gcp-project.json');
    expect(draft).toMatchObject({
      provider: 'vertex',
      kind: 'oauth',
      label: 'router@my-gcp-project.iam.gserviceaccount.com',
      expiresAt: null,
    });
    expect(draft.secret).toMatchObject({
      projectId: 'my-gcp-project',
      location: 'europe-west4',
      email: 'router@my-gcp-project.iam.gserviceaccount.com',
    });
    expect((draft.secret.serviceAccount as Record<string, unknown>).private_key).toBe(FAKE_PRIVATE_KEY);

    const [bare] = parseTokenFile('v.json', {
      type: 'vertex',
      service_account: { client_email: 'sa@p.iam.gserviceaccount.com', private_key: 'k', project_id: 'p' },
    });
    expect(bare.secret).toMatchObject({
      projectId: 'p',
      location: 'us-central1',
      email: 'sa@p.iam.gserviceaccount.com',
    });
    expect(bare.account).toBe('sa@p.iam.gserviceaccount.com');
  });

  it('maps an antigravity file; expiry comes from expired, else from timestamp + expires_in', () => {
    const [draft] = parse('antigravity-ag-user@gmail.com.json');
    expect(draft).toMatchObject({
      provider: 'antigravity',
      expiresAt: new Date('2030-01-01T01:00:00Z'),
      lastRefreshAt: new Date('2030-01-01T00:00:00Z'),
    });
    expect(draft.secret).toMatchObject({
      expiresIn: 3600,
      timestamp: 1893456000000,
      projectId: 'ag-project-123',
      email: 'ag-user@gmail.com',
    });

    const [derived] = parseTokenFile('a.json', {
      type: 'antigravity',
      refresh_token: 'r',
      timestamp: 1893456000000,
      expires_in: 60,
    });
    expect(derived.expiresAt).toEqual(new Date('2030-01-01T00:01:00Z'));
  });

  it('maps a kimi file with its device id; the login timestamp is kept verbatim', () => {
    const [draft] = parse('kimi-1893456000000.json');
    expect(draft).toMatchObject({
      id: 'kimi-1893456000000.json',
      provider: 'kimi',
      kind: 'oauth',
      label: 'kimi',
      account: '',
      expiresAt: new Date('2030-01-01T00:15:00Z'),
      lastRefreshAt: null,
    });
    expect(draft.secret).toEqual({
      accessToken: 'kimi-access-token',
      refreshToken: 'kimi-refresh-token',
      tokenType: 'Bearer',
      scope: 'kimi-code',
      deviceId: '6f1c2d3e-0000-4000-8000-000000000001',
      expiresAt: '2030-01-01T00:15:00Z',
      extraFields: { timestamp: 1893456000000 },
    });
  });

  it('maps an iflow OAuth file: the API key requests use and the tokens that renew it', () => {
    const [draft] = parse('iflow-iflow-user@example.com.json');
    expect(draft).toMatchObject({
      provider: 'iflow',
      kind: 'oauth',
      label: 'iflow-user@example.com',
      expiresAt: new Date('2030-01-03T00:00:00Z'),
      lastRefreshAt: new Date('2030-01-01T00:00:00Z'),
    });
    expect(draft.secret).toEqual({
      accessToken: 'iflow-access-token',
      refreshToken: 'iflow-refresh-token',
      apiKey: 'sk-iflow-api-key',
      email: 'iflow-user@example.com',
      tokenType: 'bearer',
      scope: 'read',
      expiresAt: '2030-01-03T00:00:00Z',
      lastRefreshAt: '2030-01-01T00:00:00Z',
    });
    expect(JSON.stringify(draft.attributes)).not.toContain('sk-iflow');
  });

  it("maps an iflow cookie file: the key's own expiry is kept as written, not as a token expiry", () => {
    const [draft] = parse('iflow-cookie-user.json');
    expect(draft.expiresAt).toBeNull();
    expect(draft.secret).toMatchObject({
      apiKey: 'sk-iflow-cookie-key',
      cookie: 'BXAuth=cookie-value;',
      apiKeyExpired: '2030-02-01 12:00',
    });
    expect(draft.secret.refreshToken).toBeUndefined();
  });

  it('reads every routing field into columns and attributes, and keeps unknown fields in the secret', () => {
    const [draft] = parse('claude-routed@example.com.json');
    expect(draft).toMatchObject({
      prefix: 'blue',
      priority: 5,
      weight: 3,
      disabled: true,
      proxyUrl: 'socks5://127.0.0.1:1080',
    });
    expect(draft.attributes).toMatchObject({
      excludedModels: ['claude-opus-*', 'claude-3-*'],
      headers: { 'X-Team': 'blue' },
      note: 'team blue account',
      requestRetry: 2,
      disableCooling: true,
      fileDisabled: true,
    });
    expect(draft.secret.extraFields).toEqual({ claude_device_ids: ['device-1'] });
    // Nothing secret in the attributes.
    expect(JSON.stringify(draft.attributes)).not.toContain('sk-ant');
  });

  it('accepts legacy kebab-case keys and numbers written as strings, as CLIProxyAPI does', () => {
    const [draft] = parseTokenFile('c.json', {
      type: 'claude',
      access_token: 'a',
      'excluded-models': ['x'],
      'proxy-url': 'http://p',
      'request-retry': '1',
      'disable-cooling': false,
      priority: '7',
      weight: '-2',
      prefix: '/team/',
    });
    expect(draft).toMatchObject({ priority: 7, weight: 0, proxyUrl: 'http://p', prefix: 'team' });
    expect(draft.attributes).toMatchObject({ excludedModels: ['x'], requestRetry: 1, disableCooling: false });
  });

  it('ignores a prefix with an inner slash and a negative request_retry (CLIProxyAPI treats them as unset)', () => {
    const [draft] = parseTokenFile('c.json', { type: 'claude', access_token: 'a', prefix: 'a/b', request_retry: -1 });
    expect(draft.prefix).toBe('');
    expect(draft.attributes.requestRetry).toBeUndefined();
  });

  it('accepts a buffer and a byte-order mark', () => {
    const [draft] = parseTokenFile('c.json', Buffer.from(`\uFEFF${sample('claude-user@example.com.json')}`));
    expect(draft.provider).toBe('claude');
  });

  it('hashes the content, not its layout', () => {
    const a = parse('codex-codex-user@example.com-plus.json')[0].attributes.fileHash;
    const reordered = Object.fromEntries(
      Object.entries(TOKEN_FILE_SAMPLES['codex-codex-user@example.com-plus.json']).reverse(),
    );
    expect(
      parseTokenFile('codex-codex-user@example.com-plus.json', JSON.stringify(reordered)).map(
        (d) => d.attributes.fileHash,
      ),
    ).toEqual([a]);
    const changed = { ...TOKEN_FILE_SAMPLES['codex-codex-user@example.com-plus.json'], access_token: 'other' };
    expect(parseTokenFile('codex-codex-user@example.com-plus.json', changed)[0].attributes.fileHash).not.toBe(a);
  });

  describe('refuses broken files with a clear message that never quotes a value', () => {
    const cases: [keyof typeof BROKEN_TOKEN_FILES, string][] = [
      ['not-json.json', 'not-json.json: not valid JSON'],
      [
        'unknown-type.json',
        'unknown-type.json: unknown token-file type "qwen-next" (supported: claude, codex, gemini, vertex, antigravity, kimi, iflow)',
      ],
      ['no-type.json', 'no-type.json: type is required'],
      ['claude-without-tokens.json', 'claude-without-tokens.json: access_token or refresh_token is required'],
      ['vertex-without-key.json', 'vertex-without-key.json: service_account.private_key is required'],
      ['iflow-without-key.json', 'iflow-without-key.json: api_key, access_token or refresh_token is required'],
      ['array.json', 'array.json: a token file must be a JSON object'],
    ];
    it.each(cases)('%s', (name, message) => {
      const error = errorOf(() => parseTokenFile(name, BROKEN_TOKEN_FILES[name]));
      expect(error.message).toBe(message);
      expect(error.fileName).toBe(name);
    });

    it('a field of the wrong type', () => {
      const error = errorOf(() =>
        parseTokenFile('c.json', { type: 'claude', access_token: 'sk-ant-secret', priority: 'high' }),
      );
      expect(error.message).toBe('c.json: priority: must be an integer');
      expect(error.message).not.toContain('sk-ant-secret');
    });

    it('an empty file, and unsafe or non-json names', () => {
      expect(errorOf(() => parseTokenFile('e.json', '  ')).message).toBe('e.json: the file is empty');
      expect(errorOf(() => parseTokenFile('../x.json', '{}')).message).toBe('../x.json: invalid name');
      expect(errorOf(() => parseTokenFile('x.txt', '{}')).message).toBe('x.txt: name must end with .json');
    });
  });
});

describe('renderTokenFile', () => {
  it.each(Object.keys(TOKEN_FILE_SAMPLES) as TokenFileSampleName[])('gives %s back as it was imported', (name) => {
    const drafts = parse(name);
    expect(renderTokenFile(drafts.map(stored))).toEqual(TOKEN_FILE_SAMPLES[name]);
  });

  it('writes keys sorted, as CLIProxyAPI (Go map encoding) does', () => {
    const file = renderTokenFile(parse('claude-routed@example.com.json').map(stored));
    const keys = Object.keys(file);
    expect(keys).toEqual([...keys].sort());
  });

  it('writes the current tokens after a refresh', () => {
    const [draft] = parse('claude-user@example.com.json');
    const refreshed = stored(draft);
    Object.assign(refreshed.secret, {
      accessToken: 'new-access',
      refreshToken: 'new-refresh',
      expiresAt: '2030-01-02T08:00:00.000Z',
      lastRefreshAt: '2030-01-02T00:00:00.000Z',
    });
    expect(renderTokenFile([refreshed])).toMatchObject({
      access_token: 'new-access',
      refresh_token: 'new-refresh',
      expired: '2030-01-02T08:00:00Z',
      last_refresh: '2030-01-02T00:00:00Z',
    });
  });

  it('restates antigravity timestamp and expires_in from the refresh time when the expiry moved', () => {
    const [draft] = parse('antigravity-ag-user@gmail.com.json');
    const refreshed = stored(draft);
    Object.assign(refreshed.secret, { expiresAt: '2030-01-02T01:00:00Z', lastRefreshAt: '2030-01-02T00:30:00Z' });
    expect(renderTokenFile([refreshed])).toMatchObject({
      expired: '2030-01-02T01:00:00Z',
      timestamp: Date.parse('2030-01-02T00:30:00Z'),
      expires_in: 1800,
    });
  });

  it('writes kimi and iflow files with the refreshed tokens, the new iflow API key and the refresh time', () => {
    const kimi = stored(parse('kimi-1893456000000.json')[0]);
    Object.assign(kimi.secret, {
      accessToken: 'kimi-new',
      refreshToken: 'kimi-rotated',
      expiresAt: '2030-01-01T01:00:00.000Z',
      lastRefreshAt: '2030-01-01T00:45:00.000Z',
    });
    expect(renderTokenFile([kimi])).toEqual({
      ...TOKEN_FILE_SAMPLES['kimi-1893456000000.json'],
      access_token: 'kimi-new',
      refresh_token: 'kimi-rotated',
      expired: '2030-01-01T01:00:00Z',
      last_refresh: '2030-01-01T00:45:00Z',
    });
    const iflow = stored(parse('iflow-iflow-user@example.com.json')[0]);
    Object.assign(iflow.secret, {
      accessToken: 'iflow-new',
      apiKey: 'sk-iflow-new',
      expiresAt: '2030-01-05T00:00:00Z',
      lastRefreshAt: '2030-01-03T00:00:00Z',
    });
    expect(renderTokenFile([iflow])).toMatchObject({
      access_token: 'iflow-new',
      api_key: 'sk-iflow-new',
      expired: '2030-01-05T00:00:00Z',
      last_refresh: '2030-01-03T00:00:00Z',
      refresh_token: 'iflow-refresh-token',
    });
  });

  it('joins the projects of a gemini file and writes the freshest tokens among them', () => {
    const rows = parse('gemini-team@gmail.com-all.json').map(stored);
    Object.assign(rows[1].secret, {
      accessToken: 'fresher',
      lastRefreshAt: '2030-01-01T00:50:00Z',
      expiresAt: '2030-01-01T01:50:00Z',
    });
    const file = renderTokenFile([rows[2], rows[1], rows[0]]);
    expect(file.project_id).toBe('proj-alpha,proj-beta,proj-gamma');
    expect(file.access_token).toBe('fresher');
    expect(file.token).toMatchObject({ access_token: 'fresher', expiry: '2030-01-01T01:50:00Z' });
    // A deleted project disappears from the list.
    expect(renderTokenFile([rows[0], rows[2]]).project_id).toBe('proj-alpha,proj-gamma');
  });

  it('writes routing fields changed after the import (PATCH /auth-files/fields)', () => {
    const [draft] = parse('codex-codex-user@example.com-plus.json');
    const row = {
      ...stored(draft),
      prefix: 'team',
      priority: 2,
      weight: 0,
      attributes: { ...draft.attributes, note: 'n', excludedModels: ['gpt-5'] },
    };
    expect(renderTokenFile([row])).toMatchObject({
      prefix: 'team',
      priority: 2,
      weight: 0,
      note: 'n',
      excluded_models: ['gpt-5'],
    });
  });

  it('refuses a credential that is not file-backed', () => {
    const [draft] = parse('codex-codex-user@example.com-plus.json');
    expect(() => renderTokenFile([{ ...stored(draft), attributes: {} }])).toThrow(/not file-backed/);
  });
});

describe('names, ids and times', () => {
  it('checks names as CLIProxyAPI does', () => {
    expect(authFileNameProblem('a.json')).toBeUndefined();
    expect(authFileNameProblem('A.JSON')).toBeUndefined();
    expect(authFileNameProblem('a/b.json')).toBe('invalid name');
    expect(authFileNameProblem('a\\b.json')).toBe('invalid name');
    expect(authFileNameProblem('C:x.json')).toBe('invalid name');
    expect(authFileNameProblem('')).toBe('invalid name');
    expect(authFileNameProblem('a.yaml')).toBe('name must end with .json');
  });

  it('derives ids from the file name (and project)', () => {
    expect(authFileCredentialId('x.json')).toBe('x.json');
    expect(authFileCredentialId('x.json', 'my project/1')).toBe('x.json::my_project_1');
  });

  it('reads RFC 3339 with offsets and nanoseconds, Go date-times and epochs', () => {
    expect(parseFileTime('2030-01-01T08:00:00+08:00')).toEqual(new Date('2030-01-01T00:00:00Z'));
    expect(parseFileTime('2030-01-01T00:00:00.123456789Z')).toEqual(new Date('2030-01-01T00:00:00.123Z'));
    expect(parseFileTime('2030-01-01 00:00:00')).toEqual(new Date('2030-01-01T00:00:00Z'));
    expect(parseFileTime(1893456000)).toEqual(new Date('2030-01-01T00:00:00Z'));
    expect(parseFileTime('1893456000000')).toEqual(new Date('2030-01-01T00:00:00Z'));
    expect(parseFileTime('soon')).toBeUndefined();
    expect(parseFileTime('')).toBeUndefined();
    expect(formatFileTime(new Date('2030-01-01T00:00:00Z'))).toBe('2030-01-01T00:00:00Z');
  });

  it('normalizes an offset expiry to UTC in the secret and the column', () => {
    const [draft] = parseTokenFile('c.json', {
      type: 'claude',
      access_token: 'a',
      expired: '2030-01-01T08:00:00+08:00',
    });
    expect(draft.secret.expiresAt).toBe('2030-01-01T00:00:00Z');
    expect(draft.expiresAt).toEqual(new Date('2030-01-01T00:00:00Z'));
  });
});

describe('proxy_url', () => {
  it('is checked like config.yaml proxy-url, without quoting it', () => {
    expect(
      errorOf(() => parseTokenFile('c.json', { type: 'claude', access_token: 'a', proxy_url: 'ftp://user:pw@host' }))
        .message,
    ).toMatch(/^c\.json: proxy_url: invalid proxy URL: unsupported scheme ftp:/);
    expect(parseTokenFile('c.json', { type: 'claude', access_token: 'a', proxy_url: 'direct' })[0].proxyUrl).toBe(
      'direct',
    );
  });
});
