/**
 * Prometheus metrics through the real stack (issue 10 item 4): a known mix of requests with
 * the official SDKs (successes, a stream, a Claude message, an upstream 429 that fails over
 * to the other key, an OAuth token the upstream refuses and the refresh-worker renews, a
 * model nobody serves), then /metrics of every service, parsed with a Prometheus
 * text-format parser, changed by exactly what that mix implies. Counts are compared with a
 * scrape taken just before the mix, so the requests that wait for the stack to load the
 * OAuth login are not part of them.
 */
import parsePrometheusTextFormat, { type PrometheusFamily, type PrometheusSample } from 'parse-prometheus-text-format';
import { APIError } from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CredentialRepository, PrismaService, SecretBox } from '@cpa/db';
import { waitFor } from '@cpa/testing';
import { MockTokenServer } from '@cpa/testing';
import { announceCatalogChange, useStack } from './stack-fixture';

const METRICS_TOKEN = 'metrics-e2e-token';
/** Served by two openai-compatibility keys; the failover scenario has a provider of its own. */
const MODEL = 'm-metrics';
const FAILOVER_MODEL = 'm-failover';
const CLAUDE_MODEL = 'm-claude';
const OAUTH_MODEL = 'm-oauth';
const FAILOVER_KEYS = ['metrics-fo-key-0000000-a', 'metrics-fo-key-0000000-b'];
const INITIAL_TOKEN = 'sk-ant-oat-metrics-initial';
const REFRESHED_TOKEN = 'sk-ant-oat-metrics-refreshed';
const FAMILY = 'openai-compat';
const CHAT_ROUTE = '/v1/chat/completions';
const SERVICES = ['admin', 'scheduler', 'executor-claude', `executor-${FAMILY}`, 'refresh-worker', 'gateway'];

const tokens = new MockTokenServer();
// The token endpoint runs before the stack boots, as the services are told its URL.
beforeAll(async () => {
  await tokens.start();
  tokens.handler = () => ({
    status: 200,
    body: { access_token: REFRESHED_TOKEN, refresh_token: 'sk-ant-ort-metrics-rotated', expires_in: 28800 },
  });
});
afterAll(() => tokens.stop());

const { mock, stack, openai, anthropic } = useStack({
  config: (upstream) => ({
    'openai-compatibility': [
      {
        name: 'metrics',
        'base-url': `${upstream.url}/v1`,
        'api-key-entries': [{ 'api-key': 'metrics-key-000000000-a' }, { 'api-key': 'metrics-key-000000000-b' }],
        models: [{ name: 'upstream-metrics', alias: MODEL }],
      },
      {
        name: 'metricsfo',
        'base-url': `${upstream.url}/v1`,
        'api-key-entries': FAILOVER_KEYS.map((key) => ({ 'api-key': key })),
        models: [{ name: 'upstream-failover', alias: FAILOVER_MODEL }],
      },
    ],
    'claude-api-key': [
      {
        'api-key': 'metrics-claude-key-00000',
        'base-url': upstream.url,
        models: [{ name: 'claude-sonnet-4-5', alias: CLAUDE_MODEL }],
      },
    ],
  }),
  env: () => ({ METRICS_TOKEN, OAUTH_TOKEN_URL_CLAUDE: `${tokens.url}/claude` }),
  families: ['claude', FAMILY],
});

interface Scrape {
  text: string;
  families: PrometheusFamily[];
  /**
   * The same text with the histograms' TYPE lines dropped: the parser (prom2json's output
   * shape) folds a histogram into one sample and keeps it whole only when it has no labels,
   * so labelled histograms are read as their plain `_count` series.
   */
  flat: PrometheusFamily[];
}

/** Every service's HTTP port, from the READY line each prints (`<service> READY <service> port=N`). */
function servicePorts(): Map<string, number> {
  const ports = new Map<string, number>();
  for (const line of stack.logs) {
    const ready = /^(\S+) READY \S+ port=(\d+)$/.exec(line);
    if (ready) ports.set(ready[1]!, Number(ready[2]));
  }
  return ports;
}

async function scrape(port: number): Promise<Scrape> {
  const response = await fetch(`http://127.0.0.1:${port}/metrics`, {
    headers: { authorization: `Bearer ${METRICS_TOKEN}` },
  });
  expect(response.status).toBe(200);
  expect(response.headers.get('content-type')).toContain('text/plain');
  const text = await response.text();
  return {
    text,
    families: parsePrometheusTextFormat(text),
    flat: parsePrometheusTextFormat(text.replace(/^# TYPE \S+ histogram\n/gm, '')),
  };
}

async function scrapeAll(): Promise<Map<string, Scrape>> {
  const ports = servicePorts();
  return new Map(await Promise.all(SERVICES.map(async (name) => [name, await scrape(ports.get(name)!)] as const)));
}

function samples(
  scraped: Scrape,
  name: string,
  labels: Record<string, string> = {},
  from: 'families' | 'flat' = 'families',
): PrometheusSample[] {
  // Flat, a histogram's series come back as one family per run of lines: gather them all.
  const found = scraped[from].filter((f) => f.name === name).flatMap((f) => f.metrics);
  return found.filter((m) => Object.entries(labels).every(([k, v]) => m.labels?.[k] === v));
}

/** Sum of a counter's (or gauge's) samples matching `labels`. */
function total(scraped: Scrape, name: string, labels: Record<string, string> = {}): number {
  return samples(scraped, name, labels).reduce((sum, m) => sum + Number(m.value), 0);
}

/** Sum of a histogram's observation counts matching `labels`. */
function observations(scraped: Scrape, name: string, labels: Record<string, string> = {}): number {
  expect(scraped.families.find((f) => f.name === name)?.type, name).toBe('HISTOGRAM');
  return samples(scraped, `${name}_count`, labels, 'flat').reduce((sum, m) => sum + Number(m.value), 0);
}

/** What the mix below sent, filled in as it runs. */
const sent = { chat: 0, stream: 0, claude: 0, failover: 0, oauth: 0, unknown: 0 };
const requestsSent = () => Object.values(sent).reduce((a, b) => a + b, 0);

describe('metrics after a known mix of requests', () => {
  let before: Map<string, Scrape>;
  let after: Map<string, Scrape>;
  let prisma: PrismaService | undefined;

  beforeAll(async () => {
    // config.yaml has no OAuth logins: store one the way a login would, then tell every service.
    prisma = new PrismaService(stack.databaseUrl);
    await prisma.$connect();
    const login = await new CredentialRepository(prisma, SecretBox.fromEnv()).create({
      provider: 'claude',
      kind: 'oauth',
      label: 'claude login',
      source: 'e2e-login',
      baseUrl: mock.url,
      // Far from expiry: only the 401 can make the worker refresh it.
      expiresAt: new Date(Date.now() + 8 * 3_600_000),
      attributes: { models: [{ name: 'claude-sonnet-4-5', alias: OAUTH_MODEL }] },
      secret: { accessToken: INITIAL_TOKEN, refreshToken: 'sk-ant-ort-metrics-initial', tokenType: 'Bearer' },
    });
    await announceCatalogChange(stack, [login.id]);
    const warm = () =>
      anthropic().messages.create({
        model: OAUTH_MODEL,
        max_tokens: 16,
        messages: [{ role: 'user', content: 'warm up' }],
      });
    await waitFor(
      async () =>
        await warm().then(
          () => true,
          () => false,
        ),
      20_000,
      100,
    );
    before = await scrapeAll();

    const client = openai();
    for (let i = 0; i < 3; i++) {
      const answer = await client.chat.completions.create({
        model: MODEL,
        messages: [{ role: 'user', content: `metrics ${i}` }],
      });
      expect(answer.choices[0]!.message.content).toContain(`metrics ${i}`);
      sent.chat++;
    }
    const stream = await client.chat.completions.create({
      model: MODEL,
      stream: true,
      messages: [{ role: 'user', content: 'metrics stream' }],
    });
    let streamed = '';
    for await (const chunk of stream) streamed += chunk.choices[0]?.delta?.content ?? '';
    expect(streamed).toContain('metrics stream');
    sent.stream++;

    const message = await anthropic().messages.create({
      model: CLAUDE_MODEL,
      max_tokens: 64,
      messages: [{ role: 'user', content: 'metrics claude' }],
    });
    expect(message.content[0]).toMatchObject({ type: 'text' });
    sent.claude++;

    // One key answers 429: the request that lands on it fails over to the other; the key
    // then cools down for 600 s, so no later request tries it again.
    const [limited] = FAILOVER_KEYS;
    mock.setBehavior(limited!, { status: 429, retryAfterSeconds: 600 });
    for (let i = 0; i < 4 && !mock.countByKey()[limited!]; i++) {
      const answer = await client.chat.completions.create({
        model: FAILOVER_MODEL,
        messages: [{ role: 'user', content: `failover ${i}` }],
      });
      expect(answer.choices[0]!.message.content).toContain(`failover ${i}`);
      sent.failover++;
    }
    expect(mock.countByKey()[limited!]).toBe(1);

    // The upstream refuses the OAuth token once: the refresh-worker renews it on demand and
    // the executor repeats the call with the new one.
    mock.setBehavior(INITIAL_TOKEN, { status: 401, failTimes: 1 });
    const seen = mock.requests.length;
    const renewed = await anthropic().messages.create({
      model: OAUTH_MODEL,
      max_tokens: 64,
      messages: [{ role: 'user', content: 'after a refresh' }],
    });
    expect(renewed.content[0]).toMatchObject({ type: 'text', text: 'echo: after a refresh' });
    expect(mock.requests.slice(seen).map((r) => r.apiKey)).toEqual([INITIAL_TOKEN, REFRESHED_TOKEN]);
    sent.oauth++;

    // A model no credential serves: answered 404, and its name never becomes a label.
    const unknown = await client.chat.completions
      .create({ model: 'no-such-model-7f3a', messages: [{ role: 'user', content: 'x' }] })
      .catch((err: unknown) => err);
    expect(unknown).toBeInstanceOf(APIError);
    expect((unknown as APIError).status).toBe(404);
    sent.unknown++;

    expect([...servicePorts().keys()].sort()).toEqual([...SERVICES].sort());
    // The gateway counts a request as its answer ends; the scrape may come a moment before.
    const gatewayPort = servicePorts().get('gateway')!;
    const counted = () => total(before.get('gateway')!, 'cpa_gateway_requests_total');
    await waitFor(
      async () => total(await scrape(gatewayPort), 'cpa_gateway_requests_total') - counted() === requestsSent(),
      5_000,
    );
    after = await scrapeAll();
  });

  afterAll(() => prisma?.$disconnect());

  /** How much a counter grew during the mix; `observed`: how many observations a histogram gained. */
  const grew = (service: string, name: string, labels: Record<string, string> = {}) =>
    total(after.get(service)!, name, labels) - total(before.get(service)!, name, labels);
  const observed = (service: string, name: string, labels: Record<string, string> = {}) =>
    observations(after.get(service)!, name, labels) - observations(before.get(service)!, name, labels);
  /** Label sets of a counter whose value changed during the mix. */
  const changed = (service: string, name: string) => {
    const key = (m: PrometheusSample) => JSON.stringify(m.labels ?? {});
    const earlier = new Map(samples(before.get(service)!, name).map((m) => [key(m), Number(m.value)]));
    return samples(after.get(service)!, name)
      .filter((m) => Number(m.value) !== (earlier.get(key(m)) ?? 0))
      .map((m) => m.labels ?? {});
  };

  it('refuses a scrape without the METRICS_TOKEN on every service', async () => {
    for (const [name, port] of servicePorts()) {
      const response = await fetch(`http://127.0.0.1:${port}/metrics`);
      expect(response.status, name).toBe(401);
      expect(response.headers.get('www-authenticate'), name).toBe('Bearer');
    }
  });

  it('every service exposes process metrics under its own service label', () => {
    for (const [name, scraped] of after) {
      expect(samples(scraped, 'process_cpu_seconds_total', { service: name }), name).toHaveLength(1);
      expect(total(scraped, 'process_resident_memory_bytes', { service: name }), name).toBeGreaterThan(0);
      expect(samples(scraped, 'nodejs_eventloop_lag_p99_seconds', { service: name }), name).toHaveLength(1);
    }
  });

  it('the gateway counts requests by route, family, model and status, with one duration observation each', () => {
    const chat = { route: CHAT_ROUTE, family: FAMILY, model: MODEL };
    expect(grew('gateway', 'cpa_gateway_requests_total', { ...chat, status: '200' })).toBe(sent.chat + sent.stream);
    expect(
      grew('gateway', 'cpa_gateway_requests_total', {
        route: '/v1/messages',
        family: 'claude',
        model: CLAUDE_MODEL,
        status: '200',
      }),
    ).toBe(sent.claude);
    expect(
      grew('gateway', 'cpa_gateway_requests_total', {
        route: '/v1/messages',
        family: 'claude',
        model: OAUTH_MODEL,
        status: '200',
      }),
    ).toBe(sent.oauth);
    expect(
      grew('gateway', 'cpa_gateway_requests_total', {
        route: CHAT_ROUTE,
        family: FAMILY,
        model: FAILOVER_MODEL,
        status: '200',
      }),
    ).toBe(sent.failover);
    expect(
      grew('gateway', 'cpa_gateway_requests_total', {
        route: CHAT_ROUTE,
        family: 'none',
        model: 'other',
        status: '404',
      }),
    ).toBe(sent.unknown);
    // Nothing else was counted (no other status, no stray label combination).
    expect(changed('gateway', 'cpa_gateway_requests_total')).toHaveLength(5);
    expect(grew('gateway', 'cpa_gateway_requests_total')).toBe(requestsSent());
    expect(after.get('gateway')!.text).not.toContain('no-such-model');

    expect(observed('gateway', 'cpa_gateway_request_duration_seconds', chat)).toBe(sent.chat + sent.stream);
    expect(observed('gateway', 'cpa_gateway_request_duration_seconds', { model: FAILOVER_MODEL })).toBe(sent.failover);
    expect(observed('gateway', 'cpa_gateway_request_duration_seconds')).toBe(requestsSent());
  });

  it('executors count each upstream exchange by status, with time to first byte and attempt durations', () => {
    const executor = `executor-${FAMILY}`;
    expect(grew(executor, 'cpa_upstream_requests_total', { family: FAMILY, model: MODEL, status: '200' })).toBe(
      sent.chat + sent.stream,
    );
    expect(
      grew(executor, 'cpa_upstream_requests_total', { family: FAMILY, model: FAILOVER_MODEL, status: '429' }),
    ).toBe(1);
    expect(
      grew(executor, 'cpa_upstream_requests_total', { family: FAMILY, model: FAILOVER_MODEL, status: '200' }),
    ).toBe(sent.failover);
    expect(changed(executor, 'cpa_upstream_requests_total')).toHaveLength(3);
    // Every exchange that got an answer has its time to first byte; every attempt its duration.
    expect(observed(executor, 'cpa_upstream_time_to_first_byte_seconds', { model: MODEL })).toBe(
      sent.chat + sent.stream,
    );
    expect(observed(executor, 'cpa_upstream_time_to_first_byte_seconds', { model: FAILOVER_MODEL })).toBe(
      sent.failover + 1,
    );
    expect(observed(executor, 'cpa_upstream_attempt_duration_seconds', { model: MODEL })).toBe(sent.chat + sent.stream);
    expect(observed(executor, 'cpa_upstream_attempt_duration_seconds', { model: FAILOVER_MODEL })).toBe(
      sent.failover + 1,
    );

    // The OAuth request: two exchanges (401, then 200 with the new token) in one attempt.
    expect(
      grew('executor-claude', 'cpa_upstream_requests_total', { family: 'claude', model: CLAUDE_MODEL, status: '200' }),
    ).toBe(sent.claude);
    expect(
      grew('executor-claude', 'cpa_upstream_requests_total', { family: 'claude', model: OAUTH_MODEL, status: '401' }),
    ).toBe(1);
    expect(
      grew('executor-claude', 'cpa_upstream_requests_total', { family: 'claude', model: OAUTH_MODEL, status: '200' }),
    ).toBe(sent.oauth);
    expect(observed('executor-claude', 'cpa_upstream_time_to_first_byte_seconds', { model: OAUTH_MODEL })).toBe(2);
    expect(observed('executor-claude', 'cpa_upstream_attempt_duration_seconds', { model: OAUTH_MODEL })).toBe(
      sent.oauth,
    );
  });

  it('the scheduler counts the one failover, the quota cooldown it started, and every pick', () => {
    expect(grew('scheduler', 'cpa_scheduler_failovers_total', { family: FAMILY })).toBe(1);
    expect(grew('scheduler', 'cpa_scheduler_failovers_total')).toBe(1);
    expect(grew('scheduler', 'cpa_scheduler_retries_total')).toBe(0);
    expect(grew('scheduler', 'cpa_scheduler_cooldowns_total', { family: FAMILY, reason: 'quota' })).toBe(1);
    expect(grew('scheduler', 'cpa_scheduler_cooldowns_total')).toBe(1);
    // One pick per served request, one more for the failover; the unknown model needs none.
    const served = requestsSent() - sent.unknown;
    expect(observed('scheduler', 'cpa_scheduler_pick_duration_seconds', { outcome: 'picked' })).toBe(served + 1);
    expect(observed('scheduler', 'cpa_scheduler_pick_duration_seconds', { outcome: 'none' })).toBe(0);
  });

  it('the transport reports queue waits per pattern and the depth of each consumed queue', () => {
    expect(observed('scheduler', 'cpa_transport_queue_wait_seconds', { pattern: 'scheduler.dispatch' })).toBe(
      requestsSent(),
    );
    expect(observed('scheduler', 'cpa_transport_queue_wait_seconds', { pattern: 'scheduler.attempt-failed' })).toBe(1);
    expect(samples(after.get('scheduler')!, 'cpa_transport_queue_depth', { queue: 'scheduler' })).toHaveLength(1);
    const executor = `executor-${FAMILY}`;
    expect(observed(executor, 'cpa_transport_queue_wait_seconds', { pattern: `executor.${FAMILY}.execute` })).toBe(
      sent.chat + sent.stream + sent.failover + 1,
    );
    expect(samples(after.get(executor)!, 'cpa_transport_queue_depth', { queue: `executor.${FAMILY}` })).toHaveLength(1);
  });

  it('the refresh-worker counts the on-demand refresh and its outcome', () => {
    expect(grew('refresh-worker', 'cpa_refresh_total', { trigger: 'on_demand', outcome: 'refreshed' })).toBe(1);
    expect(changed('refresh-worker', 'cpa_refresh_total')).toHaveLength(1);
    expect(observed('refresh-worker', 'cpa_transport_queue_wait_seconds', { pattern: 'refresh-worker.refresh' })).toBe(
      1,
    );
  });
});
