import { createServer } from 'node:http';
import { describe, expect, it } from 'vitest';
import { freePort, waitFor, waitForHttp } from './helpers';

describe('freePort', () => {
  it('returns a port that can be listened on', async () => {
    const port = await freePort();
    expect(port).toBeGreaterThan(0);
    const srv = createServer();
    await new Promise<void>((resolve) => srv.listen(port, '127.0.0.1', resolve));
    await new Promise((resolve) => srv.close(resolve));
  });
});

describe('waitFor', () => {
  it('resolves with the first truthy value', async () => {
    let n = 0;
    expect(await waitFor(() => (++n >= 3 ? n : 0), 2_000, 1)).toBe(3);
  });
  it('rejects when the condition never holds, naming the last error', async () => {
    await expect(
      waitFor(
        () => {
          throw new Error('not yet');
        },
        50,
        5,
      ),
    ).rejects.toThrow(/not met within 50 ms: not yet/);
  });
});

describe('waitForHttp', () => {
  it('waits until a server starts answering 2xx', async () => {
    const port = await freePort();
    const srv = createServer((_req, res) => res.end('ok'));
    const waiting = waitForHttp(`http://127.0.0.1:${port}/healthz`, 5_000);
    setTimeout(() => srv.listen(port, '127.0.0.1'), 100);
    await expect(waiting).resolves.toBeUndefined();
    await new Promise((resolve) => srv.close(resolve));
  });
  it('rejects when the server only answers errors', async () => {
    const port = await freePort();
    const srv = createServer((_req, res) => {
      res.statusCode = 503;
      res.end();
    });
    await new Promise<void>((resolve) => srv.listen(port, '127.0.0.1', resolve));
    await expect(waitForHttp(`http://127.0.0.1:${port}/`, 200)).rejects.toThrow(/answered 503/);
    await new Promise((resolve) => srv.close(resolve));
  });
});
