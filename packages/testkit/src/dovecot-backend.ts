// A private Dovecot 2.3 back-end for one test: IMAP (STARTTLS), IMAPS, POP3 (STLS),
// POP3S and LMTP on free loopback ports, a master user for proxy logins, a public
// namespace, COMPRESS=DEFLATE, and deterministic sample mail. It runs as a foreground
// `dovecot -F -c CONF` child with every path (sockets, state, log, mail) inside its
// own temp dir, so tap's parallel test files can each run several side by side.
import type { ChildProcess } from 'node:child_process';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { generateSelfSigned } from '@gatehouse/certs';
import { spawnDaemon } from './daemon-process.ts';
import {
  dovecotLayout,
  renderDovecotConfig,
  renderPasswdFile,
  type DovecotLayout,
  type DovecotPorts,
} from './dovecot-config.ts';
import { freePorts } from './free-port.ts';
import { chownTree, createMaildirFolder, writeMaildir } from './maildir-writer.ts';
import { ServiceExitedError, waitReady } from './probe.ts';
import { killTreeSync, waitExit, waitGone } from './process-tree.ts';
import { PUBLIC_FOLDERS, PUBLIC_PREFIX, SAMPLE_FOLDERS, publicSampleMessages, sampleMessages } from './sample-mail.ts';
import { lookupSystemUser, type SystemUser } from './system-user.ts';
import { removeDir, tmpDir } from './tmp-dir.ts';

const run = promisify(execFile);

export type DovecotUser = { user: string; password: string };

export type StartDovecotOptions = {
  /** Names the instance in logs and process titles (letters, digits, '-', '_'). */
  name: string;
  users: DovecotUser[];
  /** Default 'gatehouse-master'. */
  masterUser?: string;
  /** Default: random. */
  masterPassword?: string;
  /** Fill every mailbox with sampleMessages() and the public folder; default true. */
  sampleMail?: boolean;
  /** Default /usr/sbin/dovecot. */
  binary?: string;
  /** System user owning the mail (Dovecot refuses root); default 'mail'. */
  mailUser?: string;
  startTimeoutMs?: number;
  /**
   * Raw dovecot.conf text appended after the generated config (later settings win), e.g.
   * higher process/client limits for benchmarks. Not validated: the caller owns it.
   */
  extraConfig?: string;
};

export type DovecotBackend = {
  name: string;
  host: '127.0.0.1';
  imapPort: number;
  imapsPort: number;
  pop3Port: number;
  pop3sPort: number;
  lmtpPort: number;
  /** The self-signed certificate of the TLS listeners; trust it as the CA. */
  caPem: string;
  /** Names in the certificate (use one as the TLS servername). */
  tlsServername: 'localhost';
  masterUser: string;
  masterPassword: string;
  /** The instance's temp directory: config, log, mail (home/<user>), public/. */
  baseDir: string;
  /** Dovecot's own base_dir (its sockets and pid file), inside baseDir. */
  runDir: string;
  configPath: string;
  logPath: string;
  /** Users as Dovecot knows them (names lowercased). */
  users: readonly DovecotUser[];
  /** PID of the dovecot master. */
  pid: number;
  readLog(): Promise<string>;
  /** Resolves with the first log line matching `pattern` (the log is written asynchronously). */
  waitForLog(pattern: RegExp, timeoutMs?: number): Promise<string>;
  /** Runs `doveadm -c CONF …args` against this instance; resolves with stdout. */
  doveadm(args: string[]): Promise<string>;
  /** Kills the master and all its processes, waits until they are gone, removes baseDir. */
  stop(): Promise<void>;
};

const HOST = '127.0.0.1';
const MAX_ATTEMPTS = 5;
const STOP_TIMEOUT_MS = 5000;

export async function startDovecot(opts: StartDovecotOptions): Promise<DovecotBackend> {
  if (!/^[A-Za-z0-9_-]{1,40}$/.test(opts.name)) throw new Error(`invalid backend name: ${JSON.stringify(opts.name)}`);
  if (process.getuid?.() !== 0) throw new Error('startDovecot needs root (Dovecot switches to the mail user)');
  const mailUser = lookupSystemUser(opts.mailUser ?? 'mail');
  const masterUser = opts.masterUser ?? 'gatehouse-master';
  const masterPassword = opts.masterPassword ?? randomBytes(12).toString('base64url');
  const users = opts.users.map((u) => ({ user: u.user.toLowerCase(), password: u.password }));

  const root = await tmpDir('gatehouse-dovecot');
  const layout = dovecotLayout(root);
  try {
    const caPem = await prepareFiles(layout, users, { user: masterUser, password: masterPassword }, mailUser, opts.sampleMail ?? true);
    const { child, ports } = await launch(opts, layout, mailUser);
    return makeHandle({ opts, layout, child, ports, caPem, masterUser, masterPassword, users });
  } catch (err) {
    await removeDir(root);
    throw err;
  }
}

async function prepareFiles(
  layout: DovecotLayout,
  users: DovecotUser[],
  master: DovecotUser,
  mailUser: SystemUser,
  sampleMail: boolean,
): Promise<string> {
  // mkdtemp makes 0700; the auth (dovecot) and mail (mail) users must traverse it.
  await chmod(layout.root, 0o755);
  await mkdir(layout.stateDir);
  await mkdir(layout.homeRoot);

  const { certPem, keyPem } = generateSelfSigned({ commonName: 'localhost', altNames: ['127.0.0.1'] });
  await writeFile(layout.certPath, certPem);
  await writeFile(layout.keyPath, keyPem, { mode: 0o600 });
  // Read by the auth process, which runs as the unprivileged `dovecot` user.
  await writeFile(layout.usersPath, renderPasswdFile(users), { mode: 0o644 });
  await writeFile(layout.mastersPath, renderPasswdFile([master]), { mode: 0o644 });

  const mine = sampleMail ? sampleMessages() : [];
  for (const { user } of users) {
    const maildir = path.join(layout.homeRoot, user, 'Maildir');
    await writeMaildir(
      maildir,
      sampleMail ? [...SAMPLE_FOLDERS] : [],
      mine.map((m) => ({ folder: m.mailbox, date: m.date, maildirFlags: m.maildirFlags, raw: m.raw })),
    );
    if (sampleMail) {
      const subscribed = ['INBOX', ...SAMPLE_FOLDERS, ...PUBLIC_FOLDERS.map((f) => PUBLIC_PREFIX + f)];
      await writeFile(path.join(maildir, 'subscriptions'), `${subscribed.join('\n')}\n`);
    }
  }

  await createMaildirFolder(layout.publicDir, 'INBOX');
  if (sampleMail) {
    const shared = publicSampleMessages().map((m) => ({
      folder: m.mailbox.slice(PUBLIC_PREFIX.length),
      date: m.date,
      maildirFlags: m.maildirFlags,
      raw: m.raw,
    }));
    await writeMaildir(layout.publicDir, [...PUBLIC_FOLDERS], shared);
  }
  await chownTree(layout.publicDir, mailUser);
  await chownTree(layout.homeRoot, mailUser);
  return certPem;
}

/** Starts dovecot on fresh ports, retrying when a port was taken before it could bind. */
async function launch(
  opts: StartDovecotOptions,
  layout: DovecotLayout,
  mailUser: SystemUser,
): Promise<{ child: ChildProcess; ports: DovecotPorts }> {
  const stderrPath = path.join(layout.root, 'dovecot.stderr');
  for (let attempt = 1; ; attempt++) {
    const [imap = 0, imaps = 0, pop3 = 0, pop3s = 0, lmtp = 0] = await freePorts(5, HOST);
    const ports: DovecotPorts = { imap, imaps, pop3, pop3s, lmtp };
    // A fresh base_dir (no stale master.pid) and fresh output, so the bind-failure
    // check below only sees this attempt.
    await Promise.all([layout.baseDir, stderrPath, layout.logPath].map((p) => rm(p, { recursive: true, force: true })));
    await writeFile(
      layout.configPath,
      renderDovecotConfig({
        layout,
        ports,
        instanceName: `gatehouse-${opts.name}`,
        mailUser,
        ...(opts.extraConfig !== undefined ? { extraConfig: opts.extraConfig } : {}),
      }),
    );
    const child = spawnDaemon(opts.binary ?? '/usr/sbin/dovecot', ['-F', '-c', layout.configPath], stderrPath, layout.root);
    try {
      await waitReady(
        child,
        [
          { port: imap, expect: /^\* OK.*\r\n/, sendAfter: 'a LOGOUT\r\n' },
          { port: pop3, expect: /^\+OK.*\r\n/, sendAfter: 'QUIT\r\n' },
          { port: lmtp, expect: /^220 .*\r\n/, sendAfter: 'QUIT\r\n' },
        ],
        opts.startTimeoutMs ?? 10_000,
      );
      return { child, ports };
    } catch (err) {
      await killAndWait(child);
      const output = `${await readFile(stderrPath, 'utf8').catch(() => '')}${await readFile(layout.logPath, 'utf8').catch(() => '')}`;
      if (err instanceof ServiceExitedError && /address already in use/i.test(output) && attempt < MAX_ATTEMPTS) continue;
      throw new Error(`dovecot ${opts.name} failed to start: ${(err as Error).message}\n${output.slice(-3000)}`, { cause: err });
    }
  }
}

async function killAndWait(child: ChildProcess): Promise<void> {
  if (child.pid === undefined) return;
  const tree = killTreeSync(child.pid);
  await Promise.all([waitExit(child, STOP_TIMEOUT_MS), waitGone(tree, STOP_TIMEOUT_MS)]);
}

type HandleParts = {
  opts: StartDovecotOptions;
  layout: DovecotLayout;
  child: ChildProcess;
  ports: DovecotPorts;
  caPem: string;
  masterUser: string;
  masterPassword: string;
  users: DovecotUser[];
};

function makeHandle(p: HandleParts): DovecotBackend {
  const { layout } = p;
  let stopping: Promise<void> | undefined;
  const readLog = (): Promise<string> => readFile(layout.logPath, 'utf8').catch(() => '');
  return {
    name: p.opts.name,
    host: HOST,
    imapPort: p.ports.imap,
    imapsPort: p.ports.imaps,
    pop3Port: p.ports.pop3,
    pop3sPort: p.ports.pop3s,
    lmtpPort: p.ports.lmtp,
    caPem: p.caPem,
    tlsServername: 'localhost',
    masterUser: p.masterUser,
    masterPassword: p.masterPassword,
    baseDir: layout.root,
    runDir: layout.baseDir,
    configPath: layout.configPath,
    logPath: layout.logPath,
    users: p.users,
    pid: p.child.pid ?? 0,
    readLog,
    async waitForLog(pattern, timeoutMs = 5000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const line = (await readLog()).split('\n').find((l) => pattern.test(l));
        if (line !== undefined) return line;
        if (Date.now() > deadline) throw new Error(`no log line matching ${pattern} in ${timeoutMs} ms`);
        await sleep(20);
      }
    },
    async doveadm(args) {
      const { stdout } = await run('/usr/bin/doveadm', ['-c', layout.configPath, ...args]);
      return stdout;
    },
    stop() {
      stopping ??= (async () => {
        await killAndWait(p.child);
        await removeDir(layout.root);
      })();
      return stopping;
    },
  };
}
