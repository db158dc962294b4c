import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  billingHeader,
  claudeSessionId,
  claudeUserId,
  cloakClaudeBody,
  isClaudeCodeClient,
  isClaudeUserId,
  limitCacheControls,
  mergeBetas,
  startsLikeClaudeCode,
  takeBodyBetas,
} from './claude-cloak';
import { CLAUDE_CODE, CLAUDE_COUNT_TOKENS_BETAS, CLAUDE_DEFAULT_BETAS } from './client-profiles';

const identity = { credentialKey: 'cred-1' };

describe('mergeBetas', () => {
  it("uses Claude Code's default profile when the client sent no flags", () => {
    expect(mergeBetas(undefined)).toBe(CLAUDE_DEFAULT_BETAS.join(','));
    expect(mergeBetas('  ')).toBe(CLAUDE_DEFAULT_BETAS.join(','));
    expect(mergeBetas(undefined, [], true)).toBe(CLAUDE_COUNT_TOKENS_BETAS.join(','));
  });
  it('keeps the client flags and adds the oauth and interleaved-thinking flags when absent', () => {
    expect(mergeBetas('prompt-caching-2024-07-31, tools-2024-04-04')).toBe(
      'oauth-2025-04-20,prompt-caching-2024-07-31,tools-2024-04-04,interleaved-thinking-2025-05-14',
    );
    expect(mergeBetas('claude-code-20250219,context-1m-2025-08-07')).toBe(
      'claude-code-20250219,oauth-2025-04-20,context-1m-2025-08-07,interleaved-thinking-2025-05-14',
    );
  });
  it('does not duplicate flags the client already sent', () => {
    expect(mergeBetas('oauth-2025-04-20,interleaved-thinking-2025-05-14,x,x')).toBe(
      'oauth-2025-04-20,interleaved-thinking-2025-05-14,x',
    );
  });
  it('appends body betas once', () => {
    expect(mergeBetas('a', ['b', 'a', 'oauth-2025-04-20'])).toBe(
      'oauth-2025-04-20,a,interleaved-thinking-2025-05-14,b',
    );
  });
});

describe('takeBodyBetas', () => {
  it('removes an array or a string from the body and returns the flags', () => {
    const body: Record<string, unknown> = { model: 'm', betas: ['x-1', ' ', 'x-2', 3] };
    expect(takeBodyBetas(body)).toEqual(['x-1', 'x-2']);
    expect(body).toEqual({ model: 'm' });
    const single: Record<string, unknown> = { betas: 'y-1,y-2' };
    expect(takeBodyBetas(single)).toEqual(['y-1', 'y-2']);
    expect('betas' in single).toBe(false);
    expect(takeBodyBetas({ model: 'm' })).toEqual([]);
  });
});

describe('client detection', () => {
  it('passes through only Claude Code (claude-cli user agents)', () => {
    expect(isClaudeCodeClient('claude-cli/2.1.220 (external, cli)')).toBe(true);
    expect(isClaudeCodeClient('Anthropic/JS 0.60.0')).toBe(false);
    expect(isClaudeCodeClient(undefined)).toBe(false);
  });
});

describe('identity', () => {
  it('user_id has the Claude Code form and is stable per credential', () => {
    const id = claudeUserId(identity);
    expect(id).toMatch(/^user_[0-9a-f]{64}_account_[0-9a-f-]{36}_session_[0-9a-f-]{36}$/);
    expect(isClaudeUserId(id)).toBe(true);
    expect(claudeUserId(identity)).toBe(id);
    expect(claudeUserId({ credentialKey: 'cred-2' })).not.toBe(id);
    expect(id.endsWith(`_session_${claudeSessionId(identity)}`)).toBe(true);
  });
  it("uses the account's UUID when the login provided it", () => {
    const account = '4f1d2c3b-aaaa-4bbb-8ccc-123456789abc';
    expect(claudeUserId({ credentialKey: 'c', accountUuid: account })).toContain(`_account_${account}_session_`);
  });
  it('rejects other user_id forms', () => {
    expect(isClaudeUserId('someone@example.com')).toBe(false);
    expect(isClaudeUserId(undefined)).toBe(false);
  });
});

describe('billingHeader', () => {
  it('fingerprints characters 4, 7 and 20 of the last user text with the version', () => {
    const text = 'abcdefghijklmnopqrstuvwxyz';
    const expected = createHash('sha256')
      .update(`${CLAUDE_CODE.fingerprintSalt}ehu${CLAUDE_CODE.version}`)
      .digest('hex')
      .slice(0, 3);
    const messages = [
      { role: 'user', content: 'first' },
      { role: 'assistant', content: 'x' },
      { role: 'user', content: [{ type: 'text', text }] },
    ];
    expect(billingHeader(messages)).toBe(
      `x-anthropic-billing-header: cc_version=${CLAUDE_CODE.version}.${expected}; cc_entrypoint=cli;`,
    );
  });
  it('pads short texts with 0', () => {
    const expected = createHash('sha256')
      .update(`${CLAUDE_CODE.fingerprintSalt}000${CLAUDE_CODE.version}`)
      .digest('hex')
      .slice(0, 3);
    expect(billingHeader([])).toContain(`cc_version=${CLAUDE_CODE.version}.${expected};`);
  });
});

describe('cloakClaudeBody', () => {
  it("puts Claude Code's system blocks first and moves the client's system text into the first user turn", () => {
    const body = cloakClaudeBody(
      { model: 'm', max_tokens: 10, system: 'Be a pirate.', messages: [{ role: 'user', content: 'hello' }] },
      identity,
      false,
    );
    const system = body.system as Array<Record<string, unknown>>;
    expect(system).toHaveLength(2);
    expect(system[0].text).toMatch(/^x-anthropic-billing-header: cc_version=/);
    expect(system[1]).toEqual({ type: 'text', text: CLAUDE_CODE.identity, cache_control: { type: 'ephemeral' } });
    expect(startsLikeClaudeCode(body.system)).toBe(true);
    const first = (body.messages as Array<{ content: string }>)[0].content;
    expect(first).toMatch(/^<system-reminder>\n/);
    expect(first).toContain('Be a pirate.');
    expect(first.endsWith('</system-reminder>\nhello')).toBe(true);
    expect(isClaudeUserId((body.metadata as Record<string, unknown>).user_id)).toBe(true);
  });
  it("keeps system blocks after Claude Code's when there is no user turn to carry them", () => {
    const body = cloakClaudeBody(
      {
        system: [
          { type: 'text', text: 'one' },
          { type: 'text', text: 'two' },
        ],
        messages: [],
      },
      identity,
      false,
    );
    expect((body.system as Array<{ text: string }>).map((b) => b.text).slice(1)).toEqual([
      CLAUDE_CODE.identity,
      'one',
      'two',
    ]);
  });
  it('prepends a text block when the first user turn has blocks', () => {
    const body = cloakClaudeBody(
      {
        system: [{ type: 'text', text: 'rules' }],
        messages: [{ role: 'user', content: [{ type: 'text', text: 'q' }] }],
      },
      identity,
      false,
    );
    const content = (body.messages as Array<{ content: Array<{ text: string }> }>)[0].content;
    expect(content).toHaveLength(2);
    expect(content[0].text).toContain('rules');
    expect(content[1].text).toBe('q');
  });
  it('leaves a system prompt that already opens like Claude Code and a valid user_id alone', () => {
    const userId = claudeUserId({ credentialKey: 'other' });
    const system = [{ type: 'text', text: `${CLAUDE_CODE.identity} More.` }];
    const body = cloakClaudeBody(
      { system: structuredClone(system), metadata: { user_id: userId }, messages: [{ role: 'user', content: 'x' }] },
      identity,
      false,
    );
    expect(body.system).toEqual(system);
    expect(body.metadata).toEqual({ user_id: userId });
    expect(body.messages).toEqual([{ role: 'user', content: 'x' }]);
  });
  it('replaces a user_id of another form, keeping other metadata', () => {
    const body = cloakClaudeBody({ metadata: { user_id: 'me', other: 1 }, messages: [] }, identity, false);
    expect(body.metadata).toEqual({ user_id: claudeUserId(identity), other: 1 });
  });
  it('count_tokens: only relocates the client system text, no identity blocks or metadata', () => {
    const body = cloakClaudeBody(
      { model: 'm', system: 'S', messages: [{ role: 'user', content: 'c' }] },
      identity,
      true,
    );
    expect(body.system).toBeUndefined();
    expect(body.metadata).toBeUndefined();
    expect((body.messages as Array<{ content: string }>)[0].content).toContain('S');
  });
  it('keeps at most 4 cache_control breakpoints after adding its own', () => {
    const cc = { type: 'ephemeral' };
    const body = cloakClaudeBody(
      {
        tools: [
          { name: 't1', cache_control: cc },
          { name: 't2', cache_control: cc },
        ],
        messages: [
          { role: 'user', content: [{ type: 'text', text: 'a', cache_control: cc }] },
          { role: 'assistant', content: [{ type: 'text', text: 'b', cache_control: cc }] },
        ],
      },
      identity,
      false,
    );
    const json = JSON.stringify(body);
    expect(json.match(/cache_control/g)).toHaveLength(4);
    // The least valuable go first: the earlier tool's breakpoint.
    expect((body.tools as Array<Record<string, unknown>>)[0].cache_control).toBeUndefined();
    expect((body.system as Array<Record<string, unknown>>)[1].cache_control).toEqual(cc);
  });
});

describe('limitCacheControls', () => {
  it('strips system (all but last), tools (all but last), messages, then the last system and tool', () => {
    const cc = () => ({ type: 'ephemeral' });
    const body = {
      system: [
        { text: 's1', cache_control: cc() },
        { text: 's2', cache_control: cc() },
      ],
      tools: [
        { name: 't1', cache_control: cc() },
        { name: 't2', cache_control: cc() },
      ],
      messages: [
        {
          role: 'user',
          content: [
            { text: 'm1', cache_control: cc() },
            { text: 'm2', cache_control: cc() },
          ],
        },
      ],
    };
    limitCacheControls(body, 2);
    const kept = [...body.system, ...body.tools, ...body.messages[0].content]
      .filter((b) => 'cache_control' in b)
      .map((b) => ('text' in b ? b.text : b.name));
    expect(kept).toEqual(['s2', 't2']);
    limitCacheControls(body, 5);
    expect(body.system[1].cache_control).toBeDefined();
  });
});
