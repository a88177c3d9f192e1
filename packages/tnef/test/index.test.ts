import t from 'tap';
import { GatehouseError } from '@gatehouse/protocol';
import * as tnef from '../src/index.ts';

t.test('index: exports the public API', async (t) => {
  t.same(Object.keys(tnef).sort(), [
    'AttachMethod',
    'DEFAULT_TNEF_LIMITS',
    'PropertyId',
    'PropertyType',
    'TnefError',
    'TnefErrorCode',
    'convertTnefInMessage',
    'decodeTnef',
    'decompressRtf',
    'getProperty',
    'isTnef',
    'readRtfBody',
    'rtfCrc32',
    'safeFileName',
    'tnefToEml',
    'tnefToMime',
  ]);
});

t.test('TnefError: a GatehouseError with a stable code and its cause', async (t) => {
  const cause = new Error('inner');
  const error = new tnef.TnefError(tnef.TnefErrorCode.TRUNCATED, 'cut', { cause });
  t.ok(error instanceof GatehouseError);
  t.same([error.name, error.code, error.message, error.cause], ['TnefError', 'ERR_TNEF_TRUNCATED', 'cut', cause]);
  t.same(tnef.TnefErrorCode, {
    SIGNATURE: 'ERR_TNEF_SIGNATURE',
    TRUNCATED: 'ERR_TNEF_TRUNCATED',
    CHECKSUM: 'ERR_TNEF_CHECKSUM',
    FORMAT: 'ERR_TNEF_FORMAT',
    LIMIT: 'ERR_TNEF_LIMIT',
    RTF_CRC: 'ERR_RTF_CRC',
    RTF_FORMAT: 'ERR_RTF_FORMAT',
  });
  t.ok(Object.isFrozen(tnef.DEFAULT_TNEF_LIMITS));
});
