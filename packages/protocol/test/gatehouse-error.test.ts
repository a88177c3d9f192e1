import t from 'tap';
import { GatehouseError } from '../src/index.ts';

t.test('GatehouseError: carries a stable code and the cause', async (t) => {
  const cause = new Error('socket hang up');
  const error = new GatehouseError('ERR_BACKEND_PROTOCOL', 'bad reply', { cause });
  t.ok(error instanceof Error);
  t.equal(error.code, 'ERR_BACKEND_PROTOCOL');
  t.equal(error.message, 'bad reply');
  t.equal(error.cause, cause);
  t.equal(error.name, 'GatehouseError');
  t.notOk('cause' in new GatehouseError('ERR_X', 'no cause'));
});

t.test('GatehouseError: subclasses keep their own name', async (t) => {
  class DirectoryError extends GatehouseError {}
  const error = new DirectoryError('ERR_DIRECTORY', 'down');
  t.ok(error instanceof GatehouseError);
  t.equal(error.name, 'DirectoryError');
});
