// The delivery side of a virtual server, as the CLI builds it from the config: its LMTP
// and SMTP listeners, the certificates offered with STARTTLS (the default and those chosen
// by SNI, shared with its IMAP/POP3 listeners), the banner and the limits.
import type { VirtualServerTls } from '@gatehouse/certs';
import type { DeliveryLimits } from './delivery-limits.ts';

export type DeliveryProtocol = 'lmtp' | 'smtp';

export interface DeliveryListenerSpec {
  /** Stable name for logs, e.g. "lmtp", "smtp". */
  name: string;
  host: string;
  port: number;
  protocol: DeliveryProtocol;
  /** `starttls`: cleartext, STARTTLS offered (RFC 3207); `implicit`: TLS from the first byte. */
  tls: 'starttls' | 'implicit';
}

export interface DeliveryVirtualServer {
  name: string;
  /** Text after `220 NAME LMTP|ESMTP` in the greeting. */
  banner: string;
  /** The default certificate, and more chosen by the client's SNI name (RFC 6066 §3). */
  tls: VirtualServerTls;
  limits: DeliveryLimits;
  listeners: DeliveryListenerSpec[];
}
