// A local tier for trying Gatehouse by hand: Redis, two Dovecot stores (be1, be2) with
// sample users and mail, the directory filled through the `gatehouse` command itself,
// and one node on loopback. Everything runs from var/local-tier and stops on Ctrl-C.
//   --check   bring it up, list alice's INBOX (IMAPS) and fetch her first message (POP3S)
//             through Gatehouse with curl, tear down: the smoke test that the README's
//             first command works.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startDovecot, startRedis } from '@gatehouse/testkit';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const varDir = process.env['GATEHOUSE_LOCAL_TIER_DIR'] ?? join(root, 'var', 'local-tier');
const cli = join(root, 'packages', 'cli', 'src', 'main.ts');
const check = process.argv.includes('--check');

const sampleUsers = [
  { user: 'alice@example.com', password: 'alice-secret', backend: 'be1' },
  { user: 'carol@example.com', password: 'carol-secret', backend: 'be1' },
  { user: 'bob@example.com', password: 'bob-secret', backend: 'be2' },
];

const cleanups: Array<() => Promise<void> | void> = [];
let stopping = false;
async function shutdown(code: number): Promise<never> {
  if (!stopping) {
    stopping = true;
    for (const c of cleanups.reverse()) await Promise.resolve(c()).catch(() => {});
  }
  process.exit(code);
}
process.on('SIGINT', () => void shutdown(0));
process.on('SIGTERM', () => void shutdown(0));

function gatehouse(redisUrl: string, args: string[], stdin?: string): string {
  const r = spawnSync(process.execPath, [cli, '--redis', redisUrl, ...args], { input: stdin ?? '', encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`gatehouse ${args.join(' ')} failed: ${r.stderr}`);
  return r.stdout;
}

async function portFree(port: number): Promise<boolean> {
  return new Promise((done) => {
    const s = net.createServer();
    s.once('error', () => done(false));
    s.listen(port, '127.0.0.1', () => s.close(() => done(true)));
  });
}

async function pickPort(preferred: number): Promise<number> {
  if (await portFree(preferred)) return preferred;
  return new Promise((done) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => done(port));
    });
  });
}

async function main(): Promise<void> {
  rmSync(varDir, { recursive: true, force: true });
  mkdirSync(varDir, { recursive: true });

  const redis = await startRedis();
  cleanups.push(() => redis.stop());
  const stores = await Promise.all(
    ['be1', 'be2'].map((name) =>
      startDovecot({ name, users: sampleUsers.filter((u) => u.backend === name).map(({ user, password }) => ({ user, password })) }),
    ),
  );
  for (const s of stores) cleanups.push(() => s.stop());

  // The directory is filled the way an operator would, with the gatehouse command.
  gatehouse(redis.url, ['domain', 'add', 'example.com']);
  for (const s of stores) {
    const secretFile = join(varDir, `${s.name}.master-password`);
    writeFileSync(secretFile, `${s.masterPassword}\n`, { mode: 0o600 });
    gatehouse(redis.url, [
      'backend', 'add', s.name, '--host', s.host, '--imap-port', String(s.imapPort), '--pop3-port', String(s.pop3Port),
      '--tls', 'starttls', '--login', 'master', '--master-user', s.masterUser, '--master-password-file', secretFile,
    ]);
  }
  for (const u of sampleUsers) gatehouse(redis.url, ['user', 'add', u.user, '--backend', u.backend, '--password-stdin'], `${u.password}\n`);

  const certFile = join(varDir, 'gatehouse-cert.pem');
  const keyFile = join(varDir, 'gatehouse-key.pem');
  gatehouse(redis.url, ['cert', 'self-signed', '--cert', certFile, '--key', keyFile, '--name', 'localhost', '--name', '127.0.0.1']);

  const imapsPort = await pickPort(Number(process.env['GATEHOUSE_IMAPS_PORT'] ?? 9993));
  const imapPort = await pickPort(Number(process.env['GATEHOUSE_IMAP_PORT'] ?? 9143));
  const pop3sPort = await pickPort(Number(process.env['GATEHOUSE_POP3S_PORT'] ?? 9995));
  const pop3Port = await pickPort(Number(process.env['GATEHOUSE_POP3_PORT'] ?? 9110));
  const configFile = join(varDir, 'gatehouse.yaml');
  writeFileSync(
    configFile,
    [
      `# Written by deploy/local-tier.ts`,
      `redis: ${redis.url}`,
      `log:`,
      `  level: info`,
      `vservers:`,
      `  - name: example`,
      `    defaultDomain: example.com`,
      `    banner: Gatehouse local tier ready.`,
      `    tls:`,
      `      cert: ${certFile}`,
      `      key: ${keyFile}`,
      `    listeners:`,
      `      - { name: imaps, listen: "127.0.0.1:${imapsPort}", tls: implicit }`,
      `      - { name: imap, listen: "127.0.0.1:${imapPort}", tls: starttls }`,
      `      - { name: pop3s, protocol: pop3, listen: "127.0.0.1:${pop3sPort}", tls: implicit }`,
      `      - { name: pop3, protocol: pop3, listen: "127.0.0.1:${pop3Port}", tls: starttls }`,
      '',
    ].join('\n'),
  );

  const logFile = join(varDir, 'gatehouse.log');
  const node: ChildProcess = spawn(process.execPath, [cli, 'serve', '--config', configFile], { stdio: ['ignore', 'pipe', 'pipe'] });
  cleanups.push(
    () =>
      new Promise<void>((done) => {
        if (node.exitCode !== null) return done();
        node.once('exit', () => done());
        node.kill('SIGTERM');
      }),
  );
  const log = createWriteStream(logFile);
  node.stdout?.pipe(log);
  await new Promise<void>((ready, fail) => {
    let err = '';
    node.stderr?.on('data', (d: Buffer) => {
      err += d.toString();
      // The node prints one line per listener once all are bound; POP3's come last.
      if (err.includes(`listening on 127.0.0.1:${pop3Port}`)) ready();
    });
    node.once('exit', (code) => fail(new Error(`gatehouse serve exited with ${code}: ${err}`)));
  });

  const curl = `curl --cacert ${certFile} --user alice@example.com:alice-secret 'imaps://127.0.0.1:${imapsPort}/INBOX?ALL'`;
  const curlPop3 = `curl --cacert ${certFile} --user alice@example.com:alice-secret 'pop3s://127.0.0.1:${pop3sPort}/1'`;
  if (check) {
    const r = spawnSync('sh', ['-c', curl], { encoding: 'utf8' });
    process.stdout.write(r.stdout);
    const pop = spawnSync('sh', ['-c', curlPop3], { encoding: 'utf8' });
    process.stdout.write(pop.stdout);
    const ok =
      r.status === 0 && /^\* SEARCH 1 2 3\b/m.test(r.stdout) && pop.status === 0 && /^Subject: Welcome to Gatehouse\r?$/m.test(pop.stdout);
    process.stdout.write(ok ? 'local tier check: ok\n' : `local tier check: FAILED (${r.status}, ${pop.status}) ${r.stderr}${pop.stderr}\n`);
    return shutdown(ok ? 0 : 1);
  }

  process.stdout.write(`
Gatehouse local tier is up (files in ${varDir}).
  IMAPS (implicit TLS)  127.0.0.1:${imapsPort}
  IMAP  (STARTTLS)      127.0.0.1:${imapPort}
  POP3S (implicit TLS)  127.0.0.1:${pop3sPort}
  POP3  (STLS)          127.0.0.1:${pop3Port}
  users (password)      alice@example.com (alice-secret), carol@example.com (carol-secret) on store be1
                        bob@example.com (bob-secret) on store be2
  certificate to trust  ${certFile}

List alice's INBOX through Gatehouse:
  ${curl}
Read message 1:
  curl --cacert ${certFile} --user bob:bob-secret 'imaps://127.0.0.1:${imapsPort}/INBOX;MAILINDEX=1'
Download message 1 over POP3 (STLS on ${pop3Port} works too: pop3://… --ssl-reqd):
  ${curlPop3}
Or with Python:
  python3 -c "import imaplib,ssl; c=imaplib.IMAP4_SSL('127.0.0.1',${imapsPort},ssl_context=ssl.create_default_context(cafile='${certFile}')); c.login('alice@example.com','alice-secret'); print(c.list()); c.logout()"
Administer the directory (every node sees changes at once):
  GATEHOUSE_REDIS_URL=${redis.url} pnpm exec gatehouse user list
Node log: ${logFile}
Ctrl-C stops everything.
`);
  await new Promise<never>(() => {});
}

main().catch((err: unknown) => {
  process.stderr.write(`local tier: ${err instanceof Error ? err.message : String(err)}\n`);
  void shutdown(1);
});
