import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';

/** One tunnel a test proxy opened: where to, and what the client sent through it. */
export interface ProxyTunnel {
  /** `host:port` the client asked for. */
  target: string;
  /** Client-to-target bytes as text (first 256 KiB): plain-HTTP upstreams can be read back. */
  sent: string;
}

/** A local proxy for tests that records every tunnel; it only connects to loopback targets. */
export interface TestProxy {
  url: string;
  readonly tunnels: readonly ProxyTunnel[];
  /** Everything clients sent through this proxy, concatenated. */
  sentText(): string;
  close(): Promise<void>;
}

const MAX_RECORDED = 256 * 1024;
const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1']);

/** An HTTP proxy that serves CONNECT only, as undici's ProxyAgent tunnels every request. */
export function startConnectProxy(): Promise<TestProxy> {
  return startProxy('http', (client, tunnels) => {
    let head = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      head = Buffer.concat([head, chunk]);
      const end = head.indexOf('\r\n\r\n');
      if (end < 0) return;
      client.off('data', onData);
      const [method = '', target = ''] = head.subarray(0, end).toString('latin1').split('\r\n')[0]!.split(' ');
      const rest = head.subarray(end + 4);
      if (method !== 'CONNECT') return client.end('HTTP/1.1 405 Method Not Allowed\r\nConnection: close\r\n\r\n');
      const { host, port } = splitHostPort(target);
      if (!LOOPBACK.has(host)) return client.end('HTTP/1.1 403 Forbidden\r\nConnection: close\r\n\r\n');
      tunnel(
        client,
        tunnels,
        host,
        port,
        rest,
        () => client.write('HTTP/1.1 200 Connection Established\r\n\r\n'),
        () => client.end('HTTP/1.1 502 Bad Gateway\r\nConnection: close\r\n\r\n'),
      );
    };
    client.on('data', onData);
  });
}

/** A SOCKS5 proxy (RFC 1928 CONNECT; no authentication, or RFC 1929 user/password when given). */
export function startSocks5Proxy(auth?: { username: string; password: string }): Promise<TestProxy> {
  return startProxy('socks5', (client, tunnels) => {
    let buffer = Buffer.alloc(0);
    let stage: 'greeting' | 'auth' | 'request' = 'greeting';
    const fail = (reply: Buffer) => client.end(reply);
    const onData = (chunk: Buffer) => {
      buffer = Buffer.concat([buffer, chunk]);
      for (;;) {
        if (stage === 'greeting') {
          if (buffer.length < 2 || buffer.length < 2 + buffer[1]!) return;
          const methods = [...buffer.subarray(2, 2 + buffer[1]!)];
          buffer = buffer.subarray(2 + buffer[1]!);
          const method = auth ? 0x02 : 0x00;
          if (!methods.includes(method)) return fail(Buffer.from([0x05, 0xff]));
          client.write(Buffer.from([0x05, method]));
          stage = auth ? 'auth' : 'request';
        } else if (stage === 'auth') {
          if (buffer.length < 2) return;
          const userLength = buffer[1]!;
          if (buffer.length < 3 + userLength) return;
          const passLength = buffer[2 + userLength]!;
          if (buffer.length < 3 + userLength + passLength) return;
          const username = buffer.subarray(2, 2 + userLength).toString();
          const password = buffer.subarray(3 + userLength, 3 + userLength + passLength).toString();
          buffer = buffer.subarray(3 + userLength + passLength);
          if (username !== auth!.username || password !== auth!.password) return fail(Buffer.from([0x01, 0x01]));
          client.write(Buffer.from([0x01, 0x00]));
          stage = 'request';
        } else {
          const parsed = parseSocksRequest(buffer);
          if (!parsed) return;
          client.off('data', onData);
          const reply = (code: number) => Buffer.from([0x05, code, 0x00, 0x01, 0, 0, 0, 0, 0, 0]);
          if (parsed.command !== 0x01) return fail(reply(0x07));
          if (!LOOPBACK.has(parsed.host)) return fail(reply(0x02));
          tunnel(
            client,
            tunnels,
            parsed.host,
            parsed.port,
            buffer.subarray(parsed.length),
            () => client.write(reply(0x00)),
            () => fail(reply(0x05)),
          );
          return;
        }
      }
    };
    client.on('data', onData);
  });
}

function parseSocksRequest(
  buffer: Buffer,
): { command: number; host: string; port: number; length: number } | undefined {
  if (buffer.length < 5) return undefined;
  const type = buffer[3];
  let host: string;
  let offset: number;
  if (type === 0x01) {
    offset = 8;
    if (buffer.length < offset + 2) return undefined;
    host = [...buffer.subarray(4, 8)].join('.');
  } else if (type === 0x03) {
    offset = 5 + buffer[4]!;
    if (buffer.length < offset + 2) return undefined;
    host = buffer.subarray(5, offset).toString();
  } else if (type === 0x04) {
    offset = 20;
    if (buffer.length < offset + 2) return undefined;
    const words = [];
    for (let i = 4; i < 20; i += 2) words.push(buffer.readUInt16BE(i).toString(16));
    host = words.join(':').replace(/^(0:)+/, '::');
  } else {
    return { command: -1, host: '', port: 0, length: buffer.length };
  }
  return { command: buffer[1]!, host, port: buffer.readUInt16BE(offset), length: offset + 2 };
}

function splitHostPort(target: string): { host: string; port: number } {
  const match = /^\[?([^\]]+?)\]?:(\d+)$/.exec(target);
  return match ? { host: match[1]!, port: Number(match[2]) } : { host: target, port: 0 };
}

function tunnel(
  client: Socket,
  tunnels: ProxyTunnel[],
  host: string,
  port: number,
  early: Buffer,
  onOpen: () => void,
  onFail: () => void,
): void {
  const record: ProxyTunnel = { target: `${host}:${port}`, sent: '' };
  tunnels.push(record);
  const capture = (chunk: Buffer) => {
    if (record.sent.length < MAX_RECORDED) record.sent += chunk.toString('latin1');
  };
  let opened = false;
  const upstream = connect({ host, port }, () => {
    opened = true;
    onOpen();
    capture(early);
    if (early.length) upstream.write(early);
    client.on('data', (chunk: Buffer) => {
      capture(chunk);
      upstream.write(chunk);
    });
    upstream.pipe(client);
  });
  upstream.on('error', () => (opened ? client.destroy() : onFail()));
  client.on('error', () => upstream.destroy());
  client.on('close', () => upstream.destroy());
  upstream.on('close', () => client.destroy());
}

async function startProxy(
  scheme: 'http' | 'socks5',
  onClient: (client: Socket, tunnels: ProxyTunnel[]) => void,
): Promise<TestProxy> {
  const tunnels: ProxyTunnel[] = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    sockets.add(client);
    client.on('close', () => sockets.delete(client));
    client.on('error', () => client.destroy());
    onClient(client, tunnels);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `${scheme}://127.0.0.1:${port}`,
    tunnels,
    sentText: () => tunnels.map((t) => t.sent).join('\n'),
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
