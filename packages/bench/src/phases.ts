// The four measurements. Each takes the TLS target(s) to measure and returns raw
// figures; main.ts compares direct with through-Gatehouse and formats them.
import { setTimeout as sleep } from 'node:timers/promises';
import { ImapConnection, type TlsTarget } from './imap-client.ts';
import { benchMessage } from './mail-content.ts';
import { mean, median, msSince, percentile, runPool } from './stats.ts';
import type { BenchUser } from './environment.ts';

export type Progress = (msg: string) => void;

// ---- 1. logins per second -------------------------------------------------------

export type LoginResult = { logins: number; seconds: number; perSecond: number; meanMs: number };

/** One full login cycle: TLS connect, greeting, LOGIN, LOGOUT (tagged OK). */
async function loginCycle(target: TlsTarget, user: BenchUser): Promise<void> {
  const conn = await ImapConnection.connect(target);
  try {
    await conn.login(user.name, user.password);
    await conn.logout();
  } finally {
    conn.destroy();
  }
}

export async function measureLogins(
  target: TlsTarget,
  user: BenchUser,
  opts: { count: number; concurrency: number; maxSeconds: number },
): Promise<LoginResult> {
  await runPool(opts.concurrency * 2, opts.concurrency, () => loginCycle(target, user));
  const cycleMs: number[] = [];
  const start = process.hrtime.bigint();
  const done = await runPool(
    opts.count,
    opts.concurrency,
    async () => {
      const t0 = process.hrtime.bigint();
      await loginCycle(target, user);
      cycleMs.push(msSince(t0));
    },
    Date.now() + opts.maxSeconds * 1000,
  );
  const seconds = msSince(start) / 1000;
  return { logins: done, seconds, perSecond: done / seconds, meanMs: mean(cycleMs) };
}

// ---- 2. FETCH throughput --------------------------------------------------------

export type FillResult = { messages: number; messageBytes: number; totalBytes: number; seconds: number };

async function messageCount(conn: ImapConnection): Promise<number> {
  const reply = await conn.command('STATUS INBOX (MESSAGES)');
  const line = reply.untagged.find((l) => /^\* STATUS /i.test(l));
  const m = line === undefined ? null : /MESSAGES (\d+)/i.exec(line);
  if (m === null) throw new Error('STATUS INBOX gave no MESSAGES count');
  return Number(m[1]);
}

/** Appends `messages` deterministic messages to INBOX over a direct connection (once). */
export async function fillMailbox(
  direct: TlsTarget,
  user: BenchUser,
  opts: { messages: number; messageBytes: number },
  progress: Progress,
): Promise<FillResult> {
  const conn = await ImapConnection.connect(direct);
  const start = process.hrtime.bigint();
  try {
    await conn.login(user.name, user.password);
    const before = await messageCount(conn);
    if (before !== 0) throw new Error(`INBOX of ${user.name} is not empty (${before} messages)`);
    for (let i = 0; i < opts.messages; i++) {
      await conn.append('INBOX', benchMessage(i, opts.messageBytes, user.name));
      if ((i + 1) % 50 === 0) progress(`  appended ${i + 1}/${opts.messages}`);
    }
    const after = await messageCount(conn);
    if (after !== opts.messages) throw new Error(`INBOX holds ${after} messages after appending ${opts.messages}`);
    await conn.logout();
  } finally {
    conn.destroy();
  }
  return {
    messages: opts.messages,
    messageBytes: opts.messageBytes,
    totalBytes: opts.messages * opts.messageBytes,
    seconds: msSince(start) / 1000,
  };
}

export type FetchPass = { bytes: number; seconds: number; mbPerSecond: number };
export type FetchResult = { passes: FetchPass[]; medianMBps: number; bytesPerPass: number };

async function openMailbox(target: TlsTarget, user: BenchUser): Promise<ImapConnection> {
  const conn = await ImapConnection.connect(target, 60_000);
  try {
    await conn.login(user.name, user.password);
    await conn.command('EXAMINE INBOX');
    return conn;
  } catch (err) {
    conn.destroy();
    throw err;
  }
}

async function fetchPass(conn: ImapConnection, minBytes: number): Promise<FetchPass> {
  const start = process.hrtime.bigint();
  const bytes = await conn.countBytes('FETCH 1:* BODY.PEEK[]');
  const seconds = msSince(start) / 1000;
  if (bytes < minBytes) throw new Error(`FETCH returned ${bytes} bytes, less than the ${minBytes} bytes of mail`);
  return { bytes, seconds, mbPerSecond: bytes / 1e6 / seconds };
}

/**
 * `FETCH 1:* BODY.PEEK[]` over one logged-in session per side: one warm-up pass each
 * (page cache, Dovecot's index), then `passes` timed passes, direct and through taking
 * turns so drift on the box hits both alike. MB/s are 10^6 bytes of the whole reply.
 */
export async function measureFetch(
  targets: { direct: TlsTarget; through: TlsTarget },
  user: BenchUser,
  opts: { passes: number; mailBytes: number },
  progress: Progress,
): Promise<{ direct: FetchResult; through: FetchResult }> {
  const direct = await openMailbox(targets.direct, user);
  let through: ImapConnection | undefined;
  try {
    through = await openMailbox(targets.through, user);
    await fetchPass(direct, opts.mailBytes);
    await fetchPass(through, opts.mailBytes);
    const d: FetchPass[] = [];
    const t: FetchPass[] = [];
    for (let i = 0; i < opts.passes; i++) {
      d.push(await fetchPass(direct, opts.mailBytes));
      t.push(await fetchPass(through, opts.mailBytes));
      progress(`  pass ${i + 1}/${opts.passes}: direct ${fmt(d.at(-1)?.mbPerSecond)} MB/s, through ${fmt(t.at(-1)?.mbPerSecond)} MB/s`);
    }
    await Promise.all([direct.logout(), through.logout()]);
    const summary = (passes: FetchPass[]): FetchResult => ({
      passes,
      medianMBps: median(passes.map((p) => p.mbPerSecond)),
      bytesPerPass: passes[0]?.bytes ?? 0,
    });
    return { direct: summary(d), through: summary(t) };
  } finally {
    direct.destroy();
    through?.destroy();
  }
}

function fmt(v: number | undefined): string {
  return v === undefined ? '?' : v.toFixed(1);
}

// ---- 3. NOOP round trip ---------------------------------------------------------

export type NoopResult = { count: number; p50Ms: number; p99Ms: number; meanMs: number; maxMs: number };

/** `count` sequential NOOPs on one logged-in session, after `warmup` untimed ones. */
export async function measureNoop(target: TlsTarget, user: BenchUser, opts: { count: number; warmup: number }): Promise<NoopResult> {
  const conn = await ImapConnection.connect(target);
  try {
    await conn.login(user.name, user.password);
    for (let i = 0; i < opts.warmup; i++) await conn.command('NOOP');
    const samples: number[] = [];
    for (let i = 0; i < opts.count; i++) {
      const t0 = process.hrtime.bigint();
      await conn.command('NOOP');
      samples.push(msSince(t0));
    }
    await conn.logout();
    return {
      count: samples.length,
      p50Ms: percentile(samples, 50),
      p99Ms: percentile(samples, 99),
      meanMs: mean(samples),
      maxMs: Math.max(...samples),
    };
  } finally {
    conn.destroy();
  }
}

// ---- 4. memory per idle authenticated session ----------------------------------

export type MemoryResult = {
  sessions: number;
  /** VmRSS after the warm-up logins, before any GC the bench asks for. */
  baselineBeforeGcKiB: number;
  /** VmRSS the per-session figures start from: after the warm-up and, with `collectGarbage`, a full GC. */
  baselineKiB: number;
  /** VmRSS `settleMs` after the last login, no GC: the sessions plus the garbage of opening them. */
  loadedKiB: number;
  /** (loaded − baseline) / sessions: right after the burst of logins. */
  perSessionKiB: number;
  /** VmRSS sampled every IDLE_SAMPLE_MS for `idleSeconds` after `loadedKiB`, no GC asked (empty when idleSeconds is 0). */
  idleSamples: Array<{ seconds: number; kib: number }>;
  /** (last idle sample − baseline) / sessions (null when idleSeconds is 0). */
  perSessionIdleKiB: number | null;
  /** The node's memory usage at the last idle sample, no GC (null when idleSeconds is 0 or the node does not report it). */
  idleUsage: MemoryUsage | null;
  /** VmRSS after a full GC, every session still open (null without `collectGarbage`). */
  loadedAfterGcKiB: number | null;
  /** The node's memory usage after that GC (null unless the node reports it). */
  loadedAfterGcUsage: MemoryUsage | null;
  afterCloseKiB: number;
  /** (loaded after GC − baseline) / sessions: what the idle sessions keep (null without `collectGarbage`). */
  perSessionAfterGcKiB: number | null;
  /**
   * Where the after-GC growth per session is (null unless the node reports its memory
   * usage): V8's heap in use, memory outside it that V8 knows of (Buffers, of which
   * ArrayBuffers), and the rest of the RSS (TLS and socket state, allocator, code).
   */
  perSessionSplitKiB: { heapUsed: number; external: number; arrayBuffers: number; rest: number } | null;
  openSeconds: number;
};

/** process.memoryUsage() of the node and V8's new space (young generation), in bytes. */
export type MemoryUsage = { heapTotal: number; heapUsed: number; external: number; arrayBuffers: number; newSpace: number };

function usageSplit(before: MemoryUsage | null, after: MemoryUsage | null, perSessionKiB: number, sessions: number): MemoryResult['perSessionSplitKiB'] {
  if (before === null || after === null) return null;
  const per = (k: keyof MemoryUsage): number => (after[k] - before[k]) / 1024 / sessions;
  // arrayBuffers is part of external; external is outside the V8 heap but may be in the RSS.
  return { heapUsed: per('heapUsed'), external: per('external'), arrayBuffers: per('arrayBuffers'), rest: perSessionKiB - per('heapUsed') - per('external') };
}

const IDLE_SAMPLE_MS = 5000;

/** A GC in the node is synchronous; this only lets freed pages leave RSS before it is read. */
const GC_SETTLE_MS = 500;

/** VmRSS after `settleMs`, sampled a few times so a GC in flight does not decide it. */
async function settledRss(rss: () => number, settleMs: number): Promise<number> {
  await sleep(settleMs);
  const samples: number[] = [];
  for (let i = 0; i < 3; i++) {
    samples.push(rss());
    await sleep(250);
  }
  return median(samples);
}

/**
 * Opens `sessions` TLS sessions to the node and logs each in (bounded concurrency),
 * then compares the node's RSS with the RSS before them. A warm-up of login cycles comes
 * first, so one-time costs (code paths compiled, TLS context, Redis pipeline) are in the
 * baseline rather than spread over the sessions.
 *
 * RSS read shortly after a burst of logins includes their garbage, and V8 grows its young
 * generation during such a burst (up to 2 x --max-semi-space-size; 128 MiB on a box with
 * plenty of memory) and keeps it while the node allocates anything at all (heartbeats,
 * load events, any traffic); only a node with no allocation for a minute or two gives it
 * back. So the RSS is read three ways: `settleMs` after the last login; with
 * `idleSeconds`, after that long idle, still with no GC (what an operator's node shows;
 * `idleUsage` says how much of it is the young generation, a cost per process, not per
 * session); and with `collectGarbage` (a full GC in the node that shrinks the young
 * generation, also done before the baseline) what the sessions themselves keep: live
 * objects, plus native memory no GC touches.
 */
export async function measureIdleMemory(
  target: TlsTarget,
  user: BenchUser,
  rss: () => number,
  opts: {
    sessions: number;
    concurrency: number;
    warmup: number;
    settleMs: number;
    idleSeconds?: number;
    collectGarbage?: () => Promise<MemoryUsage | null>;
    memoryUsage?: () => Promise<MemoryUsage | null>;
  },
  progress: Progress,
): Promise<MemoryResult> {
  const collect = opts.collectGarbage;
  await runPool(opts.warmup, opts.concurrency, () => loginCycle(target, user));
  const baselineBeforeGcKiB = await settledRss(rss, opts.settleMs);
  let baselineKiB = baselineBeforeGcKiB;
  let baselineUsage: MemoryUsage | null = null;
  if (collect) {
    baselineUsage = await collect();
    baselineKiB = await settledRss(rss, GC_SETTLE_MS);
  }
  progress(`  node RSS before: ${baselineKiB} KiB${collect ? ` after a full GC (${baselineBeforeGcKiB} KiB before it)` : ''}; opening ${opts.sessions} sessions, ${opts.concurrency} at a time`);
  const open: ImapConnection[] = [];
  const start = process.hrtime.bigint();
  try {
    let lastReport = Date.now();
    await runPool(opts.sessions, opts.concurrency, async () => {
      const conn = await ImapConnection.connect(target);
      open.push(conn);
      await conn.login(user.name, user.password);
      if (Date.now() - lastReport > 2000) {
        lastReport = Date.now();
        progress(`  ${open.length}/${opts.sessions} sessions`);
      }
    });
    const openSeconds = msSince(start) / 1000;
    const loadedKiB = await settledRss(rss, opts.settleMs);
    progress(`  node RSS with ${open.length} idle sessions: ${loadedKiB} KiB (opened in ${openSeconds.toFixed(1)} s)`);

    const idleSamples: MemoryResult['idleSamples'] = [];
    const idleSeconds = opts.idleSeconds ?? 0;
    let idleUsage: MemoryUsage | null = null;
    if (idleSeconds > 0) {
      progress(`  idling ${idleSeconds} s, no GC asked`);
      const idleStart = Date.now();
      while (Date.now() - idleStart < idleSeconds * 1000) {
        await sleep(Math.min(IDLE_SAMPLE_MS, idleSeconds * 1000 - (Date.now() - idleStart)));
        idleSamples.push({ seconds: Math.round((Date.now() - idleStart) / 1000), kib: rss() });
      }
      idleUsage = (await opts.memoryUsage?.()) ?? null;
      progress(`  node RSS while idle: ${idleSamples.map((x) => `${x.seconds}s ${x.kib}`).join(', ')} KiB`);
    }
    const lastIdle = idleSamples.at(-1);

    let loadedAfterGcKiB: number | null = null;
    let loadedAfterGcUsage: MemoryUsage | null = null;
    if (collect) {
      loadedAfterGcUsage = await collect();
      loadedAfterGcKiB = await settledRss(rss, GC_SETTLE_MS);
      progress(`  node RSS after a full GC: ${loadedAfterGcKiB} KiB`);
    }
    const gone = open.filter((c) => c.closed).length;
    if (gone > 0) throw new Error(`${gone} of ${open.length} idle sessions were closed by the server`);
    for (const c of open) c.destroy();
    open.length = 0;
    const afterCloseKiB = await settledRss(rss, opts.settleMs);
    const perSessionAfterGcKiB = loadedAfterGcKiB === null ? null : (loadedAfterGcKiB - baselineKiB) / opts.sessions;
    return {
      sessions: opts.sessions,
      baselineBeforeGcKiB,
      baselineKiB,
      loadedKiB,
      perSessionKiB: (loadedKiB - baselineKiB) / opts.sessions,
      idleSamples,
      perSessionIdleKiB: lastIdle === undefined ? null : (lastIdle.kib - baselineKiB) / opts.sessions,
      idleUsage,
      loadedAfterGcKiB,
      loadedAfterGcUsage,
      afterCloseKiB,
      perSessionAfterGcKiB,
      perSessionSplitKiB: perSessionAfterGcKiB === null ? null : usageSplit(baselineUsage, loadedAfterGcUsage, perSessionAfterGcKiB, opts.sessions),
      openSeconds,
    };
  } finally {
    for (const c of open) c.destroy();
  }
}
