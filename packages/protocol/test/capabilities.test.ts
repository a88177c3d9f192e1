import t from 'tap';
import { filterPostLoginCapabilities, formatCapabilityCode, formatCapabilityResponse } from '../src/index.ts';

t.test('capabilities: the pre-login ones are removed after login, case-insensitively, order kept', async (t) => {
  t.same(
    filterPostLoginCapabilities([
      'IMAP4rev1', 'starttls', 'SASL-IR', 'LOGIN-REFERRALS', 'ID', 'AUTH=PLAIN', 'auth=xoauth2', 'LOGINDISABLED',
      'IDLE', 'LITERAL+', 'AUTHX',
    ]),
    ['IMAP4rev1', 'ID', 'IDLE', 'LITERAL+', 'AUTHX'],
  );
  t.same(filterPostLoginCapabilities([]), []);
});

t.test('capabilities: formatted as data response and as response code', async (t) => {
  t.equal(formatCapabilityResponse(['IMAP4rev1', 'IDLE']), '* CAPABILITY IMAP4rev1 IDLE\r\n');
  t.equal(formatCapabilityCode(['IMAP4rev1', 'IDLE']), '[CAPABILITY IMAP4rev1 IDLE]');
});
