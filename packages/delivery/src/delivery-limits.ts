// Every limit and timeout of the delivery front door in one table, with the reason for
// its default. A virtual server may override any of them (config `delivery:`).
// Gatehouse keeps no queue: a message is held in memory only while it is handed to the
// stores, so maxMessageBytes also bounds the memory one transaction can take.
export interface DeliveryLimits {
  /** SIZE (RFC 1870) advertised and enforced; the message is buffered up to this. Postfix's default is 10 MB. */
  maxMessageBytes: number;
  /** Recipients per transaction. RFC 5321 §4.5.3.1.8: a server must accept at least 100. */
  maxRecipients: number;
  /** Client silent between commands, or within a TLS handshake (RFC 5321 §4.5.3.2.7: servers wait at least 5 minutes). */
  clientIdleTimeoutMs: number;
  /** TCP connect to a store's LMTP. */
  storeConnectTimeoutMs: number;
  /** Each store reply before DATA (greeting, LHLO, XCLIENT, MAIL, RCPT, 354). */
  storeResponseTimeoutMs: number;
  /** The store's replies after the final dot: RFC 5321 §4.5.3.2.6 allows 10 minutes. */
  storeDataTimeoutMs: number;
}

export const defaultDeliveryLimits: Readonly<DeliveryLimits> = Object.freeze({
  maxMessageBytes: 50 * 1024 * 1024,
  maxRecipients: 100,
  clientIdleTimeoutMs: 5 * 60_000,
  storeConnectTimeoutMs: 5_000,
  storeResponseTimeoutMs: 60_000,
  storeDataTimeoutMs: 10 * 60_000,
});
