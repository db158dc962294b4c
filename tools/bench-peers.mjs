/**
 * Peers for `npm run bench -- --peers`: Portkey's AI gateway and claude-code-router, installed
 * from the npm registry at pinned versions into a temporary folder, each started as one process
 * on 127.0.0.1 against the bench's mock upstream and driven by the bench's own load generator
 * and measurement (tools/bench.mjs passes them in), in the same run as the stack.
 *
 * claude-code-router only takes Anthropic messages and sends OpenAI chat upstream, so the stack
 * is also measured on that path (Anthropic messages in, an OpenAI-compatible upstream) before it
 * stops; the peers then run one at a time with the stack stopped, so each has the machine the
 * stack had. A peer that cannot be installed, needs a newer Node, does not start, or answers a
 * phase's first request with an error gets a "skipped: <why>" row instead of figures.
 */
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { pathToFileURL } from 'node:url';
import { request } from 'undici';
import { conversationBody } from './bench-bodies.mjs';

const ANTHROPIC_VERSION = '2023-06-01';
const JSON_HEADERS = { 'content-type': 'application/json' };
const MOCK_CLAUDE = { authorization: 'Bearer up-claude', 'anthropic-version': ANTHROPIC_VERSION };

/**
 * The wire formats the phases use: path, the headers of the run against the mock alone, the
 * body format and the model of the large bodies. `messages->chat` is Anthropic messages in, an
 * OpenAI-compatible upstream out (the stack's bench-long is an openai-compatibility model).
 */
const FORMATS = {
  chat: {
    path: '/v1/chat/completions',
    direct: { authorization: 'Bearer up-1' },
    body: 'openai-chat',
    model: 'bench-long',
  },
  messages: { path: '/v1/messages', direct: MOCK_CLAUDE, body: 'claude', model: 'claude-bench' },
  'messages->chat': { path: '/v1/messages', direct: MOCK_CLAUDE, body: 'claude', model: 'bench-long' },
};

/** Rebinds a listen() without a host to 127.0.0.1: Portkey's start-server has a --port but no host option. */
const LOOPBACK_PRELOAD = `import net from 'node:net';
const listen = net.Server.prototype.listen;
net.Server.prototype.listen = function (...args) {
  if (typeof args[0] === 'number' && typeof args[1] !== 'string') args[1] = '127.0.0.1';
  else if (args[0] && typeof args[0] === 'object' && args[0].port !== undefined && !args[0].host)
    args[0] = { ...args[0], host: '127.0.0.1' };
  return listen.apply(this, args);
};
`;

const PEERS = [
  {
    name: 'portkey',
    package: '@portkey-ai/gateway',
    version: '1.15.2',
    // Newer @hono/node-server versions hand back fetch's immutable headers, and every streamed reply
    // fails with `TypeError: immutable` (Portkey-AI/gateway#1389); 1.13.5 is the version Portkey's own
    // patches target, @hono/node-ws 1.2.0 the last that accepts it. Both within Portkey's ranges.
    pins: ['@hono/node-server@1.13.5', '@hono/node-ws@1.2.0'],
    // Its stream handler waits 25 ms before passing on the first event: that is in its stream time to first byte.
    small: ['chat'],
    large: ['chat', 'messages'],
    command({ prefix, port }) {
      const preload = join(prefix, 'loopback.mjs');
      writeFileSync(preload, LOOPBACK_PRELOAD);
      const entry = join(prefix, 'node_modules/@portkey-ai/gateway/build/start-server.js');
      // --headless: no log-viewer UI routes.
      return { args: ['--import', pathToFileURL(preload).href, entry, `--port=${port}`, '--headless'], env: {} };
    },
    // No config file: the provider and the mock as its custom host travel in each request's headers.
    targets: (url, mockUrl) => ({
      chat: {
        origins: [url],
        path: FORMATS.chat.path,
        headers: {
          ...JSON_HEADERS,
          authorization: 'Bearer up-1',
          'x-portkey-provider': 'openai',
          'x-portkey-custom-host': `${mockUrl}/v1`,
        },
      },
      messages: {
        origins: [url],
        path: FORMATS.messages.path,
        headers: {
          ...JSON_HEADERS,
          'x-api-key': 'up-claude',
          'anthropic-version': ANTHROPIC_VERSION,
          'x-portkey-provider': 'anthropic',
          'x-portkey-custom-host': `${mockUrl}/v1`,
        },
      },
    }),
  },
  {
    name: 'ccr',
    package: '@musistudio/claude-code-router',
    // 3.1.1, the latest, requires Node >= 22; 2.0.0 is the latest that runs on Node 20.
    version: '2.0.0',
    pins: [],
    small: ['messages->chat'],
    large: ['messages->chat'],
    command({ prefix, port, mockUrl, clientKey }) {
      // Its config, pid file and logs live under $HOME/.claude-code-router: a home of its own in the temp folder.
      const home = join(prefix, 'home');
      mkdirSync(join(home, '.claude-code-router'), { recursive: true });
      mkdirSync(join(home, 'tmp'), { recursive: true });
      const config = {
        HOST: '127.0.0.1',
        PORT: port,
        APIKEY: clientKey,
        LOG: true,
        // Warn, as the stack runs in the bench; its default is debug.
        LOG_LEVEL: 'warn',
        Providers: [
          { name: 'mock', api_base_url: `${mockUrl}/v1/chat/completions`, api_key: 'up-1', models: ['bench-model'] },
        ],
        Router: { default: 'mock,bench-model' },
      };
      writeFileSync(join(home, '.claude-code-router/config.json'), JSON.stringify(config, null, 2));
      const entry = join(prefix, 'node_modules/@musistudio/claude-code-router/dist/cli.js');
      // `start` runs the server in the foreground (the process we measure); TMPDIR keeps its reference-count file out of /tmp.
      return { args: [entry, 'start'], env: { HOME: home, TMPDIR: join(home, 'tmp') } };
    },
    targets: (url, _mockUrl, clientKey) => ({
      'messages->chat': {
        origins: [url],
        path: FORMATS['messages->chat'].path,
        headers: { ...JSON_HEADERS, 'x-api-key': clientKey, 'anthropic-version': ANTHROPIC_VERSION },
      },
    }),
  },
];

const lastLine = (text) =>
  String(text ?? '')
    .trim()
    .split('\n')
    .filter((line) => line.trim() !== '')
    .at(-1)
    ?.trim()
    .slice(0, 200) ?? '';

/** npm's error in one line: its code and first message line (stderr also holds a stack and a log path). */
function npmError(stderr) {
  const lines = String(stderr ?? '')
    .split('\n')
    .filter((line) => line.startsWith('npm error '))
    .map((line) => line.slice('npm error '.length));
  const code = lines.find((line) => line.startsWith('code '))?.slice('code '.length);
  const message = lines.find((line) => !/^(code|syscall|errno) |^\s/.test(line));
  return [code, message].filter(Boolean).join(': ').slice(0, 200);
}

/** Why the installed package cannot run on this Node (its engines.node is `>=N...`), or undefined. */
function nodeTooOld(prefix, pkg) {
  const range = JSON.parse(readFileSync(join(prefix, 'node_modules', pkg, 'package.json'), 'utf8')).engines?.node;
  const min = /^>=\s*(\d+)/.exec(range ?? '')?.[1];
  const major = Number(process.versions.node.split('.')[0]);
  return min && major < Number(min) ? `needs Node ${range}, this is ${process.version}` : undefined;
}

/**
 * Installs every peer into a new temporary folder (before anything is measured, so the downloads
 * stay out of the figures). Returns them with `run`, which measures and prints.
 */
export function installPeers() {
  const dir = mkdtempSync(join(tmpdir(), 'cpa-bench-peers-'));
  console.log(`Peers: installing ${PEERS.map((p) => `${p.package}@${p.version}`).join(' and ')} into ${dir}`);
  const peers = PEERS.map((peer) => {
    const prefix = join(dir, peer.name);
    // --ignore-scripts: Portkey's only script is patch-package, whose patches its package does not ship.
    const result = spawnSync(
      'npm',
      [
        'install',
        '--prefix',
        prefix,
        '--no-audit',
        '--no-fund',
        '--ignore-scripts',
        '--save-exact',
        `${peer.package}@${peer.version}`,
        ...peer.pins,
      ],
      { cwd: dir, encoding: 'utf8', timeout: 300_000 },
    );
    if (result.status !== 0)
      return { ...peer, prefix, skipped: `npm install failed: ${npmError(result.stderr) || result.error?.message}` };
    return { ...peer, prefix, skipped: nodeTooOld(prefix, peer.package) };
  });
  return { dir, peers, run: (options) => runPeers(dir, peers, options) };
}

const freePort = () =>
  new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });

/** The environment without proxies: the peers' only upstream is the mock on 127.0.0.1. */
function peerEnv(extra) {
  const env = { ...process.env, ...extra };
  for (const name of ['HTTP_PROXY', 'HTTPS_PROXY', 'ALL_PROXY', 'http_proxy', 'https_proxy', 'all_proxy'])
    delete env[name];
  return env;
}

function stopProcess(child) {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((done) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
    child.once('exit', () => {
      clearTimeout(timer);
      done();
    });
    child.kill('SIGTERM');
  });
}

/** Starts a peer and waits until it answers HTTP; { error } with the end of its log when it does not. */
async function startPeer(peer, { mockUrl, clientKey }) {
  const port = await freePort();
  const { args, env } = peer.command({ prefix: peer.prefix, port, mockUrl, clientKey });
  const logFile = join(peer.prefix, 'peer.log');
  const log = openSync(logFile, 'a');
  const child = spawn(process.execPath, args, { cwd: peer.prefix, env: peerEnv(env), stdio: ['ignore', log, log] });
  closeSync(log);
  // Not left running if the bench dies on the way.
  const onExit = () => child.kill('SIGKILL');
  process.once('exit', onExit);
  const stop = () => {
    process.off('exit', onExit);
    return stopProcess(child);
  };
  const url = `http://127.0.0.1:${port}`;
  const until = Date.now() + 30_000;
  while (Date.now() < until) {
    if (child.exitCode !== null || child.signalCode !== null) {
      process.off('exit', onExit);
      return {
        error: `exited at start (${child.exitCode ?? child.signalCode}): ${lastLine(readFileSync(logFile, 'utf8'))}`,
      };
    }
    try {
      const res = await request(url, { headersTimeout: 1_000 });
      await res.body.dump();
      return { url, pid: child.pid, stop };
    } catch {
      await sleep(200);
    }
  }
  await stop();
  return { error: `not listening after 30 s: ${lastLine(readFileSync(logFile, 'utf8'))}` };
}

/** One request before a phase: why the target cannot carry this body (HTTP status and the start of the answer), or undefined. */
async function probe(target, body) {
  try {
    const res = await request(target.origins[0] + target.path, {
      method: 'POST',
      headers: target.headers,
      body,
      headersTimeout: 30_000,
      bodyTimeout: 30_000,
    });
    const text = await res.body.text();
    return res.statusCode === 200 ? undefined : `HTTP ${res.statusCode}: ${text.replace(/\s+/g, ' ').slice(0, 120)}`;
  } catch (err) {
    return `request failed: ${err.message}`;
  }
}

/** The bench's OpenAI chat small body as Anthropic messages (the same prompt; messages need max_tokens). */
const asMessages = (body) => JSON.stringify({ ...JSON.parse(body), max_tokens: 1024 });

const key = (system, format, phase) => `${system}|${format}|${phase}`;

/**
 * The small-body phases (`system.small` formats) and large-body phases (`system.large`) of one
 * system through `targets`, into `results`; `extra` goes to every measure() (which processes
 * to charge, whether Redis counts). Returns the peak RSS sampler's readings after each part.
 */
async function measureSystem(options, results, { system, small, large, targets, extra = {}, rss = () => undefined }) {
  const { measure, load, mockUrl, smallPhases, bodySizes, seconds, bodySeconds, bodyConcurrency, sizeLabel } = options;
  /**
   * The phases of one format, in order: a probe request first (a refusal skips the phase),
   * the first phase that runs after a warm-up of both paths (pools, JIT, caches, as the bench
   * does for the stack), and each result stored under its label.
   */
  const runPhases = async (format, phases, warmUp) => {
    const direct = {
      origins: [mockUrl],
      path: FORMATS[format].path,
      headers: { ...JSON_HEADERS, ...FORMATS[format].direct },
    };
    let warm = false;
    for (const { label, body, ...shape } of phases) {
      const skipped = await probe(targets[format], body);
      if (skipped) {
        results.set(key(system, format, label), { skipped });
        continue;
      }
      if (!warm) {
        await load({ ...direct, body, concurrency: warmUp.concurrency, seconds: 1 });
        await load({ ...targets[format], body, concurrency: warmUp.concurrency, seconds: warmUp.seconds });
        warm = true;
      }
      const row = await measure({
        label,
        directTarget: direct,
        gatewayTarget: targets[format],
        body,
        ...shape,
        ...extra,
      });
      results.set(key(system, format, label), row);
    }
  };
  for (const format of small) {
    const phases = smallPhases.map(([label, concurrency, stream, chatBody]) => ({
      label,
      body: format === 'chat' ? chatBody : asMessages(chatBody),
      concurrency,
      seconds,
      stream,
    }));
    await runPhases(format, phases, { concurrency: 8, seconds: 2 });
  }
  const smallRss = rss();
  for (const format of large) {
    const phases = bodySizes.map((size) => ({
      label: sizeLabel(size),
      body: conversationBody(FORMATS[format].body, size, { model: FORMATS[format].model }),
      concurrency: bodyConcurrency,
      seconds: bodySeconds,
    }));
    await runPhases(format, phases, { concurrency: bodyConcurrency, seconds: 1 });
  }
  return { small: smallRss, large: rss() };
}

/**
 * Measures the stack's messages->chat path, stops the stack, measures every peer, prints the
 * tables, removes the temporary folder. `options`: the bench's measure, load, peakRssMb, fmt and
 * sizeLabel, its phases and timings, the mock's URL, and the stack: its URLs, client key, stop(),
 * its rows already measured (small: OpenAI chat; large: OpenAI chat and Anthropic messages) and
 * its peak RSS readings after the small-body and the large-body phases.
 */
async function runPeers(dir, peers, options) {
  const { mockUrl, stack, peakRssMb } = options;
  const results = new Map();
  for (const row of stack.rows) results.set(key('stack', 'chat', row.label), row);
  for (const row of stack.bodyRows)
    results.set(key('stack', row.format === 'claude' ? 'messages' : 'chat', options.sizeLabel(row.size)), row);

  const stackMessages = {
    'messages->chat': {
      origins: stack.urls,
      path: FORMATS['messages->chat'].path,
      headers: { ...JSON_HEADERS, 'x-api-key': stack.clientKey, 'anthropic-version': ANTHROPIC_VERSION },
    },
  };
  await measureSystem(options, results, {
    system: 'stack',
    small: ['messages->chat'],
    large: ['messages->chat'],
    targets: stackMessages,
  });
  await stack.stop();

  const rss = { stack: { small: stack.smallRss, large: stack.largeRss } };
  for (const peer of peers) {
    if (peer.skipped) continue;
    const proc = await startPeer(peer, { mockUrl, clientKey: stack.clientKey });
    if (proc.error) {
      peer.skipped = proc.error;
      continue;
    }
    try {
      rss[peer.name] = await measureSystem(options, results, {
        system: peer.name,
        small: peer.small,
        large: peer.large,
        targets: peer.targets(proc.url, mockUrl, stack.clientKey),
        // The peer's one process; no Redis, which the peers do not use.
        extra: { processes: [{ name: peer.name, label: peer.name, pid: proc.pid }], redisPid: null },
        rss: () => peakRssMb(proc.pid),
      });
    } finally {
      await proc.stop();
    }
  }
  print(options, peers, results, rss);
  rmSync(dir, { recursive: true, force: true });
}

function print(options, peers, results, rss) {
  const { fmt, sizeLabel, smallPhases, bodySizes, seconds, bodySeconds, bodyConcurrency } = options;
  const title = (system) => {
    const peer = peers.find((p) => p.name === system);
    return peer ? `${peer.name} ${peer.version}` : system;
  };
  /** Who runs each format: the stack first, then the peers that take it. */
  const systemsFor = (format, part) => ['stack', ...peers.filter((p) => p[part].includes(format)).map((p) => p.name)];
  const row = (phase, system, format, result, stream) => {
    const who = `${title(system)} ${format}`.padEnd(30);
    // A peer that never ran has its reason on every row of its own.
    result ??= { skipped: peers.find((p) => p.name === system)?.skipped ?? 'not measured' };
    if (result.skipped) return `${phase.padEnd(22)} | ${who} | skipped: ${result.skipped}`;
    const { base, via } = result;
    return (
      `${phase.padEnd(22)} | ${who} | ${fmt(base.rps, 0).padStart(10)} | ${fmt(via.rps, 0).padStart(7)} | ${fmt(via.rps / base.rps).padStart(5)} | ` +
      `${fmt(base.p50)}/${fmt(via.p50)} (+${fmt(via.p50 - base.p50)})`.padEnd(26) +
      ' | ' +
      `${fmt(base.p99)}/${fmt(via.p99)} (+${fmt(via.p99 - base.p99)})`.padEnd(27) +
      ' | ' +
      (stream ? `${fmt(base.ttfb50)}/${fmt(via.ttfb50)} (+${fmt(via.ttfb50 - base.ttfb50)})` : '-').padEnd(25) +
      ' | ' +
      fmt(result.cpuPerReq, 3).padStart(10) +
      ` | ${base.errors}/${via.errors}`
    );
  };
  const header =
    'phase                  | system, format                 | direct rps | via rps | ratio | p50 direct/via (+added) ms | p99 direct/via (+added) ms  | ttfb p50 direct/via (+add) | CPU ms/req | errors';
  const rssLine = (part) => {
    const stackRss = rss.stack[part];
    const total = stackRss.reduce((sum, p) => sum + p.mb, 0);
    const path = stackRss
      .filter(({ name }) => name === 'gateway' || name === 'scheduler' || name.startsWith('executor'))
      .reduce((sum, p) => sum + p.mb, 0);
    const others = peers.map((p) => `${title(p.name)} ${rss[p.name] ? fmt(rss[p.name][part], 0) : '-'}`);
    return `peak RSS after the ${part}-body phases (MB): stack ${fmt(total, 0)} (${stackRss.length} processes; gateway + scheduler + executors ${fmt(path, 0)}), ${others.join(', ')}`;
  };

  console.log(
    `\nPeers (same mock, load generator and machine, this run; each peer one process on 127.0.0.1, measured with the stack stopped): ` +
      peers.map((p) => `${p.name} = ${p.package}@${p.version}`).join('; '),
  );
  console.log(
    'Formats: chat = OpenAI chat in and out; messages = Anthropic messages in and out; messages->chat = Anthropic messages in, OpenAI chat to the upstream. ' +
      "Each row against its own run of the mock alone just before it; CPU per request of the system's processes (the stack's with Redis).",
  );
  if (smallPhases.length > 0) {
    console.log(`\nSmall bodies (${seconds}s per phase)`);
    console.log(header);
    for (const [label, , stream] of smallPhases)
      for (const format of ['chat', 'messages->chat'])
        for (const system of systemsFor(format, 'small'))
          console.log(row(label, system, format, results.get(key(system, format, label)), stream));
    console.log(rssLine('small'));
  }
  console.log(`\nLarge bodies (concurrency ${bodyConcurrency}, not streamed, ${bodySeconds}s per phase)`);
  console.log(header);
  for (const format of ['chat', 'messages', 'messages->chat'])
    for (const size of bodySizes)
      for (const system of systemsFor(format, 'large'))
        console.log(row(sizeLabel(size), system, format, results.get(key(system, format, sizeLabel(size))), false));
  console.log(rssLine('large'));
}
