/**
 * The admin console driven by Debian's chromium (playwright-core) against a running stack,
 * through the gateway's /admin pass-through: sign in, every page shows what the stack
 * holds, every action changes what the management API reports. Screenshots of every page
 * land in test-results/console/. Without /usr/bin/chromium the suite is skipped.
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import OpenAI from 'openai';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditLogPage, CredentialList } from '@cpa/contracts/management-views';
import { TOKEN_FILE_SAMPLES, waitFor } from '@cpa/testing';
import { MANAGEMENT_SECRET, useStack } from './stack-fixture';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const SHOTS = resolve(__dirname, '../test-results/console');
const PROVIDER = 'con';
const MODEL = 'con-model';
const KEY_A = 'con-key-a';
const KEY_B = 'con-key-b';
const CLAUDE_KEY = 'sk-ant-api03-console-e2e-claude';
const TOKEN_FILE = 'claude-user@example.com.json';
const ADDED_KEY = 'sk-ant-api03-added-from-the-console';
/** The browser globals the page scripts below use (this suite compiles without the DOM library). */
interface BrowserScope {
  DataTransfer: new () => { items: { add(file: unknown): void } };
  DragEvent: new (type: string, init: Record<string, unknown>) => unknown;
  File: new (parts: string[], name: string, options: { type: string }) => unknown;
  sessionStorage: { length: number; setItem(key: string, value: string): void };
}

/** How long the UI and the API get to show a change (mirror every 2 s, UI polls). */
const SHOWN_MS = 20_000;

describe.skipIf(!existsSync(CHROMIUM))('the admin console in a browser', () => {
  const { stack, mock, openai, management } = useStack({
    families: ['openai-compat'],
    config: (upstream) => ({
      'openai-compatibility': [
        {
          name: PROVIDER,
          'base-url': `${upstream.url}/v1`,
          'api-key-entries': [{ 'api-key': KEY_A }, { 'api-key': KEY_B }],
          models: [{ name: MODEL, alias: MODEL }],
        },
      ],
      'claude-api-key': [{ 'api-key': CLAUDE_KEY, 'base-url': upstream.url }],
    }),
  });

  let browser: Browser;
  let page: Page;

  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox'] });
    const context = await browser.newContext({ viewport: { width: 1280, height: 860 }, acceptDownloads: true });
    page = await context.newPage();
    page.setDefaultTimeout(15_000);
  });
  afterAll(async () => {
    await browser?.close();
  });

  async function json<T>(path: string, init?: RequestInit): Promise<T> {
    const response = await management(path, init);
    expect(response.status, `${init?.method ?? 'GET'} ${path}`).toBeLessThan(300);
    return (await response.json()) as T;
  }

  const credentials = async () => (await json<CredentialList>('/credentials')).credentials;
  const credentialOfKey = async (section: string, apiKey: string) => {
    const list = await json<Record<string, { 'api-key': string; 'auth-index': string }[]>>(`/${section}`);
    return list[section].find((entry) => entry['api-key'] === apiKey)!['auth-index'];
  };

  const shot = (name: string) => page.screenshot({ path: resolve(SHOTS, `${name}.png`), fullPage: true });
  const go = async (label: string) => {
    // A dialog a failed test left open must not hide the navigation from the next one.
    if (await page.getByRole('dialog').count()) await page.keyboard.press('Escape');
    await page.getByRole('navigation').getByRole('link', { name: label }).click();
    await page.getByRole('heading', { level: 1, name: label }).waitFor();
  };
  const row = (text: string) => page.locator('tbody tr', { hasText: text }).first();

  it('is served through the gateway and signs in with the management secret', async () => {
    const response = await page.goto(`${stack.url}/admin`);
    expect(response?.status()).toBe(200);
    expect(page.url()).toBe(`${stack.url}/admin/`);
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
    await shot('sign-in');

    await page.getByLabel('Management secret').fill('not-the-secret');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('alert').filter({ hasText: 'not accepted' }).waitFor();

    await page.getByLabel('Management secret').fill(MANAGEMENT_SECRET);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { level: 1, name: 'Overview' }).waitFor();
    // The secret lives in this tab's session: a reload stays signed in.
    await page.reload();
    await page.getByRole('heading', { level: 1, name: 'Overview' }).waitFor();
  });

  it('shows every credential of the config on the overview and the credentials page', async () => {
    // A request through the gateway with the official SDK: it shows up in usage.
    const completion = await openai().chat.completions.create({
      model: MODEL,
      messages: [{ role: 'user', content: 'hello console' }],
    });
    expect(completion.choices[0].message.content).toBeTruthy();

    const list = await credentials();
    expect(list.map((c) => c.family).sort()).toEqual(['claude', 'openai-compat', 'openai-compat']);
    await page.getByRole('heading', { name: 'Credentials by state' }).waitFor();
    const activeTile = page.locator('.state-tile.state-active .state-count');
    await waitFor(
      async () => (await activeTile.textContent()) === String(list.filter((c) => c.status === 'active').length),
      SHOWN_MS,
      250,
    );
    await page.locator('tbody tr', { hasText: 'openai-compat' }).waitFor();

    await go('Credentials');
    for (const credential of list)
      await page.locator(`tr[data-credential="${credential.id}"]`, { hasText: 'Active' }).waitFor();
    await shot('credentials');
  });

  it('disables and enables a credential', async () => {
    const claude = await credentialOfKey('claude-api-key', CLAUDE_KEY);
    const claudeRow = page.locator(`tr[data-credential="${claude}"]`);
    await claudeRow.getByRole('button', { name: 'Disable' }).click();
    await claudeRow.getByText('Disabled', { exact: true }).waitFor();
    expect((await credentials()).find((c) => c.id === claude)).toMatchObject({ status: 'disabled', disabled: true });
    const file = (await json<{ files: { id: string; disabled: boolean }[] }>('/auth-files')).files.find(
      (f) => f.id === claude,
    );
    expect(file?.disabled).toBe(true);

    await claudeRow.getByRole('button', { name: 'Enable' }).click();
    await claudeRow.getByText('Active', { exact: true }).waitFor();
    expect((await credentials()).find((c) => c.id === claude)).toMatchObject({ status: 'active', disabled: false });
  });

  it('shows a cooldown with its reason and resets the quota', async () => {
    mock.setBehavior(KEY_B, { status: 429, retryAfterSeconds: 900 });
    // Until key B has refused one request (round-robin alternates); key A answers the client.
    await waitFor(
      async () => {
        await openai().chat.completions.create({
          model: MODEL,
          messages: [{ role: 'user', content: 'make b cool down' }],
        });
        return (mock.countByKey()[KEY_B] ?? 0) > 0;
      },
      SHOWN_MS,
      0,
    );
    const cooling = await waitFor(async () => (await credentials()).find((c) => c.status === 'cooling'), SHOWN_MS, 250);
    expect(cooling.family).toBe('openai-compat');
    expect(cooling.cooldowns).toEqual([expect.objectContaining({ model: MODEL, reason: 'quota exceeded (429)' })]);

    const coolingRow = page.locator(`tr[data-credential="${cooling.id}"]`);
    await coolingRow.getByText('Cooling down', { exact: true }).waitFor({ timeout: SHOWN_MS });
    await coolingRow.getByText('quota exceeded (429)').waitFor();
    await shot('credentials-cooling');

    mock.clearBehavior(KEY_B);
    await coolingRow.getByRole('button', { name: 'Reset quota' }).click();
    await waitFor(
      async () => (await credentials()).find((c) => c.id === cooling.id)?.status === 'active',
      SHOWN_MS,
      250,
    );
    await coolingRow.getByText('Active', { exact: true }).waitFor({ timeout: SHOWN_MS });

    // Requests today: the refused request counts for key B once the usage drain wrote it.
    const requestsToday = async () => (await credentials()).find((c) => c.id === cooling.id)?.requests_today ?? 0;
    await waitFor(async () => (await requestsToday()) > 0, SHOWN_MS, 250);
    await waitFor(
      async () => (
        await page.reload(),
        Number(await coolingRow.locator('td.num').first().textContent()) === (await requestsToday())
      ),
      SHOWN_MS,
      500,
    );
  });

  it('imports a token file by drag and drop, edits it and deletes it', async () => {
    const content = JSON.stringify(TOKEN_FILE_SAMPLES[TOKEN_FILE]);
    await page.getByTestId('token-drop').evaluate(
      (zone, [name, text]) => {
        const scope = globalThis as unknown as BrowserScope;
        const data = new scope.DataTransfer();
        data.items.add(new scope.File([text], name, { type: 'application/json' }));
        zone.dispatchEvent(
          new scope.DragEvent('drop', { dataTransfer: data, bubbles: true, cancelable: true }) as Parameters<
            typeof zone.dispatchEvent
          >[0],
        );
      },
      [TOKEN_FILE, content] as const,
    );
    await page.getByText(`Imported ${TOKEN_FILE}`).waitFor();
    const files = (await json<{ files: { name: string }[] }>('/auth-files')).files;
    expect(files.map((f) => f.name)).toContain(TOKEN_FILE);
    const imported = (await credentials()).find((c) => c.token_file === TOKEN_FILE)!;
    expect(imported).toBeDefined();

    const importedRow = page.locator(`tr[data-credential="${imported.id}"]`);
    await importedRow.getByRole('button', { name: 'Edit' }).click();
    const dialog = page.getByRole('dialog');
    await dialog.getByLabel('Priority').fill('7');
    await dialog.getByLabel('Prefix').fill('teamx');
    await dialog.getByRole('button', { name: 'Save' }).click();
    await dialog.waitFor({ state: 'detached' });
    expect((await credentials()).find((c) => c.id === imported.id)).toMatchObject({ priority: 7, prefix: 'teamx' });
    await importedRow.getByText('priority 7').waitFor();

    page.once('dialog', (confirm) => void confirm.accept());
    await importedRow.getByRole('button', { name: 'Delete' }).click();
    await importedRow.waitFor({ state: 'detached' });
    expect((await credentials()).some((c) => c.id === imported.id)).toBe(false);
  });

  it('adds an API-key credential', async () => {
    await page.getByRole('button', { name: 'Add API key' }).click();
    const dialog = page.getByRole('dialog');
    await dialog.locator('select[name="section"]').selectOption('claude-api-key');
    await dialog.getByLabel('API key').fill(ADDED_KEY);
    await dialog.getByLabel('Prefix').fill('added');
    await dialog.getByRole('button', { name: 'Add key' }).click();
    await dialog.waitFor({ state: 'detached' });
    const keys = (await json<{ 'claude-api-key': { 'api-key': string; prefix?: string }[] }>('/claude-api-key'))[
      'claude-api-key'
    ];
    expect(keys.map((k) => k['api-key']).sort()).toEqual([ADDED_KEY, CLAUDE_KEY].sort());
    expect(keys.find((k) => k['api-key'] === ADDED_KEY)?.prefix).toBe('added');
    await page.getByText('prefix added/').waitFor();
  });

  it('starts an OAuth login and shows the provider link', async () => {
    await page.getByRole('button', { name: 'OAuth login' }).click();
    const dialog = page.getByRole('dialog');
    await dialog.locator('select[name="route"]').selectOption('anthropic');
    await dialog.getByRole('button', { name: 'Get the login link' }).click();
    const link = dialog.locator('a[target="_blank"]');
    await link.waitFor();
    const href = await link.getAttribute('href');
    const state = new URL(href!).searchParams.get('state');
    expect(state).toBeTruthy();
    expect(await json<{ status: string }>(`/get-auth-status?state=${state}`)).toMatchObject({ status: 'wait' });
    await dialog.getByText('Waiting for the provider').waitFor();
    await dialog.getByRole('button', { name: 'Close' }).first().click();
  });

  it('creates a client key whose secret is shown once and works at the gateway, then disables it', async () => {
    await go('Client keys');
    await page.getByRole('button', { name: 'Create key' }).click();
    const dialog = page.getByRole('dialog');
    await dialog.getByLabel('Name').fill('ci-bot');
    await dialog.getByLabel('Allowed models').fill(`${MODEL}, con-*`);
    await dialog.getByLabel('Requests per minute').fill('60');
    await dialog.getByLabel('Daily token budget').fill('100000');
    await dialog.getByRole('button', { name: 'Create' }).click();
    const secret = (await page.getByTestId('new-key-secret').textContent())!;
    expect(secret.length).toBeGreaterThan(16);

    type KeyBody = {
      id: string;
      name: string;
      models: string[];
      rpm_limit: number;
      daily_token_budget: number;
      disabled: boolean;
      key_preview: string;
    };
    const listed = async () =>
      (await json<{ 'client-keys': KeyBody[] }>('/client-keys'))['client-keys'].find((k) => k.name === 'ci-bot');
    expect(await listed()).toMatchObject({
      models: [MODEL, 'con-*'],
      rpm_limit: 60,
      daily_token_budget: 100000,
      disabled: false,
    });
    expect(JSON.stringify(await json('/client-keys'))).not.toContain(secret);

    const asBot = new OpenAI({ apiKey: secret, baseURL: `${stack.url}/v1`, maxRetries: 0 });
    const answer = await waitFor(
      () => asBot.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'from the bot' }] }),
      SHOWN_MS,
      250,
    );
    expect(answer.choices[0].message.content).toBeTruthy();

    const keyRow = page.locator('tr[data-key="ci-bot"]');
    await keyRow.waitFor();
    await shot('client-keys');
    await keyRow.getByRole('button', { name: 'Disable' }).click();
    await keyRow.getByRole('button', { name: 'Enable' }).waitFor();
    expect((await listed())?.disabled).toBe(true);
  });

  it('changes routing settings', async () => {
    await go('Routing');
    const strategy = page.locator('[data-setting="strategy"]');
    await strategy.locator('select').selectOption('fill-first');
    await strategy.getByRole('button', { name: 'Save' }).click();
    await strategy.getByText('Saved').waitFor();
    expect(await json('/routing/strategy')).toEqual({ strategy: 'fill-first' });

    const retry = page.locator('[data-setting="request-retry"]');
    await retry.locator('input').fill('2');
    await retry.getByRole('button', { name: 'Save' }).click();
    await retry.getByText('Saved').waitFor();
    expect(await json('/request-retry')).toEqual({ 'request-retry': 2 });

    const affinity = page.locator('[data-setting="session-affinity"]');
    const before = (await json<{ 'session-affinity': boolean }>('/routing/session-affinity'))['session-affinity'];
    await affinity.locator('input[type="checkbox"]').click();
    await affinity.getByText('Saved').waitFor();
    expect(await json('/routing/session-affinity')).toEqual({ 'session-affinity': !before });
    await shot('routing');
  });

  it('lists the requests in usage and exports them as CSV', async () => {
    await go('Usage');
    const table = page.getByTestId('usage-table');
    await table.waitFor({ timeout: SHOWN_MS });
    const api = await json<{ requests: { model: string; status: number }[] }>('/usage/requests');
    expect(api.requests.some((r) => r.model === MODEL && r.status === 200)).toBe(true);
    await table.locator('tbody tr', { hasText: MODEL }).first().waitFor();

    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.getByRole('button', { name: 'Export CSV' }).click(),
    ]);
    const csv = readFileSync((await download.path())!, 'utf8');
    expect(csv.split('\n')[0]).toContain('latency_ms');
    expect(csv).toContain(MODEL);
    await shot('usage');

    await go('Overview');
    const totalRequests = async () =>
      (
        await json<{ totals: { requests: number } }>(
          `/usage/summary?bucket=hour&from=${new Date(Date.now() - 86_400_000).toISOString()}`,
        )
      ).totals.requests;
    expect(await totalRequests()).toBeGreaterThan(0);
    await page.getByRole('img', { name: 'Requests and errors per hour' }).waitFor({ timeout: SHOWN_MS });
    // The overview shows what the API counts (drained usage may still arrive: compare like with like).
    const requests = page
      .locator('.stat', { has: page.locator('.stat-label', { hasText: /^Requests$/ }) })
      .locator('.stat-value');
    await waitFor(
      async () => (
        await page.reload(),
        await requests.waitFor(),
        Number(await requests.textContent()) === (await totalRequests())
      ),
      SHOWN_MS,
      500,
    );
    await shot('overview');
  });

  it('shows the failed upstream exchange in the error logs', async () => {
    await go('Error logs');
    const listing = await json<{ files: { request_id: string; status: number }[] }>('/request-error-logs');
    const failed = listing.files.find((f) => f.status === 429);
    expect(failed).toBeDefined();
    const logRow = row(failed!.request_id);
    await logRow.getByRole('button', { name: 'Exchange' }).click();
    await page.getByText('Attempt 1').first().waitFor();
    expect(await page.locator('.exchange').textContent()).not.toContain(KEY_B);
    await shot('logs');
  });

  it('shows the audit log with before and after, and no secret', async () => {
    await go('Audit log');
    const strategyRow = row('routing.strategy');
    await strategyRow.waitFor();
    await strategyRow.locator('.before', { hasText: 'round-robin' }).waitFor();
    await strategyRow.locator('.after', { hasText: 'fill-first' }).waitFor();
    await row('credential.disable').waitFor();
    const text = (await page.locator('main').textContent()) ?? '';
    for (const secret of [ADDED_KEY, CLAUDE_KEY, KEY_A, KEY_B, MANAGEMENT_SECRET]) expect(text).not.toContain(secret);
    await shot('audit');
  });

  it('pages the audit log: the newest 50 entries, the older ones on request', async () => {
    // More changes than the page of 50 the console asks for (each PUT changes the value, so each is audited).
    const have = (await json<AuditLogPage>('/audit-log?limit=500')).entries.length;
    for (let i = 0; i <= 50 - have; i++)
      await json('/request-retry', { method: 'PUT', body: JSON.stringify({ value: i % 2 ? 3 : 4 }) });
    const all = (await json<AuditLogPage>('/audit-log?limit=500')).entries;
    expect(all.length).toBeGreaterThan(50);

    await page.getByRole('button', { name: 'Refresh' }).click();
    const rows = page.getByTestId('audit-table').locator('tbody tr');
    await waitFor(async () => (await rows.count()) === 50, SHOWN_MS, 250);
    expect(await rows.first().textContent()).toContain(all[0].action);
    await page.getByRole('button', { name: 'Load older entries' }).click();
    await waitFor(async () => (await rows.count()) === all.length, SHOWN_MS, 250);
    expect(await rows.last().textContent()).toContain(all.at(-1)!.action);
    await page.getByRole('button', { name: 'Load older entries' }).waitFor({ state: 'detached' });
  });

  it('signs out, and a refused secret returns to the sign-in page', async () => {
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
    expect(await page.evaluate(() => (globalThis as unknown as BrowserScope).sessionStorage.length)).toBe(0);

    // A secret that stops being accepted (rotated elsewhere): the next call's 401 signs out.
    await page.evaluate(() =>
      (globalThis as unknown as BrowserScope).sessionStorage.setItem('cpa.management-secret', 'rotated-away'),
    );
    await page.goto(`${stack.url}/admin/credentials`);
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
  });
});
