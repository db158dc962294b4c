import { describe, expect, it } from 'vitest';
import { ConfigError, isBcryptHash, parseConfigYaml } from './config-file';

const FULL = `
port: 8317
api-keys:
  - client-key-1
  - client-key-2
claude-api-key:
  - api-key: sk-ant-one
    base-url: https://api.anthropic.com
    proxy-url: socks5://127.0.0.1:1080
    prefix: teamA
    models:
      - name: claude-sonnet-4-5-20250929
        alias: sonnet
    excluded-models: ["claude-3-*", "*-haiku"]
    headers:
      X-Team: a
    weight: 5
    priority: 2
gemini-api-key:
  - api-key: AIza-one
codex-api-key:
  - api-key: sk-codex
    base-url: https://chatgpt.com/backend-api/codex
openai-compatibility:
  - name: openrouter
    base-url: https://openrouter.ai/api/v1
    prefix: or
    api-key-entries:
      - api-key: sk-or-1
        proxy-url: http://proxy:8080
        weight: 2
      - api-key: sk-or-2
    models:
      - name: moonshotai/kimi-k2
        alias: kimi
    headers:
      HTTP-Referer: https://example.com
routing:
  strategy: fill-first
  session-affinity: true
  session-affinity-ttl: 2h
request-retry: 5
max-retry-interval: 45s
max-retry-credentials: 2
force-model-prefix: true
disable-cooling: false
transient-error-cooldown-seconds: -1
remote-management:
  allow-remote: true
  secret-key: s3cret
`;

describe('parseConfigYaml', () => {
  it('reads every supported key of a full config', () => {
    const { config, warnings } = parseConfigYaml(FULL);
    expect(warnings).toEqual([]);
    expect(config.port).toBe(8317);
    expect(config['api-keys']).toEqual(['client-key-1', 'client-key-2']);
    expect(config['claude-api-key']).toEqual([
      {
        'api-key': 'sk-ant-one',
        'base-url': 'https://api.anthropic.com',
        'proxy-url': 'socks5://127.0.0.1:1080',
        prefix: 'teamA',
        models: [{ name: 'claude-sonnet-4-5-20250929', alias: 'sonnet' }],
        'excluded-models': ['claude-3-*', '*-haiku'],
        headers: { 'X-Team': 'a' },
        weight: 5,
        priority: 2,
      },
    ]);
    expect(config['gemini-api-key']).toEqual([{ 'api-key': 'AIza-one' }]);
    expect(config['codex-api-key']?.[0]['base-url']).toBe('https://chatgpt.com/backend-api/codex');
    expect(config['openai-compatibility']).toEqual([
      {
        name: 'openrouter',
        'base-url': 'https://openrouter.ai/api/v1',
        prefix: 'or',
        'api-key-entries': [
          { 'api-key': 'sk-or-1', 'proxy-url': 'http://proxy:8080', weight: 2 },
          { 'api-key': 'sk-or-2' },
        ],
        models: [{ name: 'moonshotai/kimi-k2', alias: 'kimi' }],
        headers: { 'HTTP-Referer': 'https://example.com' },
      },
    ]);
    expect(config.routing).toEqual({ strategy: 'fill-first', 'session-affinity': true, 'session-affinity-ttl': 7200 });
    expect(config['request-retry']).toBe(5);
    expect(config['max-retry-interval']).toBe(45);
    expect(config['max-retry-credentials']).toBe(2);
    expect(config['force-model-prefix']).toBe(true);
    expect(config['disable-cooling']).toBe(false);
    expect(config['transient-error-cooldown-seconds']).toBe(-1);
    expect(config['remote-management']).toEqual({ 'allow-remote': true, 'secret-key': 's3cret' });
  });

  it('accepts numbers of seconds and Go durations alike', () => {
    expect(parseConfigYaml('max-retry-interval: 30').config['max-retry-interval']).toBe(30);
    expect(parseConfigYaml('max-retry-interval: "1m"').config['max-retry-interval']).toBe(60);
    expect(parseConfigYaml('routing:\n  session-affinity-ttl: 90m').config.routing?.['session-affinity-ttl']).toBe(
      5400,
    );
    expect(parseConfigYaml('routing:\n  session-affinity-ttl: 600').config.routing?.['session-affinity-ttl']).toBe(600);
  });

  it('normalises routing strategy spellings', () => {
    expect(parseConfigYaml('routing:\n  strategy: RoundRobin').config.routing?.strategy).toBe('round-robin');
    expect(parseConfigYaml('routing:\n  strategy: ff').config.routing?.strategy).toBe('fill-first');
    expect(parseConfigYaml('routing:\n  strategy: weighted-round-robin').config.routing?.strategy).toBe(
      'weighted-round-robin',
    );
    expect(parseConfigYaml('routing:\n  strategy: weightedroundrobin').config.routing?.strategy).toBe(
      'weighted-round-robin',
    );
  });

  it('refuses an unknown routing strategy, naming the accepted ones', () => {
    expect(() => parseConfigYaml('routing:\n  strategy: weighted')).toThrow(
      /routing\.strategy: unknown routing strategy \(use round-robin, weighted-round-robin, fill-first\)/,
    );
  });

  it('treats an empty file and empty keys as unset', () => {
    expect(parseConfigYaml('').config).toEqual({});
    expect(parseConfigYaml('api-keys:\nclaude-api-key:\nrouting:\n').config).toEqual({});
  });

  it('reports unknown keys with their paths and still imports the rest', () => {
    const { config, warnings } = parseConfigYaml(`
debug: true
tls:
  enable: false
api-keys: [k1]
claude-api-key:
  - api-key: a
    cloak: true
openai-compatibility:
  - name: x
    base-url: https://x
    api-key-entries:
      - api-key: y
        color: blue
routing:
  strategy: round-robin
  mystery: 1
`);
    expect(config['api-keys']).toEqual(['k1']);
    expect(config['claude-api-key']).toEqual([{ 'api-key': 'a' }]);
    expect(warnings.map((w) => w.path)).toEqual([
      'debug',
      'tls',
      'claude-api-key[0].cloak',
      'openai-compatibility[0].api-key-entries[0].color',
      'routing.mystery',
    ]);
    expect(warnings.every((w) => w.message.includes('unknown'))).toBe(true);
  });

  it.each([
    ['port: "abc"', 'port'],
    ['port: 70000', 'port'],
    ['request-retry: -1', 'request-retry'],
    ['max-retry-interval: soon', 'max-retry-interval'],
    ['routing:\n  strategy: random', 'routing.strategy'],
    ['routing:\n  session-affinity: maybe', 'routing.session-affinity'],
    ['claude-api-key:\n  - base-url: https://x', 'claude-api-key[0].api-key'],
    ['claude-api-key:\n  - api-key: k\n    weight: -2', 'claude-api-key[0].weight'],
    ['openai-compatibility:\n  - name: x', 'openai-compatibility[0].base-url'],
    ['api-keys: notalist', 'api-keys'],
    ['transient-error-cooldown-seconds: -5', 'transient-error-cooldown-seconds'],
  ])('rejects %j naming %s', (yaml, path) => {
    let error: unknown;
    try {
      parseConfigYaml(yaml);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).problems.map((p) => p.path)).toContain(path);
  });

  it('never quotes secret values in errors', () => {
    try {
      parseConfigYaml('claude-api-key:\n  - api-key: sk-very-secret\n    weight: heavy');
      expect.unreachable();
    } catch (err) {
      expect((err as Error).message).not.toContain('sk-very-secret');
    }
  });

  it('rejects YAML that is not a mapping or not YAML', () => {
    expect(() => parseConfigYaml('- a\n- b')).toThrow(ConfigError);
    expect(() => parseConfigYaml('a: [1, 2')).toThrow(ConfigError);
  });

  it('warns that a bcrypt-hashed management secret is unsupported', () => {
    const hash = '$2a$10$' + 'N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy';
    expect(isBcryptHash(hash)).toBe(true);
    expect(isBcryptHash('plain-secret')).toBe(false);
    const { warnings } = parseConfigYaml(`remote-management:\n  secret-key: "${hash}"`);
    expect(warnings).toEqual([{ path: 'remote-management.secret-key', message: expect.stringContaining('bcrypt') }]);
  });
});
