/**
 * @gatehouse/protocol: IMAP, POP3 and SASL parsing and formatting for the
 * pre-authentication stage. Pure functions and incremental parsers fed Buffers; no I/O (enforced by a lint
 * rule), so the proxy owns sockets and this package owns bytes.
 */
export { GatehouseError } from './gatehouse-error.ts';
export { isValidTag } from './tags.ts';
export {
  DEFAULT_IMAP_READER_LIMITS,
  ImapCommandReader,
  ImapReaderErrorCode,
  type ImapArg,
  type ImapReaderEvent,
  type ImapReaderLimits,
} from './imap-command-reader.ts';
export {
  BACKEND_PROTOCOL_ERROR,
  DEFAULT_IMAP_RESPONSE_READER_LIMITS,
  ImapResponseReader,
  parseCapabilities,
  type ImapResponse,
  type ImapResponseReaderLimits,
  type ImapResponseStatus,
} from './imap-response-reader.ts';
export {
  DEFAULT_POP3_READER_LIMITS,
  Pop3CommandReader,
  Pop3ReaderErrorCode,
  type Pop3ReaderEvent,
  type Pop3ReaderLimits,
} from './pop3-command-reader.ts';
export {
  DEFAULT_POP3_RESPONSE_READER_LIMITS,
  Pop3ResponseReader,
  parsePop3Capabilities,
  type Pop3Capability,
  type Pop3Response,
  type Pop3ResponseReaderLimits,
} from './pop3-response-reader.ts';
export { POP3_STORE_CAPABILITIES, formatPop3MultiLine, pop3Capabilities, type Pop3CapabilityOptions } from './pop3-capabilities.ts';
export { filterPostLoginCapabilities, formatCapabilityCode, formatCapabilityResponse } from './capabilities.ts';
export {
  formatIdParams,
  ID_MAX_KEY_BYTES,
  ID_MAX_PAIRS,
  ID_MAX_VALUE_BYTES,
  parseIdParams,
  quoteImapString,
} from './imap-format.ts';
export {
  decodeBase64Strict,
  encodeBase64,
  encodeSaslPlain,
  parseSaslPlain,
  type SaslPlainCredentials,
} from './sasl.ts';
export {
  DEFAULT_PROXY_HEADER_LIMITS,
  PROXY_V1_MAX_BYTES,
  PROXY_V2_SIGNATURE,
  ProxyHeaderReader,
  type ProxyEndpoint,
  type ProxyHeader,
  type ProxyHeaderErrorCode,
  type ProxyHeaderLimits,
  type ProxyHeaderResult,
} from './proxy-header-reader.ts';
