// The guard every outbound call to an organization's URL goes through (src/lib/outbound-url.ts):
// its address rule on its own; the appointment webhook drives the whole of it in reminders.test.ts.
import { describe, expect, it } from 'vitest';
import { isPublicAddress, outboundUrlRefusal } from '../src/lib/outbound-url';

describe('the outbound URL guard', () => {
  it('takes only public unicast addresses', () => {
    const internal = [
      '0.0.0.0',
      '127.0.0.1',
      '127.255.255.254',
      '10.0.0.1',
      '172.16.0.1',
      '172.31.255.255',
      '192.168.1.1',
      '169.254.169.254',
      '100.64.0.1',
      '100.127.255.255',
      '100.100.100.200',
      '192.0.0.192',
      '192.0.2.1',
      '198.18.0.1',
      '198.51.100.7',
      '203.0.113.9',
      '224.0.0.1',
      '240.0.0.1',
      '255.255.255.255',
      '::',
      '::1',
      '::ffff:127.0.0.1',
      '::ffff:7f00:1',
      '64:ff9b::a9fe:a9fe',
      'fc00::1',
      'fd00:ec2::254',
      'fe80::1',
      'ff02::1',
      '2001:db8::1',
      '2001::1',
      '2002:a9fe:a9fe::1',
      'not an address',
      '1.2.3',
      '1.2.3.256',
      '1:2:3',
      '1::2::3',
    ];
    const external = [
      '93.184.216.34',
      '8.8.8.8',
      '172.32.0.1',
      '100.128.0.1',
      '192.169.0.1',
      '2606:4700:4700::1111',
      '2a00:1450:4001:80b::200e',
      '2001:4860:4860::8888',
    ];
    for (const address of internal) expect(isPublicAddress(address), address).toBe(false);
    for (const address of external) expect(isPublicAddress(address), address).toBe(true);
  });

  it('refuses by form what cannot be a public receiver', () => {
    const refused = [
      'http://hooks.example.com/',
      'https://127.0.0.1/',
      'https://[::1]/',
      'https://0x7f.1/',
      'https://localhost/',
      'https://metadata.google.internal/',
      'https://nip.io/',
      'https://1.2.3.4.NIP.IO./',
      'https://x.sslip.io/',
      'https://localtest.me/',
      'https://a.lvh.me/',
      'https://kubernetes.default.svc/',
      'https://localhost.localdomain/',
      'not a url',
    ];
    for (const url of refused) expect(outboundUrlRefusal(url), url).toBeTypeOf('string');
    for (const url of ['https://hooks.example.com/x', 'https://sslip.io.example.com/', 'https://internal.example.com/'])
      expect(outboundUrlRefusal(url), url).toBeUndefined();
  });
});
