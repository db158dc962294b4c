import { describe, expect, it } from 'vitest';
import { RouteActions, type RouteRequest } from '@cpa/contracts';
import { parseJsonObject, type UpstreamCall } from '../provider-adapter';
import { unwrapCodeAssist, unwrapJsonBytes, unwrapStream } from '../response-unwrap';
import { antigravityAdapter } from './antigravity';
import { ANTIGRAVITY_BASE_URLS, antigravityBases, antigravitySessionId, GEMINI_CLI_API_CLIENT } from './code-assist';
import { geminiCliAdapter } from './gemini-cli';
import { vertexAdapter } from './vertex';

function call(
  overrides: Partial<UpstreamCall> & { action?: string; clientFormat?: RouteRequest['clientFormat'] } = {},
): UpstreamCall {
  const { action, clientFormat = 'gemini', ...rest } = overrides;
  return {
    route: {
      requestId: 'r1',
      clientFormat,
      model: 'gemini-2.5-flash',
      stream: false,
      sessionIds: [],
      headers: {},
      deadline: 0,
      ...(action ? { action } : {}),
    },
    format: 'gemini',
    upstreamModel: 'gemini-2.5-flash',
    kind: 'oauth',
    baseUrl: '',
    headers: {},
    secret: { accessToken: 'ya29.token', projectId: 'proj-1' },
    ...rest,
  };
}

const body = (json: unknown) => Buffer.from(JSON.stringify(json));
const parse = parseJsonObject;
const GEMINI_BODY = {
  contents: [{ role: 'user', parts: [{ text: 'hello there' }] }],
  safetySettings: [{ category: 'HARM_CATEGORY_HARASSMENT', threshold: 'BLOCK_NONE' }],
  generationConfig: { temperature: 0.2 },
};

describe('gemini-cli', () => {
  it('calls v1internal with the Gemini CLI identity and the Bearer token', () => {
    const target = geminiCliAdapter.target(call(), false);
    expect(target.url).toBe('https://cloudcode-pa.googleapis.com/v1internal:generateContent');
    expect(target.headers).toMatchObject({
      authorization: 'Bearer ya29.token',
      'user-agent': `GeminiCLI/0.34.0/gemini-2.5-flash (${process.platform}; ${process.arch})`,
      'x-goog-api-client': GEMINI_CLI_API_CLIENT,
    });
    expect(geminiCliAdapter.target(call(), true).url).toBe(
      'https://cloudcode-pa.googleapis.com/v1internal:streamGenerateContent?alt=sse',
    );
    expect(geminiCliAdapter.target(call({ action: RouteActions.countTokens }), false).url).toMatch(
      /v1internal:countTokens$/,
    );
    expect(geminiCliAdapter.target(call({ baseUrl: 'http://127.0.0.1:9/' }), false).url).toBe(
      'http://127.0.0.1:9/v1internal:generateContent',
    );
  });

  it('a Gemini client reading the JSON-array stream gets it without alt=sse', () => {
    expect(geminiCliAdapter.target(call({ action: RouteActions.streamJsonArray }), true).url).toMatch(
      /:streamGenerateContent$/,
    );
  });

  it('wraps the body as {model, project, request} and keeps it otherwise', () => {
    const out = parse(geminiCliAdapter.prepareBody!(call(), body(GEMINI_BODY), false));
    expect(out).toEqual({ model: 'gemini-2.5-flash', project: 'proj-1', request: GEMINI_BODY });
  });

  it('countTokens sends {request} with the model and without safety settings', () => {
    const out = parse(
      geminiCliAdapter.prepareBody!(call({ action: RouteActions.countTokens }), body(GEMINI_BODY), false),
    );
    expect(out).toEqual({
      request: {
        model: 'models/gemini-2.5-flash',
        contents: GEMINI_BODY.contents,
        generationConfig: { temperature: 0.2 },
      },
    });
    const translated = { generateContentRequest: { model: 'models/gemini-2.5-flash', contents: GEMINI_BODY.contents } };
    expect(
      parse(geminiCliAdapter.prepareBody!(call({ action: RouteActions.countTokens }), body(translated), false)),
    ).toEqual({
      request: { model: 'models/gemini-2.5-flash', contents: GEMINI_BODY.contents },
    });
  });

  it('refuses to call without a Code Assist project', () => {
    expect(() =>
      geminiCliAdapter.prepareBody!(call({ secret: { accessToken: 't' } }), body(GEMINI_BODY), false),
    ).toThrow(/project/);
  });
});

describe('antigravity', () => {
  it('tries the three Google bases in order, or the configured ones', () => {
    expect(antigravityBases('', {})).toEqual([...ANTIGRAVITY_BASE_URLS]);
    expect(ANTIGRAVITY_BASE_URLS[0]).toBe('https://cloudcode-pa.googleapis.com');
    expect(antigravityBases('', { ANTIGRAVITY_BASE_URL: ' http://a , http://b ' })).toEqual(['http://a', 'http://b']);
    expect(antigravityBases('http://own', { ANTIGRAVITY_BASE_URL: 'http://a' })).toEqual(['http://own']);
    const target = antigravityAdapter.target(call(), true);
    expect(target.url).toBe('https://cloudcode-pa.googleapis.com/v1internal:streamGenerateContent?alt=sse');
    expect(target.fallbackUrls).toEqual([
      'https://daily-cloudcode-pa.googleapis.com/v1internal:streamGenerateContent?alt=sse',
      'https://daily-cloudcode-pa.sandbox.googleapis.com/v1internal:streamGenerateContent?alt=sse',
    ]);
    expect(target.headers['user-agent']).toMatch(/^antigravity\/\d+\.\d+\.\d+ darwin\/arm64$/);
  });

  it('adds its fields, a fresh request id and a stable session id, and drops safety settings', () => {
    const first = parse(
      antigravityAdapter.prepareBody!(call({ upstreamModel: 'claude-sonnet-4-6' }), body(GEMINI_BODY), false),
    );
    const second = parse(
      antigravityAdapter.prepareBody!(call({ upstreamModel: 'claude-sonnet-4-6' }), body(GEMINI_BODY), false),
    );
    expect(first).toMatchObject({
      model: 'claude-sonnet-4-6',
      project: 'proj-1',
      userAgent: 'antigravity',
      requestType: 'agent',
    });
    expect(first.requestId).toMatch(/^agent-[0-9a-f-]{36}$/);
    expect(first.requestId).not.toBe(second.requestId);
    const request = first.request as Record<string, unknown>;
    expect(request.safetySettings).toBeUndefined();
    expect(request.contents).toEqual(GEMINI_BODY.contents);
    expect(request.sessionId).toMatch(/^-\d+$/);
    expect((second.request as Record<string, unknown>).sessionId).toBe(request.sessionId);
  });

  it('derives the session id from the first user text as CLIProxyAPI does', () => {
    // SHA-256("hello there") starts 12998c017066eb0d: as a positive int64, 1340256301928082189.
    expect(antigravitySessionId(GEMINI_BODY.contents)).toBe('-1340256301928082189');
    const later = [
      ...GEMINI_BODY.contents,
      { role: 'model', parts: [{ text: 'hi' }] },
      { role: 'user', parts: [{ text: 'more' }] },
    ];
    expect(antigravitySessionId(later)).toBe('-1340256301928082189');
    expect(antigravitySessionId([])).toMatch(/^-\d+$/);
  });
});

describe('vertex', () => {
  const serviceAccount = { client_email: 'sa@p.iam.gserviceaccount.com', private_key: 'k', project_id: 'sa-project' };

  it('service accounts: the location host, project and location in the path, Bearer', () => {
    const target = vertexAdapter.target(
      call({ secret: { accessToken: 'ya29.sa', serviceAccount, projectId: 'proj-9', location: 'europe-west4' } }),
      true,
    );
    expect(target.url).toBe(
      'https://europe-west4-aiplatform.googleapis.com/v1/projects/proj-9/locations/europe-west4/publishers/google/models/gemini-2.5-flash:streamGenerateContent?alt=sse',
    );
    expect(target.headers.authorization).toBe('Bearer ya29.sa');
    expect(target.headers['x-goog-api-key']).toBeUndefined();
  });

  it("the global location has no regional host; the project defaults to the service account's, the location to us-central1", () => {
    expect(
      vertexAdapter.target(call({ secret: { accessToken: 't', serviceAccount, location: 'global' } }), false).url,
    ).toBe(
      'https://aiplatform.googleapis.com/v1/projects/sa-project/locations/global/publishers/google/models/gemini-2.5-flash:generateContent',
    );
    expect(vertexAdapter.target(call({ secret: { accessToken: 't', serviceAccount } }), false).url).toMatch(
      /^https:\/\/us-central1-aiplatform\.googleapis\.com\/v1\/projects\/sa-project\/locations\/us-central1\//,
    );
  });

  it('vertex-api-key: the publisher path with x-goog-api-key', () => {
    const target = vertexAdapter.target(call({ kind: 'api_key', secret: { apiKey: 'vk-1' } }), false);
    expect(target.url).toBe(
      'https://aiplatform.googleapis.com/v1/publishers/google/models/gemini-2.5-flash:generateContent',
    );
    expect(target.headers['x-goog-api-key']).toBe('vk-1');
    expect(target.headers.authorization).toBeUndefined();
    expect(
      vertexAdapter.target(
        call({ kind: 'api_key', baseUrl: 'https://zenmux.ai/api', secret: { apiKey: 'vk-1' } }),
        false,
      ).url,
    ).toBe('https://zenmux.ai/api/v1/publishers/google/models/gemini-2.5-flash:generateContent');
  });

  it('sends plain Gemini bodies; countTokens flattens a generateContentRequest', () => {
    const plain = body(GEMINI_BODY);
    expect(vertexAdapter.prepareBody!(call(), plain, false)).toBe(plain);
    const translated = body({
      generateContentRequest: {
        model: 'models/x',
        contents: GEMINI_BODY.contents,
        systemInstruction: { parts: [{ text: 's' }] },
      },
    });
    expect(parse(vertexAdapter.prepareBody!(call({ action: RouteActions.countTokens }), translated, false))).toEqual({
      contents: GEMINI_BODY.contents,
      systemInstruction: { parts: [{ text: 's' }] },
    });
  });
});

describe('Code Assist answers', () => {
  const answer = { candidates: [{ content: { role: 'model', parts: [{ text: 'hi' }] } }] };

  it('are unwrapped from {response}; anything else is left alone', () => {
    expect(unwrapCodeAssist({ response: answer, traceId: 't' })).toEqual(answer);
    expect(unwrapCodeAssist({ error: { code: 429 } })).toEqual({ error: { code: 429 } });
    expect(unwrapCodeAssist({ totalTokens: 3 })).toEqual({ totalTokens: 3 });
    expect(JSON.parse(unwrapJsonBytes(body({ response: answer }), unwrapCodeAssist).toString())).toEqual(answer);
    expect(unwrapJsonBytes(Buffer.from('<html>bad gateway</html>'), unwrapCodeAssist).toString()).toBe(
      '<html>bad gateway</html>',
    );
  });

  async function collect(source: string, splitEvery: number): Promise<string> {
    const bytes = Buffer.from(source);
    async function* chunks() {
      for (let i = 0; i < bytes.length; i += splitEvery) yield bytes.subarray(i, i + splitEvery);
    }
    let out = '';
    for await (const chunk of unwrapStream(chunks(), unwrapCodeAssist)) out += chunk.toString();
    return out;
  }

  it('SSE events are unwrapped one by one, whatever the chunk boundaries (multi-byte text included)', async () => {
    const events = [{ response: { n: 1, text: 'héllo ✓' } }, { response: { n: 2 } }];
    const sse = events.map((e) => `data: ${JSON.stringify(e)}\r\n\r\n`).join('');
    for (const split of [1, 3, 7, 1000]) {
      expect(await collect(sse, split)).toBe(`data: {"n":1,"text":"héllo ✓"}\n\ndata: {"n":2}\n\n`);
    }
    expect(await collect('event: x\ndata: {"response":{"a":1}}\n\n', 5)).toBe('event: x\ndata: {"a":1}\n\n');
  });

  it('a streamed JSON array stays a JSON array of unwrapped elements', async () => {
    const array = `[{"response":{"n":1}}\r\n,{"response":{"n":2}}]`;
    for (const split of [1, 4, 1000]) expect(JSON.parse(await collect(array, split))).toEqual([{ n: 1 }, { n: 2 }]);
    expect(await collect('[]', 1)).toBe('[]');
  });
});
