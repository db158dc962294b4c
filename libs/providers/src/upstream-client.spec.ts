import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UpstreamClient } from './upstream-client';

describe('UpstreamClient', () => {
  const received: { headers: IncomingHttpHeaders; body: Buffer }[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      received.push({ headers: req.headers, body: Buffer.concat(chunks) });
      res.end('{}');
    });
  });
  const client = new UpstreamClient();
  let url = '';

  beforeAll(async () => {
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/messages`;
  });
  afterAll(async () => {
    await client.close();
    await new Promise((resolve) => server.close(resolve));
  });

  it('sends a body in parts as one body with its Content-Length (not chunked), every time it is sent', async () => {
    const conversation = Buffer.from(
      '{"model":"alias","messages":[{"role":"user","content":"' + 'é'.repeat(50_000) + '"}]}',
    );
    const at = conversation.indexOf('"alias"');
    const parts = [conversation.subarray(0, at), Buffer.from('"claude-sonnet-4-6"'), conversation.subarray(at + 7)];
    const expected = Buffer.concat(parts);
    for (let i = 0; i < 2; i++) {
      const response = await client.send({ url, headers: { 'content-type': 'application/json' }, body: parts });
      await response.body.dump();
    }
    expect(received).toHaveLength(2);
    for (const { headers, body } of received) {
      expect(headers['content-length']).toBe(String(expected.length));
      expect(headers['transfer-encoding']).toBeUndefined();
      expect(body.equals(expected)).toBe(true);
    }
  });
});
