import t from 'tap';
import { formatIdParams, parseIdParams, quoteImapString, type ImapArg } from '../src/index.ts';
import { atom, str } from './helpers.ts';

t.test('quoteImapString: escapes backslash and quote', async (t) => {
  t.equal(quoteImapString('user'), '"user"');
  t.equal(quoteImapString(''), '""');
  t.equal(quoteImapString('a"b\\c'), '"a\\"b\\\\c"');
  t.equal(quoteImapString('tab\there\x01\x7f'), '"tab\there\x01\x7f"', 'other CTLs are TEXT-CHAR');
});

t.test('quoteImapString: refuses what a quoted string cannot hold', async (t) => {
  for (const value of ['a\rb', 'a\nb', 'a\0b', 'caf\u00e9', '\u{1f600}', '\x80']) {
    t.equal(quoteImapString(value), null, JSON.stringify(value));
  }
});

t.test('formatIdParams: pairs of quoted strings, skipping what cannot be sent', async (t) => {
  t.equal(formatIdParams({ name: 'Gatehouse', 'x-originating-ip': '192.0.2.1' }), '("name" "Gatehouse" "x-originating-ip" "192.0.2.1")');
  t.equal(formatIdParams({ a: 'x"y', bad: 'line\r\nbreak', 'caf\u00e9': 'v', '': 'empty key' }), '("a" "x\\"y")');
  t.equal(formatIdParams({}), 'NIL');
  t.equal(formatIdParams({ bad: '\n' }), 'NIL');
});

t.test('formatIdParams: RFC 2971 sizes are kept: 30-byte keys, 1024-byte values, 30 pairs', async (t) => {
  t.equal(formatIdParams({ ['k'.repeat(30)]: 'v' }), `("${'k'.repeat(30)}" "v")`);
  t.equal(formatIdParams({ ['k'.repeat(31)]: 'v' }), 'NIL');
  t.equal(formatIdParams({ k: 'v'.repeat(1024) }), `("k" "${'v'.repeat(1024)}")`);
  t.equal(formatIdParams({ k: 'v'.repeat(1025) }), 'NIL');
  const many = Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`k${i}`, 'v']));
  t.equal(formatIdParams(many).match(/"k\d+"/g)?.length, 30);
});

function list(...items: ImapArg[]): ImapArg {
  return { kind: 'list', items };
}

t.test('parseIdParams: NIL is empty, pairs become a map with lower-cased keys', async (t) => {
  t.same(parseIdParams(atom('NIL')), new Map());
  t.same(parseIdParams(atom('nil')), new Map());
  t.same(parseIdParams(list()), new Map());
  t.same(
    parseIdParams(list(str('Name'), str('Thunderbird'), str('version'), atom('NIL'), str('os'), { kind: 'string', value: Buffer.from('Linux \u00e9') })),
    new Map([['name', 'Thunderbird'], ['os', 'Linux \u00e9']]),
  );
});

t.test('parseIdParams: RFC 2971 sizes at the cap are accepted, one over refused', async (t) => {
  const pairs = (count: number): ImapArg[] => Array.from({ length: count }, (_, i) => [str(`k${i}`), str('v')]).flat();
  t.equal(parseIdParams(list(...pairs(30)))?.size, 30);
  t.equal(parseIdParams(list(...pairs(31))), null);
  t.equal(parseIdParams(list(str('k'.repeat(30)), str('v')))?.size, 1);
  t.equal(parseIdParams(list(str('k'.repeat(31)), str('v'))), null);
  t.equal(parseIdParams(list(str('k'), str('v'.repeat(1024))))?.size, 1);
  t.equal(parseIdParams(list(str('k'), str('v'.repeat(1025)))), null);
});

t.test('parseIdParams: invalid parameter lists are null', async (t) => {
  const invalid: Record<string, ImapArg> = {
    'an atom other than NIL': atom('x'),
    'a string': str('x'),
    'an odd number of items': list(str('a'), str('b'), str('c')),
    'an atom key': list(atom('a'), str('b')),
    'a NIL key': list(atom('NIL'), str('b')),
    'an atom value': list(str('a'), atom('b')),
    'a list value': list(str('a'), list()),
    'a repeated key': list(str('a'), str('1'), str('A'), str('2')),
    'a key that is not UTF-8': list({ kind: 'string', value: Buffer.from([0xff]) }, str('v')),
    'a value that is not UTF-8': list(str('k'), { kind: 'string', value: Buffer.from([0xc3]) }),
  };
  for (const [name, arg] of Object.entries(invalid)) {
    t.equal(parseIdParams(arg), null, name);
  }
});
