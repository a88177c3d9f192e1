import t from 'tap';
import { isValidTag } from '../src/index.ts';

t.test('tags: RFC 9051 tags are valid', async (t) => {
  for (const tag of ['a', 'A001', 'a.1', 'x]', '1', '!#$&\'-./:;<=>?@[^_`|~']) {
    t.ok(isValidTag(tag), tag);
  }
});

t.test('tags: empty, "+", atom-specials, CTL and non-ASCII are invalid', async (t) => {
  for (const tag of ['', '+', 'a+', '*', '%', '(', ')', '{', '"', '\\', ' ', 'a b', '\r', '\x00', '\x7f', '\u00e9', 'a%n']) {
    t.notOk(isValidTag(tag), JSON.stringify(tag));
  }
});
