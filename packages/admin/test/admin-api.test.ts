// The admin listener against a real node: /metrics parsed as Prometheus text with
// counters that match what the test did, the sessions API with filters and paging, kick,
// nodes, health and readiness, with and without a bearer token.
import t from 'tap';
import http from 'node:http';
import parsePrometheusTextFormat, { type ParsedFamily } from 'parse-prometheus-text-format';
import { pino } from 'pino';
import { startAdminServer, isLoopback, GatehouseMetrics } from '../src/index.ts';
import { startAdminTier } from './helpers/admin-tier.ts';
import { imapLogin, pop3Login, type LineClient } from '@gatehouse/testkit';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function sample(families: ParsedFamily[], name: string, labels: Record<string, string> = {}): number {
  const f = families.find((x) => x.name === name);
  if (f === undefined) return Number.NaN;
  const hits = f.metrics.filter((m) => Object.entries(labels).every(([k, v]) => m.labels?.[k] === v));
  return hits.reduce((sum, m) => sum + Number(m.value ?? m.count ?? 0), 0);
}

/**
 * A histogram's observation count for the series matching `labels`, summed. Read from its
 * `_count` lines: parse-prometheus-text-format keeps a histogram's buckets but drops its
 * labels, so it cannot tell the series apart (it still checks the whole text parses).
 */
function histogramCount(text: string, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    const m = new RegExp(`^${name}_count(?:\\{(.*)\\})? (\\S+)$`).exec(line);
    if (m === null) continue;
    const got = Object.fromEntries([...(m[1] ?? '').matchAll(/([a-z_]+)="((?:[^"\\]|\\.)*)"/g)].map((x) => [x[1], x[2]]));
    if (Object.entries(labels).every(([k, v]) => got[k] === v)) sum += Number(m[2]);
  }
  return sum;
}

async function api(base: string, path: string, init: RequestInit & { token?: string } = {}): Promise<{ status: number; body: unknown; text: string; headers: Headers }> {
  const headers = new Headers(init.headers);
  if (init.token !== undefined) headers.set('Authorization', `Bearer ${init.token}`);
  if (init.body !== undefined) headers.set('Content-Type', 'application/json');
  const res = await fetch(`${base}${path}`, { ...init, headers });
  const text = await res.text();
  let body: unknown = null;
  try {
    body = JSON.parse(text);
  } catch {
    body = null;
  }
  return { status: res.status, body, text, headers: res.headers };
}

t.test('/metrics: parses as Prometheus text; logins, failures by reason, latencies, sessions and kicks match what happened', async (t) => {
  const tier = await startAdminTier(t);
  const clients: LineClient[] = [];
  t.teardown(() => {
    for (const c of clients) c.socket.destroy();
  });
  clients.push(await imapLogin(tier.imaps, tier.ca, 'alice', 'alice-secret'));
  clients.push(await imapLogin(tier.imaps, tier.ca, 'alice@example.com', 'alice-secret'));
  clients.push(await pop3Login(tier.pop3s, tier.ca, 'bob', 'bob-secret'));
  const bad = await imapLogin(tier.imaps, tier.ca, 'bob', 'wrong');
  clients.push(bad);
  t.match(bad.lines.at(-1), /^a NO \[AUTHENTICATIONFAILED\]/);
  const unknown = await pop3Login(tier.pop3s, tier.ca, 'nobody', 'whatever');
  clients.push(unknown);
  t.match(unknown.lines.at(-1), /^-ERR \[AUTH\]/);
  const idle = clients[1] as LineClient;
  idle.send('s SELECT INBOX');
  await idle.waitLine(/^s OK/);
  idle.send('i IDLE');
  await idle.waitLine(/^\+ /);

  const res = await api(tier.base, '/metrics');
  t.equal(res.status, 200);
  t.match(res.headers.get('content-type'), /^text\/plain; version=0\.0\.4/);
  const m = parsePrometheusTextFormat(res.text);
  t.equal(sample(m, 'gatehouse_connections_total', { protocol: 'imap' }), 3, 'three IMAP connections');
  t.equal(sample(m, 'gatehouse_connections_total', { protocol: 'pop3' }), 2, 'two POP3 connections');
  t.equal(sample(m, 'gatehouse_logins_total', { protocol: 'imap', vserver: 'default', backend: 'be1' }), 2);
  t.equal(sample(m, 'gatehouse_logins_total', { protocol: 'pop3', backend: 'be2' }), 1);
  t.equal(sample(m, 'gatehouse_login_failures_total', { protocol: 'imap', reason: 'bad-password' }), 1);
  t.equal(sample(m, 'gatehouse_login_failures_total', { protocol: 'pop3', reason: 'unknown-user' }), 1);
  t.equal(sample(m, 'gatehouse_login_failures_total'), 2, 'no other failure');
  t.equal(histogramCount(res.text, 'gatehouse_auth_duration_seconds', { result: 'ok' }), 3, 'auth latency observed per login');
  t.equal(histogramCount(res.text, 'gatehouse_auth_duration_seconds', { result: 'fail' }), 2);
  t.equal(histogramCount(res.text, 'gatehouse_backend_connect_duration_seconds', { result: 'ok' }), 3, 'one back-end connect per login');
  t.equal(histogramCount(res.text, 'gatehouse_directory_duration_seconds', { op: 'user' }), 5, 'one user lookup per attempt');
  t.equal(sample(m, 'gatehouse_directory_errors_total'), 0);
  t.equal(sample(m, 'gatehouse_sessions', { state: 'authenticated' }), 2, 'alice IMAP and bob POP3');
  t.equal(sample(m, 'gatehouse_sessions', { state: 'idle', protocol: 'imap', backend: 'be1' }), 1, 'alice in IDLE');
  t.equal(sample(m, 'gatehouse_sessions', { state: 'pre-auth' }), 2, 'the two refused connections stay open');
  t.ok(sample(m, 'gatehouse_client_bytes_total', { direction: 'in' }) > 0 && sample(m, 'gatehouse_client_bytes_total', { direction: 'out' }) > 0, 'bytes both ways');
  t.ok(Number.isFinite(sample(m, 'nodejs_eventloop_lag_seconds')), 'event-loop lag');
  const histogram = m.find((f) => f.name === 'gatehouse_auth_duration_seconds');
  t.equal(histogram?.type, 'HISTOGRAM');

  // Kick alice's IDLE session through the API; the kick shows in the counters.
  const sessions = await api(tier.base, '/api/v1/sessions?user=alice@example.com');
  const list = (sessions.body as { sessions: Array<{ id: string; state: string }> }).sessions;
  t.equal(list.length, 2);
  const kicked = await api(tier.base, `/api/v1/sessions/${list[1]?.id}`, { method: 'DELETE' });
  t.equal(kicked.status, 202);
  await Promise.race([clients[0]?.waitClosed(), clients[1]?.waitClosed()]);
  let after = parsePrometheusTextFormat((await api(tier.base, '/metrics')).text);
  for (let i = 0; i < 40 && sample(after, 'gatehouse_kicks_total') !== 1; i++) {
    await sleep(25);
    after = parsePrometheusTextFormat((await api(tier.base, '/metrics')).text);
  }
  t.equal(sample(after, 'gatehouse_kicks_total'), 1);
  t.equal(sample(after, 'gatehouse_sessions', { state: 'authenticated' }) + sample(after, 'gatehouse_sessions', { state: 'idle' }), 2, 'one logged-in session fewer');
});

t.test('admin API with a bearer token: 401 without it; sessions with filters and paging, one session, kick, nodes, health, readiness', async (t) => {
  const token = 'a-long-admin-token';
  const tier = await startAdminTier(t, { token });
  const alice = await imapLogin(tier.imaps, tier.ca, 'alice', 'alice-secret');
  const bob = await pop3Login(tier.pop3s, tier.ca, 'bob', 'bob-secret');
  const bob2 = await imapLogin(tier.imaps, tier.ca, 'bob', 'bob-secret');
  t.teardown(() => {
    for (const c of [alice, bob, bob2]) c.socket.destroy();
  });

  for (const path of ['/api/v1/sessions', '/metrics', '/health', '/api/v1/nodes']) {
    const none = await api(tier.base, path);
    t.equal(none.status, 401, `${path} without a token`);
    t.same(none.body, { error: { code: 'ERR_UNAUTHORIZED', message: 'a valid bearer token is required' } });
    t.equal(none.headers.get('www-authenticate'), 'Bearer realm="gatehouse"');
    t.equal((await api(tier.base, path, { token: 'wrong' })).status, 401, `${path} with a wrong token`);
  }

  const all = await api(tier.base, '/api/v1/sessions', { token });
  t.equal(all.status, 200);
  const body = all.body as { total: number; offset: number; limit: number; sessions: Array<Record<string, unknown>> };
  t.match(body, { total: 3, offset: 0, limit: 100 });
  t.match(body.sessions.find((s) => s['protocol'] === 'pop3'), { user: 'bob@example.com', backend: 'be2', vserver: 'default', remoteAddress: '127.0.0.1', remotePort: bob.socket.localPort, tls: 'TLSv1.3', state: 'authenticated' });
  const page = (await api(tier.base, '/api/v1/sessions?limit=1&offset=1', { token })).body as typeof body;
  t.match(page, { total: 3, offset: 1, limit: 1 });
  t.same(page.sessions, [body.sessions[1]], 'the second page of one');
  const bobs = (await api(tier.base, '/api/v1/sessions?user=Bob@Example.com&protocol=imap', { token })).body as typeof body;
  t.equal(bobs.total, 1, 'filters combine; the user is compared in lower case');
  t.equal((await api(tier.base, '/api/v1/sessions?backend=be1', { token })).body && ((await api(tier.base, '/api/v1/sessions?backend=be1', { token })).body as typeof body).total, 1);
  t.equal((await api(tier.base, '/api/v1/sessions?limit=0', { token })).status, 400);
  t.match((await api(tier.base, '/api/v1/sessions?limit=x', { token })).body, { error: { code: 'ERR_BAD_REQUEST' } });

  const id = String(body.sessions.find((s) => s['user'] === 'alice@example.com')?.['id']);
  const one = await api(tier.base, `/api/v1/sessions/${id}`, { token });
  t.equal(one.status, 200);
  t.match(one.body, { id, user: 'alice@example.com', protocol: 'imap' });
  t.match(await api(tier.base, '/api/v1/sessions/nosuch', { token }), { status: 404, body: { error: { code: 'ERR_NOT_FOUND' } } });
  t.match(await api(tier.base, '/api/v1/sessions', { token, method: 'POST' }), { status: 405, body: { error: { code: 'ERR_METHOD_NOT_ALLOWED' } } });
  t.match(await api(tier.base, '/nope', { token }), { status: 404 });

  // The node's session count is that of its last heartbeat (every 200 ms here).
  let nodes = await api(tier.base, '/api/v1/nodes', { token });
  for (let i = 0; i < 20 && (nodes.body as { nodes: Array<{ sessions: number }> }).nodes[0]?.sessions !== 3; i++) {
    await sleep(50);
    nodes = await api(tier.base, '/api/v1/nodes', { token });
  }
  t.match(nodes.body, { nodes: [{ node: tier.node.nodeId, sessions: 3 }] });
  t.match(await api(tier.base, '/health', { token }), { status: 200, body: { status: 'ok', node: tier.node.nodeId } });
  t.match(await api(tier.base, '/ready', { token }), { status: 200, body: { ready: true, checks: { directory: true, node: true } } });

  // Kick one session by id: the IMAP client reads the BYE.
  t.match(await api(tier.base, `/api/v1/sessions/${id}`, { token, method: 'DELETE' }), { status: 202, body: { kicked: [id] } });
  t.equal(await alice.waitLine(/^\* BYE/), '* BYE Administrator closed the session.');
  // Kick a user: both of bob's sessions end (POP3 closes, IMAP gets the custom text).
  const byUser = await api(tier.base, '/api/v1/kick', { token, method: 'POST', body: JSON.stringify({ user: 'bob@example.com', text: 'Maintenance.' }) });
  t.equal(byUser.status, 202);
  t.equal((byUser.body as { kicked: string[] }).kicked.length, 2);
  await Promise.all([bob.waitClosed(), bob2.waitClosed()]);
  t.equal(bob2.lines.at(-1), '* BYE Maintenance.');
  t.match(await api(tier.base, '/api/v1/kick', { token, method: 'POST', body: '[]' }), { status: 400, body: { error: { code: 'ERR_BAD_REQUEST' } } });
  t.match(await api(tier.base, '/api/v1/kick', { token, method: 'POST', body: '{"session":"nosuch"}' }), { status: 404 });

  // Redis down: not ready, and the registry routes say so.
  await tier.redis.stop();
  t.match(await api(tier.base, '/ready', { token }), { status: 503, body: { ready: false, checks: { directory: false } } });
  t.match(await api(tier.base, '/api/v1/sessions', { token }), { status: 503, body: { error: { code: 'ERR_DIRECTORY_UNAVAILABLE' } } });
  t.equal((await api(tier.base, '/health', { token })).status, 200, 'alive all the same');
});

t.test('admin API without a token answers on loopback; a non-loopback bind without a token is refused', async (t) => {
  const tier = await startAdminTier(t);
  t.match(await api(tier.base, '/api/v1/sessions'), { status: 200, body: { total: 0, sessions: [] } });
  // DNS rebinding: a page on evil.example resolving to 127.0.0.1 makes the browser send Host: evil.example.
  const rebound = await new Promise<number>((resolve, reject) => {
    const u = new URL('/api/v1/sessions', tier.base);
    const req = http.request({ host: u.hostname, port: u.port, path: u.pathname, headers: { host: `evil.example:${u.port}` } }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
    req.end();
  });
  t.equal(rebound, 401, 'a request addressed to a foreign host name is refused');
  t.ok(isLoopback('127.0.0.1') && isLoopback('::1') && isLoopback('localhost') && !isLoopback('0.0.0.0') && !isLoopback('10.0.0.1'));
  const metrics = new GatehouseMetrics({ processMetrics: false });
  t.teardown(() => metrics.close());
  await t.rejects(
    startAdminServer({ host: '0.0.0.0', port: 0, directory: tier.directory, nodeId: 'x', metrics, logger: pino({ level: 'silent' }) }),
    { code: 'ERR_ADMIN_TOKEN_REQUIRED' },
  );
});
