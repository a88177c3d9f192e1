// The delivery side of a virtual server, as the CLI builds it from the config: its LMTP
// and SMTP listeners, the certificate offered with STARTTLS, the banner and the limits.
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
  tls: { cert: string | Buffer; key: string | Buffer };
  limits: DeliveryLimits;
  listeners: DeliveryListenerSpec[];
}
