// `pnpm bench`: one run measures a direct TLS connection to a Dovecot store and the same
// through a Gatehouse node (a separate `gatehouse serve` process), and prints logins/s,
// FETCH MB/s, NOOP latency and memory per idle session with ratios and targets.
// `--json` prints the same figures for machines. Targets are reported, never enforced.
import { execFile } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { promisify, parseArgs } from 'node:util';
import { removeDir, tmpDir } from '@gatehouse/testkit';
import { Cleanup } from './cleanup.ts';
import { FAST_USER, KEY_PREFIX, DOMAIN, SCRYPT_USER, startEnvironment, type BackendTls, type Environment } from './environment.ts';
import { fdsNeeded, readFdLimits, reexecWithFdLimit, sessionsWithin } from './fd-limit.ts';
import { startGatehouseProcess, type GatehouseProcess } from './gatehouse-process.ts';
import type { TlsTarget } from './imap-client.ts';
import { fillMailbox, measureFetch, measureIdleMemory, measureLogins, measureNoop, type FillResult } from './phases.ts';
import { latencyRow, memoryRow, renderTable, throughputRow, TARGETS, type Row } from './report.ts';

const usage = `usage: pnpm bench [-- options]
  --json                    print JSON instead of the table
  --only PHASES             run only these phases, comma-separated: logins, fetch, noop, memory (default all)
  --logins N                login cycles per side (default 400; also capped by --login-seconds)
  --login-seconds S         time cap per login measurement (default 6)
  --login-concurrency N     logins in flight (default 4)
  --messages N              messages in the FETCH mailbox (default 200)
  --message-kib N           size of each message in KiB (default 256)
  --fetch-passes N          timed FETCH passes per side (default 5)
  --noops N                 sequential NOOPs per side (default 2000)
  --sessions N              idle sessions for the memory figure (default 2000)
  --session-concurrency N   logins in flight while opening them (default 50)
  --idle-seconds S          after opening them, also read the node's RSS after S s idle, no GC asked (default 60; 0: not read)
  --backend-tls MODE        Gatehouse to Dovecot: none (TLS offload, default), starttls, implicit
  --node-option OPT         a Node/V8 option for the Gatehouse nodes only, e.g. --node-option=--max-semi-space-size=16 (repeatable)`;

const RUN_TIMEOUT_MS = 10 * 60_000;

const PHASES = ['logins', 'fetch', 'noop', 'memory'] as const;
type Phase = (typeof PHASES)[number];

type Settings = {
  json: boolean;
  phases: ReadonlySet<Phase>;
  logins: number;
  loginSeconds: number;
  loginConcurrency: number;
  messages: number;
  messageKiB: number;
  fetchPasses: number;
  noops: number;
  sessions: number;
  sessionConcurrency: number;
  idleSeconds: number;
  backendTls: BackendTls;
  nodeOptions: string[];
};

function parseSettings(argv: string[]): Settings | undefined {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      json: { type: 'boolean', default: false },
      only: { type: 'string', default: PHASES.join(',') },
      help: { type: 'boolean', short: 'h', default: false },
      logins: { type: 'string', default: '400' },
      'login-seconds': { type: 'string', default: '6' },
      'login-concurrency': { type: 'string', default: '4' },
      messages: { type: 'string', default: '200' },
      'message-kib': { type: 'string', default: '256' },
      'fetch-passes': { type: 'string', default: '5' },
      noops: { type: 'string', default: '2000' },
      sessions: { type: 'string', default: '2000' },
      'session-concurrency': { type: 'string', default: '50' },
      'idle-seconds': { type: 'string', default: '60' },
      'backend-tls': { type: 'string', default: 'none' },
      'node-option': { type: 'string', multiple: true, default: [] },
    },
  });
  if (values.help) return undefined;
  const int = (name: string, v: string, min: number, max: number): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min || n > max) throw new UsageError(`--${name} must be an integer in ${min}..${max}`);
    return n;
  };
  const phases = new Set<Phase>();
  for (const name of values.only.split(',')) {
    const phase = PHASES.find((p) => p === name.trim());
    if (phase === undefined) throw new UsageError(`--only takes a comma-separated list of ${PHASES.join(', ')}`);
    phases.add(phase);
  }
  const tlsMode = values['backend-tls'];
  if (tlsMode !== 'none' && tlsMode !== 'starttls' && tlsMode !== 'implicit') throw new UsageError('--backend-tls must be none, starttls or implicit');
  return {
    json: values.json,
    phases,
    logins: int('logins', values.logins, 1, 100_000),
    loginSeconds: int('login-seconds', values['login-seconds'], 1, 120),
    loginConcurrency: int('login-concurrency', values['login-concurrency'], 1, 64),
    messages: int('messages', values.messages, 1, 5000),
    messageKiB: int('message-kib', values['message-kib'], 4, 16_384),
    fetchPasses: int('fetch-passes', values['fetch-passes'], 1, 20),
    noops: int('noops', values.noops, 10, 1_000_000),
    sessions: int('sessions', values.sessions, 1, 50_000),
    sessionConcurrency: int('session-concurrency', values['session-concurrency'], 1, 500),
    idleSeconds: int('idle-seconds', values['idle-seconds'], 0, 3600),
    backendTls: tlsMode,
    nodeOptions: values['node-option'].map((o) => {
      if (!/^--[a-z0-9-]+(=\S+)?$/.test(o)) throw new UsageError(`--node-option takes one option such as --max-semi-space-size=16, not ${JSON.stringify(o)}`);
      return o;
    }),
  };
}

class UsageError extends Error {}

const t0 = Date.now();
function progress(msg: string): void {
  process.stderr.write(`[bench ${((Date.now() - t0) / 1000).toFixed(1).padStart(5)}s] ${msg}\n`);
}

async function dovecotVersion(): Promise<string> {
  try {
    const { stdout } = await promisify(execFile)('/usr/sbin/dovecot', ['--version']);
    return stdout.trim();
  } catch {
    return 'unknown';
  }
}

/** Log tails printed when the run fails (before the services and their logs are removed). */
type Diagnostics = Array<{ name: string; tail: () => Promise<string> | string }>;

async function run(settings: Settings, cleanup: Cleanup, diagnostics: Diagnostics): Promise<void> {
  const notes: string[] = [];

  // File descriptors: the node needs two per session, the bench one.
  const limits = readFdLimits();
  const wanted = settings.sessions;
  if (limits.soft < fdsNeeded(wanted)) {
    settings.sessions = Math.max(1, sessionsWithin(limits.soft));
    const msg = `fd limit ${limits.soft} (hard ${limits.hard}) < ${fdsNeeded(wanted)} needed: idle sessions scaled down from ${wanted} to ${settings.sessions}`;
    progress(msg);
    notes.push(msg);
  }

  const repoRoot = path.resolve(import.meta.dirname, '..', '..', '..');
  const workDir = await tmpDir('gatehouse-bench');
  cleanup.add('work dir', () => removeDir(workDir));

  progress('starting Redis and Dovecot');
  const env: Environment = await startEnvironment(cleanup, { sessions: settings.sessions, backendTls: settings.backendTls });
  diagnostics.push({ name: 'dovecot log', tail: async () => (await env.dovecot.readLog()).split('\n').slice(-25).join('\n') });
  const direct: TlsTarget = { host: env.dovecot.host, port: env.dovecot.imapsPort, servername: env.dovecot.tlsServername, ca: env.dovecot.caPem };

  const startNode = async (label: string, gcHook = false, authCacheTtlMs?: number): Promise<{ node: GatehouseProcess; through: TlsTarget }> => {
    const node = await startGatehouseProcess({
      gcHook,
      nodeOptions: settings.nodeOptions,
      ...(authCacheTtlMs === undefined ? {} : { authCacheTtlMs }),
      repoRoot,
      workDir,
      redisUrl: env.redis.url,
      keyPrefix: KEY_PREFIX,
      defaultDomain: DOMAIN,
      certPem: env.gatehouseCert.certPem,
      keyPem: env.gatehouseCert.keyPem,
    });
    cleanup.add(label, () => node.stop());
    diagnostics.push({ name: `${label} output`, tail: () => node.output().split('\n').slice(-25).join('\n') });
    progress(`gatehouse node (${label}) pid ${node.pid} on 127.0.0.1:${node.port}`);
    return { node, through: { host: node.host, port: node.port, servername: 'localhost', ca: env.gatehouseCert.certPem } };
  };
  const { phases } = settings;
  const rows: Row[] = [];
  const raw: Record<string, unknown> = {};
  const phaseNotes: string[] = [];

  if (phases.has('logins') || phases.has('fetch') || phases.has('noop')) {
    const { through } = await startNode('gatehouse');

    // 2 (setup). The large mailbox, appended once, directly.
    let fill: FillResult | undefined;
    if (phases.has('fetch')) {
      progress(`appending ${settings.messages} x ${settings.messageKiB} KiB to ${SCRYPT_USER.name} (direct)`);
      fill = await fillMailbox(direct, SCRYPT_USER, { messages: settings.messages, messageBytes: settings.messageKiB * 1024 }, progress);
      progress(`  ${(fill.totalBytes / 1048576).toFixed(0)} MiB appended in ${fill.seconds.toFixed(1)} s`);
    }

    // 1. Logins per second.
    if (phases.has('logins')) {
      const loginOpts = { count: settings.logins, concurrency: settings.loginConcurrency, maxSeconds: settings.loginSeconds };
      progress(`logins: direct (${settings.loginConcurrency} in flight, up to ${settings.logins} or ${settings.loginSeconds} s)`);
      const direct1 = await measureLogins(direct, SCRYPT_USER, loginOpts);
      progress(`  direct ${direct1.perSecond.toFixed(1)}/s; through Gatehouse, scrypt hash`);
      // Reconnects of a known client hit the node's verified-password cache; a node with the
      // cache off shows what every first login costs (one scrypt each).
      const loginScrypt = await measureLogins(through, SCRYPT_USER, loginOpts);
      progress(`  through (scrypt, cache warm) ${loginScrypt.perSecond.toFixed(1)}/s; a node with the cache off`);
      const cold = await startNode('gatehouse-cold', false, 0);
      const loginScryptCold = await measureLogins(cold.through, SCRYPT_USER, loginOpts);
      await cleanup.runOne('gatehouse-cold');
      progress(`  through (scrypt, no cache) ${loginScryptCold.perSecond.toFixed(1)}/s; through Gatehouse, SSHA512 hash`);
      const loginFast = await measureLogins(through, FAST_USER, loginOpts);
      progress(`  through (ssha512) ${loginFast.perSecond.toFixed(1)}/s`);
      rows.push(
        throughputRow('logins_per_s_scrypt', 'Logins/s (scrypt hash, reconnects: cache warm)', '1/s', direct1.perSecond, loginScrypt.perSecond),
        throughputRow('logins_per_s_scrypt_cold', 'Logins/s (scrypt hash, every login hashed)', '1/s', direct1.perSecond, loginScryptCold.perSecond),
        throughputRow('logins_per_s_ssha512', 'Logins/s (SSHA512 hash in directory)', '1/s', direct1.perSecond, loginFast.perSecond),
      );
      raw['logins'] = { direct: direct1, scrypt: loginScrypt, scryptCold: loginScryptCold, ssha512: loginFast };
      phaseNotes.push(
        `Logins: ${settings.loginConcurrency} in flight; cycles timed direct ${direct1.logins} in ${direct1.seconds.toFixed(1)} s, ` +
          `scrypt warm ${loginScrypt.logins} in ${loginScrypt.seconds.toFixed(1)} s, scrypt cold ${loginScryptCold.logins} in ${loginScryptCold.seconds.toFixed(1)} s, ssha512 ${loginFast.logins} in ${loginFast.seconds.toFixed(1)} s ` +
          `(mean cycle ${direct1.meanMs.toFixed(1)} / ${loginScrypt.meanMs.toFixed(1)} / ${loginFast.meanMs.toFixed(1)} ms).`,
      );
    }

    // 2. FETCH throughput.
    if (phases.has('fetch') && fill !== undefined) {
      const mailBytes = settings.messages * settings.messageKiB * 1024;
      progress(`FETCH 1:* BODY.PEEK[]: ${settings.fetchPasses} timed passes per side`);
      const fetch = await measureFetch({ direct, through }, SCRYPT_USER, { passes: settings.fetchPasses, mailBytes }, progress);
      rows.push(throughputRow('fetch_mb_per_s', 'FETCH 1:* BODY.PEEK[] throughput', 'MB/s', fetch.direct.medianMBps, fetch.through.medianMBps));
      raw['fill'] = fill;
      raw['fetch'] = fetch;
      phaseNotes.push(
        `FETCH: ${settings.messages} x ${settings.messageKiB} KiB, ${(fetch.direct.bytesPerPass / 1e6).toFixed(1)} MB per pass; median of ${settings.fetchPasses} passes ` +
          `(direct ${fetch.direct.passes.map((p) => p.mbPerSecond.toFixed(0)).join('/')}, gatehouse ${fetch.through.passes.map((p) => p.mbPerSecond.toFixed(0)).join('/')} MB/s).`,
      );
    }

    // 3. NOOP round trips.
    if (phases.has('noop')) {
      progress(`NOOP: ${settings.noops} sequential per side`);
      const noopOpts = { count: settings.noops, warmup: Math.min(200, settings.noops) };
      const noopDirect = await measureNoop(direct, SCRYPT_USER, noopOpts);
      const noopThrough = await measureNoop(through, SCRYPT_USER, noopOpts);
      progress(`  p99 direct ${noopDirect.p99Ms.toFixed(3)} ms, through ${noopThrough.p99Ms.toFixed(3)} ms`);
      rows.push(
        latencyRow('noop_p50_ms', 'NOOP round trip p50', noopDirect.p50Ms, noopThrough.p50Ms, false),
        latencyRow('noop_p99_ms', 'NOOP round trip p99', noopDirect.p99Ms, noopThrough.p99Ms, true),
      );
      raw['noop'] = { direct: noopDirect, gatehouse: noopThrough };
      phaseNotes.push(
        `NOOP: ${settings.noops} sequential on one session; mean ${noopDirect.meanMs.toFixed(3)} / ${noopThrough.meanMs.toFixed(3)} ms, ` +
          `max ${noopDirect.maxMs.toFixed(3)} / ${noopThrough.maxMs.toFixed(3)} ms (direct / gatehouse).`,
      );
    }
    await cleanup.runOne('gatehouse');
  }

  // 4. Memory per idle session, on a fresh node so earlier phases leave nothing behind.
  if (phases.has('memory')) {
    // Started with the bench's GC hook (--expose-gc and SIGUSR2/SIGWINCH handlers), so the
    // figure can be read with the garbage of opening the sessions collected as well as
    // without, and the node's heap reported.
    const fresh = await startNode('gatehouse-memory', true);
    progress(`idle sessions: ${settings.sessions} through a fresh node`);
    const memory = await measureIdleMemory(
      fresh.through,
      FAST_USER,
      () => fresh.node.rssKiB(),
      {
        sessions: settings.sessions,
        concurrency: settings.sessionConcurrency,
        warmup: 100,
        settleMs: 1500,
        idleSeconds: settings.idleSeconds,
        collectGarbage: () => fresh.node.collectGarbage(),
        memoryUsage: () => fresh.node.memoryUsage(),
      },
      progress,
    );
    await cleanup.runOne('gatehouse-memory');
    rows.push(
      ...(memory.perSessionAfterGcKiB === null
        ? [memoryRow(memory.perSessionKiB, memory.sessions, 'no-gc-available')]
        : [memoryRow(memory.perSessionAfterGcKiB, memory.sessions, 'after-gc'), memoryRow(memory.perSessionKiB, memory.sessions, 'before-gc')]),
      ...(memory.perSessionIdleKiB === null ? [] : [memoryRow(memory.perSessionIdleKiB, memory.sessions, 'idle', settings.idleSeconds)]),
    );
    raw['memory'] = memory;
    const grew = (k: number | null, more = ''): string => (k === null ? '' : ` (+${k - memory.baselineKiB} KiB${more})`);
    const lastIdle = memory.idleSamples.at(-1);
    const young = memory.idleUsage?.newSpace ?? 0;
    const idleHeap =
      memory.idleUsage === null
        ? ''
        : `; V8 heap ${mib(memory.idleUsage.heapTotal)} MiB, of which young generation ${mib(young)} MiB, ${kib(young / 1024 / memory.sessions)} KiB per session at this count`;
    const split = memory.perSessionSplitKiB;
    phaseNotes.push(
      `Memory: node VmRSS ${memory.baselineKiB} KiB before (after a full GC; ${memory.baselineBeforeGcKiB} KiB before it); with ${memory.sessions} idle logged-in TLS sessions ` +
        `(opened in ${memory.openSeconds.toFixed(1)} s, ${settings.sessionConcurrency} at a time): ${memory.loadedKiB} KiB 1.5 s after the last login${grew(memory.loadedKiB)}` +
        `${lastIdle === undefined ? '' : `, ${lastIdle.kib} KiB after ${settings.idleSeconds} s idle${grew(lastIdle.kib, idleHeap)}`}` +
        `${memory.loadedAfterGcKiB === null ? '' : `, ${memory.loadedAfterGcKiB} KiB after a full GC${grew(memory.loadedAfterGcKiB)}`}` +
        `${memory.loadedAfterGcUsage === null ? '' : ` (young generation ${mib(memory.loadedAfterGcUsage.newSpace)} MiB)`}; ${memory.afterCloseKiB} KiB after closing them.` +
        `${split === null ? '' : ` Per session after GC: JS heap ${kib(split.heapUsed)}, external ${kib(split.external)} (ArrayBuffers ${kib(split.arrayBuffers)}), rest of RSS (OpenSSL, sockets, allocator) ${kib(split.rest)} KiB.`}` +
        ` The node runs the session registrar (heartbeat every 10 s), as \`gatehouse serve\` does. The target applies to what the sessions keep: RSS after a full GC ` +
        `(asked through a hook only the bench loads), native memory included. Without one, V8 keeps the young generation it grew to during the burst of logins ` +
        `as long as the node allocates anything (a heartbeat, any traffic): a cost per process, at most 2 x --max-semi-space-size, not per session; ` +
        `an operator can cap it with NODE_OPTIONS=--max-semi-space-size=N (docs/configuration.md). No direct figure: Dovecot's memory is per process.`,
    );
  }

  const cpus = os.cpus();
  const environment = {
    node: process.version,
    dovecot: await dovecotVersion(),
    cpus: cpus.length,
    cpuModel: cpus[0]?.model.trim() ?? 'unknown',
    fdLimit: limits,
    backendLink: settings.backendTls === 'none' ? 'plain (TLS offloaded at Gatehouse)' : settings.backendTls,
    // Inherited by the Gatehouse nodes (e.g. --max-semi-space-size), so part of what was measured.
    // NODE_OPTIONS is inherited by the Gatehouse nodes (and the bench); --node-option goes to the nodes only.
    nodeOptions: [process.env['NODE_OPTIONS'] ?? '', ...settings.nodeOptions].join(' ').trim(),
  };
  notes.unshift(
    ...phaseNotes,
    `Direct logins check Dovecot's passwd-file ({PLAIN}); Gatehouse checks the directory hash, then logs in to Dovecot as the master user. ` +
      `Same store for all rows; Dovecot tuned for ${settings.sessions}+ sessions (imap client_limit 50, service_count 0, raised limits).`,
    `Targets: throughput >= ${TARGETS.throughputRatio}x direct, p99 added latency < ${TARGETS.addedP99Ms} ms, < ${TARGETS.kibPerSession} KiB per idle TLS session (reported, never enforced).`,
  );
  if (phases.size < PHASES.length) notes.push(`Phases run: ${[...phases].join(', ')} (--only).`);
  if (settings.json) {
    const out = {
      version: 1,
      environment,
      settings: { ...settings, json: undefined, phases: [...settings.phases] },
      rows,
      raw,
      notes,
    };
    process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
  } else {
    const title = [
      'Gatehouse benchmark: direct TLS to Dovecot vs the same through a Gatehouse node',
      `node ${environment.node}, Dovecot ${environment.dovecot}, ${environment.cpus} x ${environment.cpuModel}; ` +
        `Gatehouse to Dovecot: ${environment.backendLink}${environment.nodeOptions === '' ? '' : `; node options: ${environment.nodeOptions}`}`,
    ];
    process.stdout.write(renderTable(title, rows, notes));
  }
}

function kib(v: number): string {
  return (Math.abs(v) < 0.05 ? 0 : v).toFixed(1);
}

function mib(bytes: number): string {
  return (bytes / 1048576).toFixed(0);
}

async function main(): Promise<number> {
  let settings: Settings | undefined;
  try {
    settings = parseSettings(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`bench: ${(err as Error).message}\n${usage}\n`);
    return 2;
  }
  if (settings === undefined) {
    process.stdout.write(`${usage}\n`);
    return 0;
  }
  const code = await reexecWithFdLimit(fdsNeeded(settings.sessions));
  if (code !== undefined) return code;

  const cleanup = new Cleanup(progress);
  let interrupted = false;
  const onSignal = (sig: NodeJS.Signals): void => {
    if (interrupted) return;
    interrupted = true;
    progress(`${sig}: stopping everything the bench started`);
    void cleanup.run().finally(() => process.exit(sig === 'SIGINT' ? 130 : 143));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const runTimeoutMs = RUN_TIMEOUT_MS + settings.idleSeconds * 1000;
  const watchdog = setTimeout(() => {
    progress(`run exceeded ${runTimeoutMs / 1000} s; stopping`);
    void cleanup.run().finally(() => process.exit(1));
  }, runTimeoutMs);

  const diagnostics: Diagnostics = [];
  try {
    await run(settings, cleanup, diagnostics);
    return 0;
  } catch (err) {
    if (!interrupted) {
      process.stderr.write(`bench failed: ${(err as Error).stack ?? String(err)}\n`);
      for (const d of diagnostics) {
        const text = await Promise.resolve(d.tail()).catch((e: unknown) => `(unavailable: ${(e as Error).message})`);
        process.stderr.write(`--- ${d.name} (last lines) ---\n${text.trimEnd()}\n`);
      }
    }
    return 1;
  } finally {
    clearTimeout(watchdog);
    await cleanup.run();
    progress('done; everything stopped');
  }
}

process.exit(await main());
