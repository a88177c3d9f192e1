import t from 'tap';
import { POP3_STORE_CAPABILITIES, formatPop3MultiLine, pop3Capabilities } from '../src/index.ts';

t.test('pop3 capabilities: USER and SASL only when credentials may be sent, STLS when offered', async (t) => {
  const mechanisms = ['PLAIN', 'LOGIN'];
  const store = ['TOP', 'UIDL', 'RESP-CODES', 'PIPELINING', 'AUTH-RESP-CODE'];
  t.same(POP3_STORE_CAPABILITIES, store);
  t.same(pop3Capabilities({ stls: false, credentials: true, mechanisms }), [...store, 'USER', 'SASL PLAIN LOGIN'], 'over TLS');
  t.same(pop3Capabilities({ stls: true, credentials: false, mechanisms }), [...store, 'STLS'], 'cleartext, plaintext logins refused');
  t.same(pop3Capabilities({ stls: true, credentials: true, mechanisms }), [...store, 'STLS', 'USER', 'SASL PLAIN LOGIN'], 'plaintext allowed');
  t.same(pop3Capabilities({ stls: false, credentials: true, mechanisms: [] }), [...store, 'USER'], 'no mechanisms: no SASL line');
  t.ok(Object.isFrozen(POP3_STORE_CAPABILITIES));
});

t.test('pop3 capabilities: a multi-line response is dot-stuffed and terminated', async (t) => {
  t.equal(formatPop3MultiLine('Capability list follows', ['TOP', '.x']), '+OK Capability list follows\r\nTOP\r\n..x\r\n.\r\n');
  t.equal(formatPop3MultiLine('none', []), '+OK none\r\n.\r\n');
});
