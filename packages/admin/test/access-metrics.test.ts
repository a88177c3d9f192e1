import t from 'tap';
import { accessChannel, type AccessDeniedEvent } from '@gatehouse/proxy';
import { GatehouseMetrics } from '../src/index.ts';

t.test('metrics: connections refused by access rules are counted by reason, for this node only', async (t) => {
  const metrics = new GatehouseMetrics({ nodeId: 'n1', processMetrics: false });
  t.teardown(() => metrics.close());
  const ev = (over: Partial<AccessDeniedEvent>): AccessDeniedEvent => ({
    nodeId: 'n1', vserver: 'example', listener: 'imap', protocol: 'imap', remoteAddress: '192.0.2.7', reason: 'denied', rule: null, ...over,
  });
  accessChannel.publish(ev({}));
  accessChannel.publish(ev({ protocol: 'pop3' }));
  accessChannel.publish(ev({ reason: 'unavailable' }));
  accessChannel.publish(ev({ nodeId: 'other' }));
  const text = await metrics.metrics();
  t.match(text, /gatehouse_access_denied_total\{protocol="imap",vserver="example",reason="denied"\} 1\n/);
  t.match(text, /gatehouse_access_denied_total\{protocol="pop3",vserver="example",reason="denied"\} 1\n/);
  t.match(text, /gatehouse_access_denied_total\{protocol="imap",vserver="example",reason="unavailable"\} 1\n/);
});
