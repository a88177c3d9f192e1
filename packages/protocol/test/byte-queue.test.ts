import t from 'tap';
import { ByteQueue } from '../src/byte-queue.ts';

function queueOf(...pieces: string[]): ByteQueue {
  const queue = new ByteQueue();
  for (const piece of pieces) {
    queue.push(Buffer.from(piece));
  }
  return queue;
}

t.test('byte queue: searches, peeks and consumes across chunks', async (t) => {
  const queue = queueOf('ab', '', 'c\n', 'de', 'f\ng');
  t.equal(queue.length, 9);
  t.equal(queue.lastByte, 'g'.charCodeAt(0));
  t.equal(queue.indexOf(0x0a, 0), 3);
  t.equal(queue.indexOf(0x0a, 4), 7);
  t.equal(queue.indexOf(0x0a, 8), -1);
  t.equal(queue.indexOf(0x0a, 2), 3, 'a search before the cursor restarts from the front');
  t.same(queue.peek(1, 6), Buffer.from('bc\nde'));
  t.same(queue.peek(5, 8), Buffer.from('ef\n'));
  t.same(queue.consume(1), Buffer.from('a'));
  t.same(queue.consume(4), Buffer.from('bc\nd'));
  t.equal(queue.length, 4);
  queue.skip(1);
  t.same(queue.peek(0, 2), Buffer.from('f\n'));
  t.same(queue.takeAll(), Buffer.from('f\ng'));
  t.equal(queue.length, 0);
  t.equal(queue.lastByte, -1);
  t.same(queue.takeAll(), Buffer.alloc(0));
});

t.test('byte queue: a consume within one chunk shares its memory, across chunks copies', async (t) => {
  const first = Buffer.from('abcd');
  const queue = new ByteQueue();
  queue.push(first);
  queue.push(Buffer.from('ef'));
  const shared = queue.consume(2);
  const copied = queue.consume(3);
  first.fill(0x7a);
  t.same(shared, Buffer.from('zz'), 'shares the chunk');
  t.same(copied, Buffer.from('cde'), 'a copy');
});

t.test('byte queue: clear drops everything', async (t) => {
  const queue = queueOf('abc', 'def');
  queue.indexOf(0x66, 0);
  queue.clear();
  t.equal(queue.length, 0);
  t.equal(queue.indexOf(0x66, 0), -1);
  queue.push(Buffer.from('xyz'));
  t.same(queue.consume(3), Buffer.from('xyz'));
});
