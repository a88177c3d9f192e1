import t from 'tap';
import * as protocol from '../src/index.ts';

t.test('index: exports the public API and nothing from the byte queue', async (t) => {
  t.same(Object.keys(protocol).sort(), [
    'BACKEND_PROTOCOL_ERROR',
    'DEFAULT_IMAP_READER_LIMITS',
    'DEFAULT_IMAP_RESPONSE_READER_LIMITS',
    'DEFAULT_POP3_READER_LIMITS',
    'DEFAULT_POP3_RESPONSE_READER_LIMITS',
    'DEFAULT_PROXY_HEADER_LIMITS',
    'GatehouseError',
    'ID_MAX_KEY_BYTES',
    'ID_MAX_PAIRS',
    'ID_MAX_VALUE_BYTES',
    'ImapCommandReader',
    'ImapReaderErrorCode',
    'ImapResponseReader',
    'POP3_STORE_CAPABILITIES',
    'PROXY_V1_MAX_BYTES',
    'PROXY_V2_SIGNATURE',
    'Pop3CommandReader',
    'Pop3ReaderErrorCode',
    'Pop3ResponseReader',
    'ProxyHeaderReader',
    'decodeBase64Strict',
    'encodeBase64',
    'encodeSaslPlain',
    'filterPostLoginCapabilities',
    'formatCapabilityCode',
    'formatCapabilityResponse',
    'formatIdParams',
    'formatPop3MultiLine',
    'isValidTag',
    'parseCapabilities',
    'parseIdParams',
    'parsePop3Capabilities',
    'parseSaslPlain',
    'pop3Capabilities',
    'quoteImapString',
  ]);
  t.same(protocol.ImapReaderErrorCode, {
    LINE_TOO_LONG: 'ERR_LINE_TOO_LONG',
    LITERAL_TOO_LARGE: 'ERR_LITERAL_TOO_LARGE',
    SYNTAX: 'ERR_SYNTAX',
    BAD_TAG: 'ERR_BAD_TAG',
    TOO_MANY_ARGS: 'ERR_TOO_MANY_ARGS',
  });
});

t.test('index: the POP3 reader error codes', async (t) => {
  t.same(protocol.Pop3ReaderErrorCode, { LINE_TOO_LONG: 'ERR_LINE_TOO_LONG', SYNTAX: 'ERR_SYNTAX' });
});
