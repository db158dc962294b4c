import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { KEPT_SECRET_WARNING, parseConfigUpload, renderConfigYaml } from './config-yaml';
import { ManagementError } from './management-error';

const SECRET_KEY = 'sk-ant-api03-very-secret-value-000000';

function rejection(body: unknown): ManagementError {
  try {
    parseConfigUpload(body);
  } catch (err) {
    return err as ManagementError;
  }
  throw new Error('expected a rejection');
}

describe('renderConfigYaml', () => {
  it('writes config.yaml without the management-only auth-index and parses back to the same config', () => {
    const exported = {
      port: 8317,
      'api-keys': ['client-1'],
      'claude-api-key': [{ 'api-key': SECRET_KEY, weight: 2, 'auth-index': 'claude:abc' }],
      'openai-compatibility': [{ name: 'or', 'base-url': 'http://up/v1', 'api-key-entries': [{ 'api-key': 'k1' }] }],
      routing: { strategy: 'fill-first', 'session-affinity-ttl': '30m' },
      'remote-management': { 'allow-remote': false },
    };
    const text = renderConfigYaml(exported);
    expect(text).not.toContain('auth-index');
    expect(parse(text)).toEqual({ ...exported, 'claude-api-key': [{ 'api-key': SECRET_KEY, weight: 2 }] });
    const upload = parseConfigUpload(text);
    expect(upload.parsed.config.routing).toEqual({ strategy: 'fill-first', 'session-affinity-ttl': 1800 });
    expect(upload.warnings).toEqual([KEPT_SECRET_WARNING]);
  });

  it('leaves the exported object untouched', () => {
    const exported = { 'claude-api-key': [{ 'api-key': 'k', 'auth-index': 'claude:1' }] };
    renderConfigYaml(exported);
    expect(exported['claude-api-key'][0]['auth-index']).toBe('claude:1');
  });
});

describe('parseConfigUpload', () => {
  it('reads YAML text, lists unknown keys as warnings and keeps a usable secret-key', () => {
    const upload = parseConfigUpload(
      `request-retry: 2\nsurprise: 1\nclaude-api-key:\n  - api-key: ${SECRET_KEY}\n    cloak: true\nremote-management:\n  secret-key: new-secret\n`,
    );
    expect(upload.keepsSecret).toBe(false);
    expect(upload.parsed.config['request-retry']).toBe(2);
    expect(upload.warnings).toEqual([
      'surprise: unknown or unsupported key (ignored)',
      'claude-api-key[0].cloak: unknown or unsupported key (ignored)',
    ]);
  });

  it('accepts a Buffer and an already parsed object', () => {
    expect(parseConfigUpload(Buffer.from('request-retry: 4\n')).parsed.config['request-retry']).toBe(4);
    expect(parseConfigUpload({ 'request-retry': 5 }).parsed.config['request-retry']).toBe(5);
  });

  it.each([
    ['no remote-management section', 'debug: false\n'],
    ['an empty secret-key', 'remote-management:\n  secret-key: ""\n'],
    ['a null secret-key', 'remote-management:\n  secret-key:\n'],
    ['a bcrypt hash', `remote-management:\n  secret-key: "$2a$10$${'a'.repeat(53)}"\n`],
  ])('keeps the current secret (and says so) for %s', (_, text) => {
    const upload = parseConfigUpload(text);
    expect(upload.keepsSecret).toBe(true);
    expect(upload.warnings).toContain(KEPT_SECRET_WARNING);
  });

  it('rejects broken YAML with a 400 that does not quote the text', () => {
    const err = rejection(`claude-api-key:\n  - api-key: ${SECRET_KEY}\n   bad: [unclosed\n`);
    expect(err).toBeInstanceOf(ManagementError);
    expect(err.status).toBe(400);
    expect(err.message).toMatch(/not valid YAML/);
    expect(err.message).not.toContain(SECRET_KEY);
  });

  it('rejects invalid values with a 400 naming the path, never the value', () => {
    const err = rejection(
      `claude-api-key:\n  - api-key: ${SECRET_KEY}\n    weight: heavy\nrouting:\n  strategy: ${SECRET_KEY}\n`,
    );
    expect(err.status).toBe(400);
    expect(err.message).toContain('claude-api-key[0].weight');
    expect(err.message).toContain('routing.strategy');
    expect(err.message).not.toContain(SECRET_KEY);
  });

  it.each([
    ['an empty body', ''],
    ['a blank body', '  \n'],
    ['a YAML list', '- a\n- b\n'],
    ['a scalar', 'just text'],
    ['a JSON array', ['a']],
    ['no body', undefined],
  ])('rejects %s with 400', (_, body) => {
    expect(rejection(body).status).toBe(400);
  });
});
