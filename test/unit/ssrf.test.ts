import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { LookupAddress } from 'node:dns';
import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { UrlRefused, checkUrl, guardedLookup, isPublicAddress } from '../../src/delivery/ssrf.js';

describe('isPublicAddress', () => {
  test.each([
    // IPv4
    ['0.0.0.0', 'unspecified'],
    ['0.255.255.255', 'this network'],
    ['10.0.0.1', 'private 10/8'],
    ['10.255.255.255', 'private 10/8'],
    ['100.64.0.1', 'CGNAT'],
    ['100.127.255.255', 'CGNAT'],
    ['127.0.0.1', 'loopback'],
    ['127.255.255.254', 'loopback'],
    ['169.254.169.254', 'link-local (cloud metadata)'],
    ['172.16.0.1', 'private 172.16/12'],
    ['172.31.255.255', 'private 172.16/12'],
    ['192.0.0.8', 'IETF protocol assignments'],
    ['192.0.2.10', 'documentation'],
    ['192.168.1.1', 'private 192.168/16'],
    ['198.18.0.1', 'benchmarking'],
    ['198.19.255.255', 'benchmarking'],
    ['198.51.100.7', 'documentation'],
    ['203.0.113.9', 'documentation'],
    ['224.0.0.1', 'multicast'],
    ['239.255.255.250', 'multicast'],
    ['240.0.0.1', 'reserved'],
    ['255.255.255.255', 'broadcast'],
    // IPv6
    ['::', 'unspecified'],
    ['::1', 'loopback'],
    ['0:0:0:0:0:0:0:1', 'loopback, written out'],
    ['fc00::1', 'unique local'],
    ['fd12:3456:789a::1', 'unique local'],
    ['fe80::1', 'link-local'],
    ['fe80::1%eth0', 'link-local with a zone'],
    ['febf:ffff::1', 'link-local, top of the range'],
    ['fec0::1', 'site-local'],
    ['ff02::1', 'multicast'],
    ['ff0e::1', 'multicast'],
    ['2001:db8::1', 'documentation'],
    ['2001:db8:ffff:ffff::1', 'documentation'],
    ['100::1', 'discard-only'],
    ['::ffff:127.0.0.1', 'IPv4-mapped loopback'],
    ['::ffff:7f00:1', 'IPv4-mapped loopback in hex'],
    ['::ffff:10.1.2.3', 'IPv4-mapped private'],
    ['::ffff:169.254.169.254', 'IPv4-mapped link-local'],
    ['::127.0.0.1', 'IPv4-compatible loopback'],
    ['::192.168.0.1', 'IPv4-compatible private'],
    ['64:ff9b::127.0.0.1', 'NAT64 of loopback'],
    ['64:ff9b::a00:1', 'NAT64 of 10.0.0.1'],
    ['64:ff9b:1::1', 'local-use NAT64'],
    ['2002:7f00:1::1', '6to4 of loopback'],
    ['2002:c0a8:101::', '6to4 of 192.168.1.1'],
    // not addresses at all
    ['example.com', 'a hostname'],
    ['', 'empty'],
    ['1.2.3', 'a short IPv4'],
    ['010.0.0.1', 'IPv4 with a leading zero'],
  ])('%s is not public (%s)', (ip) => {
    expect(isPublicAddress(ip)).toBe(false);
  });

  test.each([
    ['8.8.8.8', 'Google DNS'],
    ['1.1.1.1', 'Cloudflare DNS'],
    ['9.255.255.255', 'just below 10/8'],
    ['11.0.0.0', 'just above 10/8'],
    ['100.63.255.255', 'just below CGNAT'],
    ['100.128.0.0', 'just above CGNAT'],
    ['172.15.255.255', 'just below 172.16/12'],
    ['172.32.0.0', 'just above 172.16/12'],
    ['169.253.255.255', 'just below link-local'],
    ['192.0.1.255', 'between IETF and documentation'],
    ['192.169.0.0', 'just above 192.168/16'],
    ['198.17.255.255', 'just below benchmarking'],
    ['198.20.0.0', 'just above benchmarking'],
    ['223.255.255.255', 'just below multicast'],
    ['2606:4700::1111', 'Cloudflare DNS'],
    ['2001:4860:4860::8888', 'Google DNS'],
    ['2a00:1450:4001::1', 'a global unicast address'],
    ['fbff::1', 'just below unique local'],
    ['2001:db9::1', 'just above documentation'],
    ['::ffff:8.8.8.8', 'IPv4-mapped public'],
    ['64:ff9b::8.8.8.8', 'NAT64 of a public address'],
    ['2002:808:808::1', '6to4 of 8.8.8.8'],
  ])('%s is public (%s)', (ip) => {
    expect(isPublicAddress(ip)).toBe(true);
  });
});

describe('checkUrl', () => {
  const strict = { allowPrivate: false };
  const local = { allowPrivate: true };

  test.each([
    'https://partner.example.com/webhooks/fpt',
    'https://partner.example.com:8443/hooks?tenant=42',
    'https://8.8.8.8/hook',
    'https://[2606:4700::1111]/hook',
    'HTTPS://Partner.Example.COM/hook',
  ])('%s is accepted', (raw) => {
    expect(checkUrl(raw, strict)).toBeInstanceOf(URL);
  });

  test('returns the parsed URL', () => {
    const url = checkUrl('https://partner.example.com/a?b=c', strict);
    expect(url.hostname).toBe('partner.example.com');
    expect(url.pathname).toBe('/a');
    expect(url.search).toBe('?b=c');
  });

  test('a URL of exactly 2048 characters is accepted, and the error is a UrlRefused by name', () => {
    const base = 'https://partner.example.com/';
    expect(checkUrl(`${base}${'a'.repeat(2048 - base.length)}`, strict).href).toHaveLength(2048);
    expect(() => checkUrl('not a url', strict)).toThrow(expect.objectContaining({ name: 'UrlRefused' }));
  });

  test.each([
    ['not a url', /not a valid absolute URL/],
    ['/relative/path', /not a valid absolute URL/],
    ['http://partner.example.com/hook', /must use https, not http$/],
    ['ftp://partner.example.com/hook', /must use https, not ftp$/],
    ['javascript:alert(1)', /must use https/],
    ['https://user:pass@partner.example.com/hook', /credentials/],
    ['https://user@partner.example.com/hook', /credentials/],
    ['https://:secret@partner.example.com/hook', /credentials/],
    ['https://partner.example.com/hook#section', /fragment/],
    ['https://partner.example.com/hook#', /fragment/],
    ['https://127.0.0.1/hook', /not a public address/],
    ['https://2130706433/hook', /not a public address/],
    ['https://0x7f.1/hook', /not a public address/],
    ['https://10.0.0.5:8443/hook', /not a public address/],
    ['https://169.254.169.254/latest/meta-data', /not a public address/],
    ['https://[::1]/hook', /not a public address/],
    ['https://[::ffff:127.0.0.1]/hook', /not a public address/],
    ['https://[fd00::1]/hook', /not a public address/],
    ['https://localhost/hook', /local machine/],
    ['https://LOCALHOST:3000/hook', /local machine/],
    ['https://localhost./hook', /local machine/],
    ['https://api.localhost/hook', /local machine/],
    [`https://partner.example.com/${'a'.repeat(2048)}`, /longer than 2048/],
    [
      `https://partner.example.com/${'a'.repeat(2048 - 'https://partner.example.com/'.length + 1)}`,
      /longer than 2048/,
    ],
  ])('%s is refused', (raw, reason) => {
    let caught: unknown;
    try {
      checkUrl(raw, strict);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(UrlRefused);
    expect((caught as UrlRefused).reason).toMatch(reason);
    expect((caught as UrlRefused).message).toBe((caught as UrlRefused).reason);
  });

  test.each([
    ['https://partner.example.com:22/hook', strict],
    ['https://partner.example.com:80/hook', strict],
    ['https://partner.example.com:25/hook', strict],
    ['https://partner.example.com:0/hook', strict],
    ['https://partner.example.com:1023/hook', strict],
    ['http://localhost:22/hook', local],
    ['http://127.0.0.1:25/hook', local],
    ['https://localhost:80/hook', strict],
  ])('%s: a port below 1024 other than 443 (and 80 for http) is refused', (raw, opts) => {
    expect(() => checkUrl(raw, opts)).toThrow(/port/);
  });

  test.each([
    ['https://partner.example.com:443/hook', strict],
    ['https://partner.example.com:1024/hook', strict],
    ['https://partner.example.com:8443/hook', strict],
    ['http://localhost:80/hook', local],
    ['http://localhost/hook', local],
    ['http://localhost:443/hook', local],
  ])('%s: port 443, 80 where http is allowed, and ports from 1024 up are accepted', (raw, opts) => {
    expect(checkUrl(raw, opts)).toBeInstanceOf(URL);
  });

  test.each([
    'http://localhost:3000/hook',
    'http://127.0.0.1:3000/hook',
    'https://api.localhost/hook',
    'http://[::1]:8080/hook',
    'http://192.168.1.20/hook',
  ])('%s is accepted when the operator allows private addresses', (raw) => {
    expect(checkUrl(raw, local)).toBeInstanceOf(URL);
  });

  test.each([
    ['ftp://localhost/hook', /must use https/],
    ['http://user:pass@localhost/hook', /credentials/],
    ['http://localhost/hook#x', /fragment/],
    [`http://localhost/${'a'.repeat(2048)}`, /longer than 2048/],
  ])('%s is refused even when private addresses are allowed', (raw, reason) => {
    expect(() => checkUrl(raw, local)).toThrow(reason);
  });
});

type LookupOutcome = {
  err: NodeJS.ErrnoException | null;
  address: string | LookupAddress[];
  family?: number;
};

function lookupOnce(allowPrivate: boolean, hostname: string, all: boolean): Promise<LookupOutcome> {
  return new Promise((resolve) => {
    guardedLookup(allowPrivate)(hostname, { all }, (err, address, family) =>
      resolve({ err, address, family }),
    );
  });
}

describe('guardedLookup', () => {
  test.each([true, false])('refuses localhost with all: %s', async (all) => {
    const { err } = await lookupOnce(false, 'localhost', all);
    expect(err?.code).toBe('EFPTBLOCKED');
    expect(err?.message).toMatch(/refusing to connect to localhost: it resolves to (127\.0\.0\.1|::1)/);
  });

  test('refuses an IP literal that is not public', async () => {
    const { err } = await lookupOnce(false, '10.1.2.3', false);
    expect(err?.code).toBe('EFPTBLOCKED');
  });

  test('allows localhost when private addresses are allowed, in the shape the caller asked for', async () => {
    const one = await lookupOnce(true, 'localhost', false);
    expect(one.err).toBeNull();
    expect(typeof one.address).toBe('string');
    expect([4, 6]).toContain(one.family);

    const all = await lookupOnce(true, 'localhost', true);
    expect(all.err).toBeNull();
    expect(Array.isArray(all.address)).toBe(true);
    expect(all.address).toContainEqual(expect.objectContaining({ address: expect.any(String), family: 4 }));
  });

  test('allows a public IP literal and honours the requested family', async () => {
    const { err, address, family } = await lookupOnce(false, '8.8.8.8', false);
    expect(err).toBeNull();
    expect(address).toBe('8.8.8.8');
    expect(family).toBe(4);
  });
});

describe('a delivery agent using guardedLookup', () => {
  let server: Server;
  let port: number;

  beforeAll(async () => {
    server = createServer((_req, res) => res.end('ok'));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });

  afterAll(async () => {
    await new Promise<void>((resolve, reject) => server.close((err) => (err ? reject(err) : resolve())));
  });

  test('cannot reach a loopback server addressed by name', async () => {
    const agent = new Agent({ connect: { lookup: guardedLookup(false) } });
    try {
      await expect(request(`http://localhost:${port}/`, { dispatcher: agent })).rejects.toMatchObject({
        code: 'EFPTBLOCKED',
        message: expect.stringContaining('localhost'),
      });
    } finally {
      await agent.close();
    }
  });

  test('reaches the same server when private addresses are allowed', async () => {
    const agent = new Agent({ connect: { lookup: guardedLookup(true) } });
    try {
      const res = await request(`http://localhost:${port}/`, { dispatcher: agent });
      expect(res.statusCode).toBe(200);
      expect(await res.body.text()).toBe('ok');
    } finally {
      await agent.close();
    }
  });
});
