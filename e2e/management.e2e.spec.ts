/**
 * config.yaml upload and credential enable/disable through the gateway's management
 * pass-through reach the request path without a restart.
 */
import { describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { credentialId } from '@cpa/config';
import { PROPAGATION_MS, TWO_OF_EACH, useStack } from './stack-fixture';

const PROVIDER = 'mg';
const KEY_A = 'mg-key-a';
const KEY_B = 'mg-key-b';

const { mock, openai, management, onEveryGateway } = useStack({
  env: () => TWO_OF_EACH,
  families: ['openai-compat'],
  config: (upstream) => ({
    'openai-compatibility': [
      {
        name: PROVIDER,
        'base-url': `${upstream.url}/v1`,
        'api-key-entries': [{ 'api-key': KEY_A }],
        models: [{ name: 'mg-model', alias: 'mg-model' }],
      },
    ],
  }),
});

type Config = Record<string, unknown> & {
  'openai-compatibility': { 'base-url': string; 'api-key-entries': { 'api-key': string }[] }[];
};

async function getConfigYaml(): Promise<{ contentType: string | null; text: string }> {
  const response = await management('/config.yaml');
  expect(response.status).toBe(200);
  return { contentType: response.headers.get('content-type'), text: await response.text() };
}

async function putConfigYaml(
  text: string,
): Promise<{ status: number; body: { status?: string; warnings?: string[]; error?: string } }> {
  const response = await management('/config.yaml', {
    method: 'PUT',
    body: text,
    headers: { 'content-type': 'application/yaml' },
  });
  return { status: response.status, body: (await response.json()) as { status?: string; warnings?: string[] } };
}

const setDisabled = (authIndex: string, disabled: boolean) =>
  management('/auth-files/status', { method: 'PATCH', body: JSON.stringify({ auth_index: authIndex, disabled }) });

/** Sends `n` requests one after another (through `gateway`, or spread over all) and returns how many each upstream key served. */
async function servedBy(n: number, gateway?: string): Promise<Record<string, number>> {
  mock.reset();
  for (let i = 0; i < n; i++) {
    await openai({ gateway }).chat.completions.create({
      model: 'mg-model',
      messages: [{ role: 'user', content: 'which key serves me' }],
    });
  }
  return mock.countByKey();
}

describe('config.yaml through the gateway', () => {
  it('GET answers YAML that PUT takes back unchanged', async () => {
    const before = await getConfigYaml();
    expect(before.contentType).toBe('application/yaml; charset=utf-8');
    const config = parse(before.text) as Config;
    expect(config['openai-compatibility'][0]['api-key-entries']).toEqual([{ 'api-key': KEY_A }]);
    expect(await putConfigYaml(before.text)).toEqual({
      status: 200,
      body: { status: 'ok', warnings: [expect.stringMatching(/^remote-management\.secret-key: /)] },
    });
    expect((await getConfigYaml()).text).toBe(before.text);
    // The upload named no secret-key; the configured secret still opens the API.
    expect((await management('/config')).status).toBe(200);
  });

  it('PUT adding a second openai-compatibility key makes the gateway route to it', async () => {
    expect(Object.keys(await servedBy(4))).toEqual([KEY_A]);
    const config = parse((await getConfigYaml()).text) as Config;
    config['openai-compatibility'][0]['api-key-entries'].push({ 'api-key': KEY_B });
    expect((await putConfigYaml(stringify(config))).status).toBe(200);
    await onEveryGateway(async (gateway) => (await servedBy(4, gateway))[KEY_B] > 0, PROPAGATION_MS);
    expect(await servedBy(6)).toEqual({ [KEY_A]: 3, [KEY_B]: 3 });
  });

  it('rejects invalid YAML with 400 and keeps serving', async () => {
    const answer = await putConfigYaml('openai-compatibility:\n  - name: broken\n   base-url: [\n');
    expect(answer.status).toBe(400);
    expect(answer.body.error).toMatch(/not valid YAML/);
    expect(Object.keys(await servedBy(4)).sort()).toEqual([KEY_A, KEY_B]);
  });
});

describe('PATCH /auth-files/status through the gateway', () => {
  it('disabling a credential stops traffic to it; enabling it restores the traffic', async () => {
    const config = parse((await getConfigYaml()).text) as Config;
    const idB = credentialId('openai-compat', config['openai-compatibility'][0]['base-url'], KEY_B, PROVIDER);
    const files = (await (await management('/auth-files')).json()) as { files: { auth_index: string }[] };
    expect(files.files.map((f) => f.auth_index)).toContain(idB);

    expect(await (await setDisabled(idB, true)).json()).toEqual({ status: 'ok' });
    await onEveryGateway(async (gateway) => (await servedBy(4, gateway))[KEY_B] === undefined, PROPAGATION_MS);
    expect(await servedBy(6)).toEqual({ [KEY_A]: 6 });

    expect((await setDisabled(idB, false)).status).toBe(200);
    await onEveryGateway(async (gateway) => (await servedBy(4, gateway))[KEY_B] > 0, PROPAGATION_MS);
    expect(await servedBy(6)).toEqual({ [KEY_A]: 3, [KEY_B]: 3 });
  });

  it('answers 404 for an unknown credential', async () => {
    const response = await setDisabled('openai-compat:0000000000000000', true);
    expect(response.status).toBe(404);
    expect(await response.json()).toEqual({ error: 'auth file not found' });
  });
});
