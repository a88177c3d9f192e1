// The delivery front door of a node: the LMTP (RFC 2033) and SMTP (RFC 5321, MX role)
// listeners of every virtual server, on nodemailer's smtp-server. Each RCPT is decided
// from the directory (recipient-resolver.ts) and, when local, opened at once at the
// user's store over LMTP (store-lmtp-client.ts), so the store's own RCPT answer (unknown
// there, over quota, down) reaches the client at RCPT time. At the final dot the message
// goes to every store of the transaction in parallel:
//   LMTP: one reply per recipient, the store's reply relayed exactly (RFC 2033 §4.2);
//   SMTP: 250 only when every store accepted every recipient, else 4xx (or 5xx when
//         every recipient was refused permanently), see docs/architecture.md.
// Gatehouse keeps no queue: nothing is acknowledged that a store did not accept.
// No AUTH, no relay: only recipients in local domains are accepted (docs/security.md).
// A config reload (reload()) opens, closes and replaces listeners and swaps certificates
// for new connections; a session, and the transaction it has under way, is never cut by it.
import { createHash } from 'node:crypto';
import { hostname } from 'node:os';
import net from 'node:net';
import type tls from 'node:tls';
import { domainToASCII } from 'node:url';
import { SniContexts, defaultContextOptions, type VirtualServerTls } from '@gatehouse/certs';
import type { Directory, TnefPolicy } from '@gatehouse/directory';
import type { Logger } from 'pino';
import { SMTPServer, type SMTPServerAddress, type SMTPServerDataResult, type SMTPServerDataStream, type SMTPServerSession } from 'smtp-server';
import { GatehouseError } from '@gatehouse/protocol';
import { resolveRecipient } from './recipient-resolver.ts';
import { lineEnding, receivedHeader } from './received-header.ts';
import { isPermanent, isPositive, reply, replyText, type SmtpReply } from './smtp-reply.ts';
import { StoreLmtpClient } from './store-lmtp-client.ts';
import { applyTnefPolicy } from './tnef-at-delivery.ts';
import type { DeliveryListenerSpec, DeliveryProtocol, DeliveryVirtualServer } from './virtual-server.ts';

export interface DeliveryNodeOptions {
  vservers: DeliveryVirtualServer[];
  directory: Directory;
  logger: Logger;
  nodeId?: string;
  /** Our name in greetings, LHLO to the stores and Received: fields; default the host name. */
  serverName?: string;
}

export interface BoundDeliveryListener {
  vserver: string;
  listener: string;
  protocol: DeliveryProtocol;
  tls: DeliveryListenerSpec['tls'];
  host: string;
  port: number;
}

export interface DeliveryNode {
  listeners(): BoundDeliveryListener[];
  /**
   * Applies a new set of virtual servers (a config reload) to new connections: listeners
   * opened, closed or replaced, certificates swapped for the next handshakes, the new
   * banner. A listener whose limits changed is replaced (smtp-server reads its options
   * during a session, so changing them in place would reach transactions under way).
   * Established sessions keep their sockets and settings, and a transaction in progress
   * finishes, also on a listener that was removed. Throws, changing nothing, when a
   * certificate does not load; a listener that cannot be bound is reported in `failed`
   * and the rest applies.
   */
  reload(vservers: DeliveryVirtualServer[]): Promise<DeliveryReloadReport>;
  /** Stops accepting; open transactions are cut (nothing unacknowledged is lost: the client retries). */
  close(): Promise<void>;
}

/** What a reload changed. A replaced listener (same name, new settings) is in both `closed` and `opened`. */
export interface DeliveryReloadReport {
  opened: BoundDeliveryListener[];
  closed: BoundDeliveryListener[];
  /** Listeners that could not be bound (address in use, not local…); they stay closed until a later reload. */
  failed: Array<{ vserver: string; listener: string; protocol: DeliveryProtocol; host: string; port: number; code: string; message: string }>;
  /** Virtual servers whose certificates changed. */
  certificatesReloaded: string[];
}

/** One store connection of a transaction: the recipients of one back-end with one TNEF policy. */
interface StoreGroup {
  readonly key: string;
  readonly backend: string;
  readonly tnef: TnefPolicy;
  readonly client: StoreLmtpClient;
  /** Client addresses (lower-cased) in the order the store accepted them. */
  readonly recipients: string[];
}

interface Transaction {
  readonly number: number;
  readonly groups: Map<string, StoreGroup>;
  /** Lower-cased client address → its group (absent: not accepted). */
  readonly recipientGroup: Map<string, StoreGroup>;
  readonly users: Map<string, string>;
}

interface SessionState {
  txn: Transaction | null;
  readonly log: Logger;
}

interface ListenerEntry {
  server: SMTPServer;
  info: BoundDeliveryListener;
  /** listenerSettings() when opened: a reload replaces the listener when they differ. */
  settings: string;
}

type SniCallback = (servername: string, cb: (err: Error | null, ctx?: tls.SecureContext) => void) => void;

export async function startDeliveryNode(opts: DeliveryNodeOptions): Promise<DeliveryNode> {
  const nodeId = opts.nodeId ?? hostname();
  const serverName = opts.serverName ?? hostname();
  const log = opts.logger.child({ node: nodeId });
  /** The open listeners by listenerKey(); a reload adds, replaces and removes entries. */
  const bound = new Map<string, ListenerEntry>();
  /** Listeners closed by a reload (→ their virtual server), until the sessions they accepted have ended. */
  const retired = new Map<SMTPServer, string>();
  // The certificates of each virtual server by name, looked up at each handshake (implicit
  // TLS and STARTTLS), so a reload reaches even a session accepted before it that starts
  // TLS after it. Entries of a removed virtual server stay: its sessions may still STARTTLS.
  const certs = new Map(opts.vservers.map((v) => [v.name, { sni: new SniContexts(v.tls), digest: tlsDigest(v.tls) }]));
  const sniCallbackOf =
    (vserver: string, listener: string): SniCallback =>
    (servername, cb) => {
      // smtp-server hands over the name in Unicode (punycode decoded); certificates name
      // internationalized domains in their A-label form (RFC 5890).
      const name = domainToASCII(servername) || servername;
      const choice = (certs.get(vserver) as { sni: SniContexts }).sni.select(name);
      log.debug({ vserver, listener, servername: name, certificate: choice.matched ?? 'default' }, 'tls.sni');
      cb(null, choice.context);
    };

  const openListener = async (vserver: DeliveryVirtualServer, listener: DeliveryListenerSpec): Promise<ListenerEntry> => {
    const server = createServer(vserver, listener, opts.directory, log, serverName, sniCallbackOf(vserver.name, listener.name));
    // SMTPServer re-emits its socket server's errors: a failed bind must be caught there,
    // or the unhandled 'error' would end the process instead of being reported.
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ port: listener.port, host: listener.host }, () => {
        server.off('error', reject);
        resolve();
      });
    });
    server.on('error', (err) => log.error({ err, vserver: vserver.name, listener: listener.name }, 'listener.error'));
    const addr = server.server.address() as net.AddressInfo;
    const info: BoundDeliveryListener = { vserver: vserver.name, listener: listener.name, protocol: listener.protocol, tls: listener.tls, host: addr.address, port: addr.port };
    log.info(info, 'listener.open');
    return { server, info, settings: listenerSettings(vserver, listener) };
  };
  /**
   * Stops accepting on a listener; the sessions it accepted go on to their end. Not
   * SMTPServer.close(): from that call on every session answers its next command with
   * `421 Server shutting down` and is cut after 30 s, which would break a transaction
   * in progress. Closing the socket server only stops the accepting; its callback runs
   * once the last session is gone.
   */
  const retire = (key: string, entry: ListenerEntry): void => {
    bound.delete(key);
    retired.set(entry.server, entry.info.vserver);
    entry.server.server.close(() => retired.delete(entry.server));
    log.info(entry.info, 'listener.close');
  };

  try {
    for (const vserver of opts.vservers) {
      for (const listener of vserver.listeners) bound.set(listenerKey(vserver, listener), await openListener(vserver, listener));
    }
  } catch (err) {
    await Promise.all([...bound.values()].map((b) => new Promise<void>((resolve) => b.server.close(() => resolve()))));
    throw err;
  }

  let reloading: Promise<unknown> = Promise.resolve();
  /** Set by close(): a reload still running opens nothing more. */
  let stopped = false;
  const reload = async (next: DeliveryVirtualServer[]): Promise<DeliveryReloadReport> => {
    // Every certificate is built before anything changes: a bad one throws and the node
    // keeps running exactly as before.
    const nextCerts = new Map(next.map((v) => [v.name, { sni: new SniContexts(v.tls), digest: tlsDigest(v.tls) }]));
    const report: DeliveryReloadReport = { opened: [], closed: [], failed: [], certificatesReloaded: [] };
    for (const [name, c] of nextCerts) {
      const old = certs.get(name);
      if (old !== undefined && old.digest !== c.digest) report.certificatesReloaded.push(name);
      if (old?.digest !== c.digest) certs.set(name, c);
    }
    const wanted = new Map<string, { vserver: DeliveryVirtualServer; listener: DeliveryListenerSpec }>();
    for (const vserver of next) for (const listener of vserver.listeners) wanted.set(listenerKey(vserver, listener), { vserver, listener });
    // Closed first, so a listener replaced on the same address can bind it again.
    for (const [key, entry] of [...bound]) {
      const w = wanted.get(key);
      if (w !== undefined && listenerSettings(w.vserver, w.listener) === entry.settings) continue;
      retire(key, entry);
      report.closed.push(entry.info);
    }
    // The default certificate (a client that sends no SNI name) is the server's own
    // context; the SNI ones are read from `certs` at each handshake.
    const renewed = new Set(report.certificatesReloaded);
    const tlsOf = new Map(next.map((v) => [v.name, v.tls]));
    for (const [server, name] of retired) {
      const material = tlsOf.get(name);
      if (material !== undefined && renewed.has(name)) server.updateSecureContext(defaultContextOptions(material));
    }
    for (const [key, { vserver, listener }] of wanted) {
      if (stopped) break;
      const kept = bound.get(key);
      if (kept !== undefined) {
        // Read when a connection is greeted: sessions already greeted are not affected.
        kept.server.options.banner = vserver.banner;
        if (renewed.has(vserver.name)) kept.server.updateSecureContext(defaultContextOptions(vserver.tls));
        continue;
      }
      try {
        const entry = await openListener(vserver, listener);
        if (stopped) {
          entry.server.close();
          break;
        }
        bound.set(key, entry);
        report.opened.push(entry.info);
      } catch (err) {
        const e = err as NodeJS.ErrnoException;
        report.failed.push({ vserver: vserver.name, listener: listener.name, protocol: listener.protocol, host: listener.host, port: listener.port, code: e.code ?? 'ERR_LISTEN', message: e.message });
        log.error({ vserver: vserver.name, listener: listener.name, host: listener.host, port: listener.port, code: e.code, message: e.message }, 'listener.error');
      }
    }
    return report;
  };

  return {
    listeners: () => [...bound.values()].map((b) => b.info),
    reload(next) {
      const run = reloading.then(() => reload(next));
      reloading = run.catch(() => {});
      return run;
    },
    async close(): Promise<void> {
      stopped = true;
      const servers = [...[...bound.values()].map((b) => b.server), ...retired.keys()];
      await Promise.all(servers.map((server) => new Promise<void>((resolve) => server.close(() => resolve()))));
    },
  };
}

function listenerKey(v: DeliveryVirtualServer, l: DeliveryListenerSpec): string {
  return `${v.name}/${l.protocol}/${l.name}`;
}

/**
 * What a listener's SMTPServer was made with and reads during its sessions: a change
 * needs a new one. The banner is read only at the greeting, so it changes in place.
 */
function listenerSettings(v: DeliveryVirtualServer, l: DeliveryListenerSpec): string {
  return JSON.stringify([l.protocol, l.host, l.port, l.tls, v.limits]);
}

/** Identifies a virtual server's TLS material, to tell whether a reload changed it. */
function tlsDigest(t: VirtualServerTls): string {
  const h = createHash('sha256');
  for (const part of [t.cert, t.key, ...(t.sni ?? []).flatMap((e) => [e.cert, e.key, JSON.stringify(e.names ?? null)])]) {
    h.update(part);
    h.update('\0');
  }
  return h.digest('hex');
}

function createServer(vserver: DeliveryVirtualServer, listener: DeliveryListenerSpec, directory: Directory, parentLog: Logger, serverName: string, sniCallback: SniCallback): SMTPServer {
  const lmtp = listener.protocol === 'lmtp';
  const limits = vserver.limits;
  const states = new Map<string, SessionState>();
  const stateOf = (session: SMTPServerSession): SessionState => {
    let s = states.get(session.id);
    if (s === undefined) {
      s = {
        txn: null,
        log: parentLog.child({ cid: session.id, proto: listener.protocol, vserver: vserver.name, listener: listener.name }),
      };
      states.set(session.id, s);
    }
    return s;
  };
  const endTransaction = (s: SessionState): void => {
    if (s.txn === null) return;
    for (const g of s.txn.groups.values()) g.client.quit();
    s.txn = null;
  };
  const clientAddress = (session: SMTPServerSession): string => session.remoteAddress.replace(/^::ffff:(\d+\.\d+\.\d+\.\d+)$/, '$1');
  const helo = (session: SMTPServerSession): string | undefined => (typeof session.hostNameAppearsAs === 'string' && session.hostNameAppearsAs !== '' ? session.hostNameAppearsAs : undefined);

  return new SMTPServer({
    lmtp,
    name: serverName,
    banner: vserver.banner,
    secure: listener.tls === 'implicit',
    ...defaultContextOptions(vserver.tls),
    // The certificate by the client's SNI name (@gatehouse/certs SniContexts); a client
    // that sends none gets the server's default context (key and cert above).
    SNICallback: sniCallback,
    // SIZE (RFC 1870): advertised, MAIL FROM SIZE= checked, and a longer message refused
    // with 552 whatever onData says (onData also stops buffering past the limit).
    size: limits.maxMessageBytes,
    rejectOversized: true,
    maxRecipients: limits.maxRecipients,
    socketTimeout: limits.clientIdleTimeoutMs,
    // No AUTH: the front door only takes mail for local users, it relays nothing.
    disabledCommands: ['AUTH'],
    authOptional: true,
    // Our replies carry their RFC 3463 codes in the text, and store replies are relayed as
    // they came: the library must not add codes of its own.
    hideENHANCEDSTATUSCODES: true,
    hideDSN: true,
    // SMTPUTF8 (RFC 6531) is not passed on to the stores, so it is not offered.
    hideSMTPUTF8: true,
    hideREQUIRETLS: true,
    disableReverseLookup: true,
    logger: false,
    onConnect(session, callback) {
      stateOf(session).log.info({ remoteAddress: clientAddress(session), remotePort: session.remotePort }, 'conn.open');
      callback();
    },
    onMailFrom(address, session, callback) {
      const s = stateOf(session);
      endTransaction(s); // a new MAIL after RSET or after the last DATA
      s.txn = { number: session.transaction, groups: new Map(), recipientGroup: new Map(), users: new Map() };
      s.log.debug({ from: address.address }, 'delivery.mail');
      callback();
    },
    onRcptTo(address, session, callback) {
      onRcpt(address, session).then(
        (r) => callback(r === null ? null : toError(r)),
        (err: unknown) => {
          stateOf(session).log.error({ err }, 'delivery.rcpt_error');
          callback(toError(reply(451, '4.3.0', 'Temporary failure; try again later')));
        },
      );
    },
    onData(stream, session, callback) {
      onData(stream, session).then(
        (result) => {
          if (result === null) callback(null);
          else if (Array.isArray(result)) callback(null, result);
          else if (isPositive(result)) callback(null, replyText(result));
          else callback(toError(result));
        },
        (err: unknown) => {
          stateOf(session).log.error({ err }, 'delivery.data_error');
          callback(toError(reply(451, '4.3.0', 'Temporary failure; message not delivered, try again later')));
        },
      );
    },
    onClose(session) {
      const s = states.get(session.id);
      if (s === undefined) return;
      endTransaction(s);
      states.delete(session.id);
      s.log.info('conn.close');
    },
  });

  /** null: accepted (smtp-server answers 250); else the refusal. */
  async function onRcpt(address: SMTPServerAddress, session: SMTPServerSession): Promise<SmtpReply | null> {
    const s = stateOf(session);
    const txn = s.txn;
    if (txn === null) return reply(503, '5.5.1', 'Error: need MAIL command');
    const key = address.address.toLowerCase();
    // smtp-server keeps one entry per address; the store already has this one.
    if (txn.recipientGroup.has(key)) return null;
    const decision = await resolveRecipient(directory, address.address);
    if (!decision.ok) {
      s.log.info({ rcpt: address.address, reason: decision.reason, reply: decision.reply.code }, 'delivery.rcpt_refused');
      return decision.reply;
    }
    const groupKey = `${decision.backend.name}\u0000${decision.tnef}`;
    let group = txn.groups.get(groupKey);
    if (group === undefined) {
      let client: StoreLmtpClient;
      try {
        client = await StoreLmtpClient.open({
          target: { name: decision.backend.name, host: decision.backend.host, port: decision.backend.lmtpPort },
          localName: serverName,
          client: { address: clientAddress(session), port: session.remotePort, helo: helo(session), sessionId: session.id },
          connectTimeoutMs: limits.storeConnectTimeoutMs,
          responseTimeoutMs: limits.storeResponseTimeoutMs,
          dataTimeoutMs: limits.storeDataTimeoutMs,
        });
      } catch (err) {
        s.log.warn({ rcpt: address.address, backend: decision.backend.name, code: codeOf(err), reason: (err as Error).message }, 'delivery.store_unavailable');
        return reply(451, '4.4.1', `<${decision.user.name}>: Mailbox store not reachable; try again later`);
      }
      if (s.txn !== txn) {
        client.abort(); // the transaction ended while we connected
        return reply(451, '4.3.0', 'Transaction ended');
      }
      const envelope = session.envelope.mailFrom;
      const sender = envelope === false ? '' : envelope.address;
      const body = envelope === false || envelope.args === false ? undefined : envelope.args['BODY'];
      let mail: SmtpReply;
      try {
        mail = await client.mailFrom(sender, typeof body === 'string' ? body : undefined);
      } catch (err) {
        client.abort();
        s.log.warn({ backend: decision.backend.name, code: codeOf(err), reason: (err as Error).message }, 'delivery.store_unavailable');
        return reply(451, '4.4.1', `<${decision.user.name}>: Mailbox store not reachable; try again later`);
      }
      if (!isPositive(mail)) {
        client.quit();
        s.log.info({ backend: decision.backend.name, reply: mail.code }, 'delivery.store_refused_sender');
        return mail; // the store's own answer about the sender, relayed
      }
      group = { key: groupKey, backend: decision.backend.name, tnef: decision.tnef, client, recipients: [] };
      txn.groups.set(groupKey, group);
    }
    let r: SmtpReply;
    try {
      r = await group.client.rcptTo(decision.user.name);
    } catch (err) {
      txn.groups.delete(groupKey);
      for (const [k, g] of txn.recipientGroup) if (g === group) txn.recipientGroup.delete(k);
      group.client.abort();
      s.log.warn({ backend: group.backend, code: codeOf(err), reason: (err as Error).message }, 'delivery.store_unavailable');
      // Recipients already accepted on this store get their 4xx at DATA (no reply from it).
      return reply(451, '4.4.1', `<${decision.user.name}>: Mailbox store not reachable; try again later`);
    }
    if (!isPositive(r)) {
      s.log.info({ rcpt: address.address, user: decision.user.name, backend: group.backend, reply: r.code }, 'delivery.rcpt_refused_by_store');
      return r; // relayed exactly
    }
    group.recipients.push(key);
    txn.recipientGroup.set(key, group);
    txn.users.set(key, decision.user.name);
    s.log.info({ rcpt: address.address, user: decision.user.name, backend: group.backend, via: decision.via }, 'delivery.rcpt_ok');
    return null;
  }

  /**
   * Reads the message (up to the size limit), delivers it to every store of the
   * transaction and returns the reply: an array (LMTP, one per recipient), one reply
   * (SMTP), or null when smtp-server answers itself (oversized message).
   */
  async function onData(stream: SMTPServerDataStream, session: SMTPServerSession): Promise<SMTPServerDataResult[] | SmtpReply | null> {
    const s = stateOf(session);
    const txn = s.txn;
    const started = performance.now();
    const message = await readMessage(stream, limits.maxMessageBytes);
    s.txn = null; // the transaction ends with this DATA whatever happens
    if (txn === null) return reply(503, '5.5.1', 'Error: need MAIL command');
    if (message === 'oversized' || message === 'aborted') {
      for (const g of txn.groups.values()) g.client.abort();
      if (message === 'oversized') s.log.info({ bytes: stream.byteLength, limit: limits.maxMessageBytes }, 'delivery.too_big');
      return null;
    }
    const eol = lineEnding(message);
    const converted = new Map<TnefPolicy, Buffer>();
    const prepare = (g: StoreGroup): Buffer => {
      let body = converted.get(g.tnef);
      if (body === undefined) {
        const outcome = applyTnefPolicy(message, g.tnef);
        if (outcome.tnefParts > 0 || outcome.warnings.length > 0) {
          s.log.info({ policy: g.tnef, changed: outcome.changed, tnefParts: outcome.tnefParts, warnings: outcome.warnings }, 'delivery.tnef');
        }
        body = outcome.message;
        converted.set(g.tnef, body);
      }
      if (g.client.xclientAccepted) return body;
      const header = receivedHeader(
        {
          helo: helo(session),
          clientAddress: clientAddress(session),
          byName: serverName,
          protocol: lmtp ? 'LMTP' : session.secure ? 'ESMTPS' : 'ESMTP',
          id: session.id,
          recipient: g.recipients.length === 1 ? txn.users.get(g.recipients[0] ?? '') : undefined,
          date: new Date(),
        },
        eol,
      );
      return Buffer.concat([header, body]);
    };
    const results = new Map<string, SmtpReply>();
    await Promise.all(
      [...txn.groups.values()].map(async (g) => {
        try {
          await g.client.data(prepare(g), (i, r) => {
            const k = g.recipients[i];
            if (k !== undefined) results.set(k, r);
          });
          g.client.quit();
        } catch (err) {
          g.client.abort();
          s.log.warn({ backend: g.backend, code: codeOf(err), reason: (err as Error).message }, 'delivery.store_failed');
        }
      }),
    );
    // Recipients without a store reply: the store failed before answering for them.
    const outcome = session.envelope.rcptTo.map((a) => {
      const k = a.address.toLowerCase();
      return { address: a.address, reply: results.get(k) ?? reply(451, '4.4.2', `<${txn.users.get(k) ?? a.address}>: Mailbox store failed during delivery; try again later`) };
    });
    const accepted = outcome.filter((o) => isPositive(o.reply)).length;
    s.log.info(
      { recipients: outcome.length, accepted, bytes: message.length, durationMs: Math.round(performance.now() - started), replies: outcome.map((o) => `${o.address} ${o.reply.code}`) },
      'delivery.done',
    );
    if (lmtp) {
      return outcome.map((o) => (isPositive(o.reply) ? replyText(o.reply) : toError(o.reply)));
    }
    if (accepted === outcome.length) return reply(250, '2.0.0', `Ok: delivered to ${accepted} mailbox${accepted === 1 ? '' : 'es'}`);
    const failed = outcome.filter((o) => !isPositive(o.reply));
    if (accepted === 0 && failed.every((o) => isPermanent(o.reply)) && failed[0] !== undefined) return failed[0].reply;
    const names = failed.map((o) => `<${o.address}>`).join(' ');
    return reply(451, '4.3.0', `Not delivered to ${failed.length} of ${outcome.length} recipients (${names.slice(0, 300)}); try again later`);
  }
}

/** Reads the whole DATA stream; past `maxBytes` it keeps draining but stops keeping. */
function readMessage(stream: SMTPServerDataStream, maxBytes: number): Promise<Buffer | 'oversized' | 'aborted'> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let over = false;
    stream.on('data', (chunk: Buffer) => {
      if (over) return;
      size += chunk.length;
      if (size > maxBytes) {
        over = true;
        chunks.length = 0;
        return;
      }
      chunks.push(chunk);
    });
    stream.once('end', () => resolve(over || stream.sizeExceeded ? 'oversized' : Buffer.concat(chunks, size)));
    // The client went away before the final dot: deliver nothing.
    stream.once('error', () => resolve('aborted'));
    stream.once('close', () => resolve('aborted'));
  });
}

function toError(r: SmtpReply): Error & { responseCode: number } {
  const err = new Error(replyText(r)) as Error & { responseCode: number };
  err.responseCode = r.code;
  return err;
}

function codeOf(err: unknown): string {
  return err instanceof GatehouseError ? err.code : 'ERR_INTERNAL';
}
