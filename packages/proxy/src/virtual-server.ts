// A virtual server as the proxy runs it: its listeners, TLS material, default mail
// domain, banner and limits. The CLI builds these from the validated config file.
import type { ImapLimits } from './limits.ts';
import type { VirtualServerTls } from './sni-contexts.ts';

export type ListenerTls = 'implicit' | 'starttls';

export interface ImapListenerSpec {
  /** Stable name for logs and metrics, e.g. "imaps". */
  name: string;
  host: string;
  port: number;
  tls: ListenerTls;
  /** Allow LOGIN/AUTHENTICATE before STARTTLS (off by default: LOGINDISABLED is advertised). */
  allowPlaintextAuth: boolean;
  /**
   * Expect a PROXY protocol v1/v2 header before anything else (before TLS on an
   * implicit-TLS listener), only from `trustedProxies`; the client address it names is
   * the one access rules, logs and the store see (docs/access.md).
   */
  proxyProtocol?: boolean;
  /** Addresses or networks (CIDR, address/mask) of the balancers allowed to send the header. */
  trustedProxies?: string[];
}

/**
 * A POP3 listener: implicit TLS (995) or cleartext with STLS (110, RFC 2595 §4).
 * `allowPlaintextAuth` allows USER/PASS and AUTH before STLS (off by default: USER and
 * SASL are then not advertised and are refused).
 */
export type Pop3ListenerSpec = ImapListenerSpec;

export interface VirtualServer {
  name: string;
  /** Appended to user names typed without a domain. */
  defaultDomain: string | undefined;
  /** Text of the `* OK` (IMAP) and `+OK` (POP3) greetings. */
  banner: string;
  /**
   * PEM certificate chain and key of the listeners (the default certificate), and more
   * certificates chosen by the client's SNI name (sni-contexts.ts).
   */
  tls: VirtualServerTls;
  limits: ImapLimits;
  /**
   * Mail domains whose users may log in here (the directory's `gatehouse vserver set
   * --domains`); absent: every domain. A user of another domain is refused like an
   * unknown user.
   */
  domains?: readonly string[];
  /** Whether users without their own IMAP/POP3 switch may use the protocol (absent: both on). */
  protocolDefaults?: { readonly imap: boolean; readonly pop3: boolean };
  /**
   * False while the node has not yet read this virtual server's policy from the directory:
   * logins then answer "unavailable" rather than ignore a domain restriction (fail closed).
   * Absent: no directory policy is used (tests and embedders that build VirtualServer by hand).
   */
  policyLoaded?: boolean;
  imapListeners: ImapListenerSpec[];
  /** POP3 listeners; absent or empty: no POP3 on this virtual server. */
  pop3Listeners?: Pop3ListenerSpec[];
}
