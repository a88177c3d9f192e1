// The admin web page in a real browser (Debian's Chromium driven by playwright-core),
// against two real nodes sharing one Redis: the token form, a newly connected IMAP user
// appearing without reload, filter, sort, the load charts, and kick with confirmation
// ending that session (the IMAP client reads `* BYE`).
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t, { type Test } from 'tap';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { startAdminTier, startExtraNode } from './helpers/admin-tier.ts';
import { imapLogin, pop3Login } from '@gatehouse/testkit';

const CHROMIUM = '/usr/bin/chromium';
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const SCREENSHOT = process.env['GATEHOUSE_SCREENSHOT'] ?? path.join(tmpdir(), 'gatehouse-admin-page.png');

async function browser(t: Test): Promise<BrowserContext> {
  const profile = await mkdtemp(path.join(tmpdir(), 'gatehouse-chromium-'));
  const context = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, args: ARGS, viewport: { width: 1280, height: 900 } });
  t.teardown(async () => {
    await context.close();
    await rm(profile, { recursive: true, force: true });
  });
  return context;
}

async function rowUsers(page: Page): Promise<Array<string | null>> {
  const rows = page.locator('#sessions tbody tr');
  const out: Array<string | null> = [];
  for (let i = 0; i < (await rows.count()); i++) out.push(await rows.nth(i).getAttribute('data-user'));
  return out;
}

t.test('page: token form, a new IMAP user shows without reload, filter and sort, charts, kick with confirmation sends * BYE', async (t) => {
  const token = 'page-token';
  const tier = await startAdminTier(t, { token });
  const nodeB = await startExtraNode(t, tier);
  const context = await browser(t);
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('console', (m) => {
    // The 401s of the token form's first tries are expected.
    if (m.type() === 'error' && !/status of 401/.test(m.text())) errors.push(m.text());
  });

  const res = await page.goto(tier.base);
  t.equal(res?.status(), 200);
  t.match(res?.headers()['content-security-policy'], /script-src 'self'/);
  // Wrong token first: the form says so.
  await page.fill('#token', 'wrong');
  await page.click('#login-form button[type=submit]');
  await page.waitForSelector('#login-error:text("That token was refused.")');
  await page.fill('#token', token);
  await page.click('#login-form button[type=submit]');
  await page.waitForSelector('#status.on');
  t.equal(await page.evaluate(() => sessionStorage.getItem('gatehouse.adminToken')), token, 'the token is kept in sessionStorage');
  t.equal(await page.locator('#sessions tbody tr').count(), 0);

  // Users connect after the page loaded: they appear without reload.
  const bob = await pop3Login(nodeB.pop3s, tier.ca, 'bob', 'bob-secret');
  const alice = await imapLogin(tier.imaps, tier.ca, 'alice', 'alice-secret');
  t.teardown(() => {
    alice.socket.destroy();
    bob.socket.destroy();
  });
  const aliceRow = page.locator('tr[data-user="alice@example.com"]');
  await aliceRow.waitFor();
  await page.locator('tr[data-user="bob@example.com"]').waitFor();
  const cells = await aliceRow.locator('td').allTextContents();
  t.same(cells.slice(0, 7), ['alice@example.com', `127.0.0.1:${alice.socket.localPort}`, 'imap', 'TLSv1.3', 'default', tier.node.nodeId, 'be1']);
  t.match(await page.locator('#count').textContent(), '2');

  // Filter and sort.
  await page.fill('#filter', 'pop3');
  await aliceRow.waitFor({ state: 'detached' });
  t.equal(await page.locator('#sessions tbody tr').getAttribute('data-user'), 'bob@example.com');
  t.equal(await page.locator('#count').textContent(), '1 of 2');
  await page.fill('#filter', '');
  await aliceRow.waitFor();
  await page.click('th[data-key=user]');
  await page.locator('th[data-key=user][aria-sort=ascending]').waitFor();
  t.same(await rowUsers(page), ['alice@example.com', 'bob@example.com']);
  await page.click('th[data-key=user]');
  await page.locator('th[data-key=user][aria-sort=descending]').waitFor();
  t.same(await rowUsers(page), ['bob@example.com', 'alice@example.com']);

  // The charts draw a line per node and per back-end from the load events.
  await page.locator('#chart-nodes path.series').nth(1).waitFor({ state: 'attached' });
  await page.locator('#chart-backends path.series').nth(1).waitFor({ state: 'attached' });
  await page.locator('#legend-backends span', { hasText: 'be1 (1)' }).waitFor();
  await page.screenshot({ path: SCREENSHOT, fullPage: true });

  // Kick: cancel first (nothing happens), then confirm.
  await aliceRow.locator('button.kick').click();
  await page.locator('#confirm').waitFor({ state: 'visible' });
  t.match(await page.locator('#confirm-text').textContent(), /End the IMAP session of alice@example\.com from 127\.0\.0\.1:\d+ on node-/);
  await page.click('#confirm-cancel');
  await page.locator('#confirm').waitFor({ state: 'hidden' });
  t.equal(alice.closedAt, null, 'cancel leaves the session alone');
  await aliceRow.locator('button.kick').click();
  await page.click('#confirm-kick');
  t.equal(await alice.waitLine(/^\* BYE/), '* BYE Administrator closed the session.');
  await alice.waitClosed();
  await aliceRow.waitFor({ state: 'detached' });
  await page.locator('#events li.ev-kick').first().waitFor();
  t.equal(await page.locator('#sessions tbody tr').count(), 1, 'bob remains');
  t.equal(bob.closedAt, null);
  t.same(errors, [], 'no script errors');
});

t.test('page: the static files are served without the token, nothing else is', async (t) => {
  const tier = await startAdminTier(t, { token: 'x-token', feed: false });
  for (const p of ['/', '/app.js', '/style.css']) {
    const res = await fetch(`${tier.base}${p}`);
    t.equal(res.status, 200, p);
    t.equal(res.headers.get('x-content-type-options'), 'nosniff');
  }
  t.equal((await fetch(`${tier.base}/app.js`, { method: 'POST' })).status, 401);
  t.equal((await fetch(`${tier.base}/api/v1/sessions`)).status, 401);
  t.equal((await fetch(`${tier.base}/api/v1/kick`, { method: 'POST', body: '{"user":"alice@example.com"}', headers: { Authorization: 'Bearer x-token', 'Content-Type': 'text/plain' } })).status, 400, 'a JSON body only as application/json (no cross-site form posts)');
});
