/**
 * @gatehouse/delivery — the delivery front door: LMTP (RFC 2033) and SMTP (RFC 5321, MX
 * role) listeners that route each recipient's mail to that user's store over its LMTP,
 * converting TNEF (winmail.dat) to MIME on the way. Keeps no queue.
 */
export { startDeliveryNode, type BoundDeliveryListener, type DeliveryNode, type DeliveryNodeOptions, type DeliveryReloadReport } from './delivery-node.ts';
export { defaultDeliveryLimits, type DeliveryLimits } from './delivery-limits.ts';
export type { DeliveryListenerSpec, DeliveryProtocol, DeliveryVirtualServer } from './virtual-server.ts';
export { DeliveryError, DeliveryErrorCode } from './delivery-error.ts';
export { resolveRecipient, type RecipientDecision, type RecipientRefusal } from './recipient-resolver.ts';
export { StoreLmtpClient, dotStuff, xtext, type ClientIdentity, type StoreLmtpOptions, type StoreTarget } from './store-lmtp-client.ts';
export { applyTnefPolicy, type TnefOutcome } from './tnef-at-delivery.ts';
export { ReplyReader, formatReply, type SmtpReply } from './smtp-reply.ts';
