import { describe, expect, it } from 'vitest';
import { unsignedJwt } from '@cpa/testing';
import {
  chatgptAccountId,
  CODEX_REMOVED_FIELDS,
  codexPromptCacheKey,
  isModelCapacityError,
  prepareCodexBody,
} from './codex-chatgpt';

const route = (over: Partial<{ headers: Record<string, string>; sessionIds: string[]; clientKeyId: string }> = {}) => ({
  headers: {},
  sessionIds: [],
  ...over,
});

describe('chatgptAccountId', () => {
  it("prefers the secret's accountId", () => {
    expect(
      chatgptAccountId({
        accessToken: 't',
        accountId: 'acc-1',
        idToken: unsignedJwt({ 'https://api.openai.com/auth': { chatgpt_account_id: 'acc-2' } }),
      }),
    ).toBe('acc-1');
  });
  it('falls back to the id_token claim https://api.openai.com/auth -> chatgpt_account_id', () => {
    expect(
      chatgptAccountId({
        accessToken: 't',
        idToken: unsignedJwt({ email: 'a@b.c', 'https://api.openai.com/auth': { chatgpt_account_id: 'acc-2' } }),
      }),
    ).toBe('acc-2');
  });
  it('is undefined without either (or with an unreadable id_token)', () => {
    expect(chatgptAccountId({ accessToken: 't' })).toBeUndefined();
    expect(chatgptAccountId({ accessToken: 't', idToken: 'not-a-jwt' })).toBeUndefined();
    expect(chatgptAccountId({ accessToken: 't', idToken: unsignedJwt({ email: 'a@b.c' }) })).toBeUndefined();
  });
});

describe('prepareCodexBody', () => {
  it('forces stream, store, parallel tool calls, encrypted reasoning, instructions and the cache key', () => {
    const body = prepareCodexBody(
      {
        model: 'gpt-5',
        input: [],
        stream: false,
        store: true,
        parallel_tool_calls: false,
        include: ['file_search_call.results'],
      },
      'pck',
    );
    expect(body).toEqual({
      model: 'gpt-5',
      input: [],
      stream: true,
      store: false,
      parallel_tool_calls: true,
      include: ['reasoning.encrypted_content'],
      instructions: '',
      prompt_cache_key: 'pck',
    });
  });
  it('removes every field the backend refuses and keeps instructions', () => {
    const refused = Object.fromEntries(CODEX_REMOVED_FIELDS.map((field) => [field, 1]));
    const body = prepareCodexBody(
      {
        model: 'gpt-5',
        instructions: 'be terse',
        input: [],
        ...refused,
        service_tier: 'flex',
        reasoning: { effort: 'low' },
      },
      'k',
    );
    for (const field of CODEX_REMOVED_FIELDS) expect(body).not.toHaveProperty(field);
    expect(body).not.toHaveProperty('service_tier');
    expect(body).toMatchObject({ instructions: 'be terse', reasoning: { effort: 'low' } });
    expect(prepareCodexBody({ service_tier: 'priority' }, 'k').service_tier).toBe('priority');
  });
  it('turns system turns into developer turns and a string input into a user message', () => {
    const body = prepareCodexBody(
      {
        input: [
          { role: 'system', content: 's' },
          { role: 'user', content: 'u' },
          { type: 'function_call_output', call_id: 'c', output: 'o' },
        ],
      },
      'k',
    );
    expect((body.input as Array<Record<string, unknown>>).map((item) => item.role)).toEqual([
      'developer',
      'user',
      undefined,
    ]);
    expect(prepareCodexBody({ input: 'hi' }, 'k').input).toEqual([
      { type: 'message', role: 'user', content: [{ type: 'input_text', text: 'hi' }] },
    ]);
  });
});

describe('codexPromptCacheKey', () => {
  it("keeps the client's prompt_cache_key, else its session_id header", () => {
    expect(codexPromptCacheKey({ prompt_cache_key: 'mine' }, route({ headers: { session_id: 'hdr' } }), 'cred')).toBe(
      'mine',
    );
    expect(codexPromptCacheKey({}, route({ headers: { session_id: 'hdr' } }), 'cred')).toBe('hdr');
  });
  it('derives a stable UUID from the routing session, else the client key, else the credential', () => {
    const bySession = codexPromptCacheKey({}, route({ sessionIds: ['s1'], clientKeyId: 'k' }), 'cred');
    expect(bySession).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(codexPromptCacheKey({}, route({ sessionIds: ['s1'] }), 'other')).toBe(bySession);
    const byClient = codexPromptCacheKey({}, route({ clientKeyId: 'k' }), 'cred');
    expect(byClient).not.toBe(bySession);
    expect(codexPromptCacheKey({}, route({ clientKeyId: 'k' }), 'cred')).toBe(byClient);
    expect(codexPromptCacheKey({}, route(), 'cred')).not.toBe(codexPromptCacheKey({}, route(), 'cred-2'));
  });
});

describe('isModelCapacityError', () => {
  it('recognises the capacity message in any envelope', () => {
    expect(
      isModelCapacityError('{"error":{"message":"Selected model is at capacity. Please try a different model."}}'),
    ).toBe(true);
    expect(isModelCapacityError('{"detail":"Model is at capacity. Please try a different model."}')).toBe(true);
    expect(isModelCapacityError('{"detail":"Store must be set to false"}')).toBe(false);
  });
});
