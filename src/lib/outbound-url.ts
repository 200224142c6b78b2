// Requests this Worker sends to URLs that organizations give it (the appointment webhook now,
// outbound webhooks later) must never reach this machine, a private network or a cloud metadata
// service. Two guards, both needed:
// - `outboundUrlRefusal`, when a URL is set and again before each delivery: https, a domain name
//   (no IP literal in any notation: the URL parser turns `0x7f.1` or `2130706433` into dotted
//   form first), no private-use name, no wildcard-DNS service that maps names to any address.
// - `checkOutboundHost`, before each delivery: every A and AAAA record of the name, resolved
//   through DNS over HTTPS (DOH_RESOLVER_URL), is a public unicast address. A name that resolves
//   to nothing, and a resolver that fails, are "retry later" (fail closed: nothing is sent).
// Limit: `fetch` resolves the name again itself, so a name whose records change between the two
// look-ups (DNS rebinding) can still slip through; the known rebinding and wildcard services are
// refused by name, and Cloudflare's own fetch does not reach private networks in production.
import { z } from 'zod';

/**
 * Special-use names that resolve to this machine or a private network, never to a public receiver:
 * `.localhost` (RFC 6761), `.local` (mDNS, RFC 6762), `.home.arpa` (RFC 8375), `.internal`
 * (ICANN's private-use TLD, e.g. cloud metadata hosts), and the de-facto private suffixes of
 * operating systems, home routers and Kubernetes (`localhost.localdomain`, `kubernetes.default.svc`).
 */
const PRIVATE_NAME_SUFFIXES = [
  'internal',
  'local',
  'localhost',
  'home.arpa',
  'localdomain',
  'lan',
  'intranet',
  'corp',
  'home',
  'svc',
];

/**
 * Services whose names resolve to whatever address the name spells (`10.0.0.1.nip.io`), or always
 * to loopback (`localtest.me`), or alternate between two addresses (DNS rebinding test services).
 */
const WILDCARD_DNS_DOMAINS = [
  'nip.io',
  'sslip.io',
  'xip.io',
  'traefik.me',
  'backname.io',
  'localtest.me',
  'lvh.me',
  'vcap.me',
  'lacolhost.com',
  'localhost.direct',
  'fuf.me',
  '1u.ms',
  'rbndr.us',
  'rebind.it',
];

const underAny = (host: string, domains: string[]) =>
  domains.some((domain) => host === domain || host.endsWith(`.${domain}`));

/** Why `url` may not be called, or undefined when its form is fine (its addresses are checked later). */
export function outboundUrlRefusal(url: string): string | undefined {
  if (!URL.canParse(url)) return 'Not a URL.';
  const { protocol, hostname } = new URL(url);
  if (protocol !== 'https:') return 'Must be an https:// URL.';
  const host = hostname.toLowerCase().replace(/\.$/, '');
  if (!z.regexes.domain.test(host)) return 'Must name a host by a domain name, not an IP address or a single label.';
  if (underAny(host, PRIVATE_NAME_SUFFIXES))
    return `Must reach a public host, not a private name (.${PRIVATE_NAME_SUFFIXES.join(', .')}).`;
  if (underAny(host, WILDCARD_DNS_DOMAINS))
    return `Must reach a public host: ${host} is under a wildcard DNS service that resolves to any address.`;
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// Addresses

const ipv4 = (text: string): number[] | undefined => {
  const parts = text.split('.');
  if (parts.length !== 4 || !parts.every((p) => /^\d{1,3}$/.test(p) && Number(p) <= 255)) return undefined;
  return parts.map(Number);
};

/** The 8 groups of an IPv6 address in text (with `::` and a trailing dotted IPv4 allowed). */
const ipv6 = (text: string): number[] | undefined => {
  let body = text.toLowerCase();
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(body);
  if (dotted) {
    const v4 = ipv4(dotted[1]!);
    if (!v4) return undefined;
    body =
      body.slice(0, -dotted[1]!.length) +
      `${((v4[0]! << 8) | v4[1]!).toString(16)}:${((v4[2]! << 8) | v4[3]!).toString(16)}`;
  }
  const halves = body.split('::');
  if (halves.length > 2) return undefined;
  const groups = (half: string) => (half === '' ? [] : half.split(':'));
  const head = groups(halves[0]!);
  const tail = halves.length === 2 ? groups(halves[1]!) : [];
  const missing = 8 - head.length - tail.length;
  if (halves.length === 1 ? missing !== 0 : missing < 1) return undefined;
  const all = [...head, ...Array<string>(halves.length === 2 ? missing : 0).fill('0'), ...tail];
  if (!all.every((g) => /^[0-9a-f]{1,4}$/.test(g))) return undefined;
  return all.map((g) => parseInt(g, 16));
};

const inV4 = (a: number[], prefix: [number, number, number, number], bits: number) => {
  const value = (b: number[]) => ((b[0]! << 24) | (b[1]! << 16) | (b[2]! << 8) | b[3]!) >>> 0;
  const mask = bits === 0 ? 0 : (~0 << (32 - bits)) >>> 0;
  return (value(a) & mask) >>> 0 === (value(prefix) & mask) >>> 0;
};

/** Not the public Internet: this host, private networks, link-local (metadata), CGNAT, reserved. */
const NON_PUBLIC_V4: [[number, number, number, number], number][] = [
  [[0, 0, 0, 0], 8],
  [[10, 0, 0, 0], 8],
  [[100, 64, 0, 0], 10],
  [[127, 0, 0, 0], 8],
  [[169, 254, 0, 0], 16],
  [[172, 16, 0, 0], 12],
  [[192, 0, 0, 0], 24],
  [[192, 0, 2, 0], 24],
  [[192, 88, 99, 0], 24],
  [[192, 168, 0, 0], 16],
  [[198, 18, 0, 0], 15],
  [[198, 51, 100, 0], 24],
  [[203, 0, 113, 0], 24],
  [[224, 0, 0, 0], 4],
  [[240, 0, 0, 0], 4],
];

/**
 * Whether `address` (as DNS answers it) is a public unicast address. IPv6 must be global unicast
 * (2000::/3), which leaves out loopback, unspecified, IPv4-mapped and NAT64 forms, unique-local
 * (fc00::/7, e.g. fd00:ec2::254), link-local and multicast; within it, documentation, Teredo and
 * other IETF assignments (2001::/23) and 6to4 (2002::/16, which embeds any IPv4) are refused too.
 */
export function isPublicAddress(address: string): boolean {
  const v4 = ipv4(address);
  if (v4) return !NON_PUBLIC_V4.some(([prefix, bits]) => inV4(v4, prefix, bits));
  const v6 = ipv6(address);
  if (!v6) return false;
  const [g0, g1] = [v6[0]!, v6[1]!];
  return (
    (g0 & 0xe000) === 0x2000 && !(g0 === 0x2001 && g1 < 0x200) && !(g0 === 0x2001 && g1 === 0xdb8) && g0 !== 0x2002
  );
}

// ---------------------------------------------------------------------------------------------
// Resolution

export type OutboundConfig = { DOH_RESOLVER_URL?: string; OUTBOUND_DNS_CHECK?: string };

export const DEFAULT_DOH_RESOLVER = 'https://cloudflare-dns.com/dns-query';
const RESOLVE_TIMEOUT_MS = 5000;
const RECORD_TYPES = { A: 1, AAAA: 28 } as const;

/** `ok`, or why not and whether a later attempt may succeed (`retry`) or not (`refused`). */
export type HostCheck = { ok: true } | { ok: false; retry: boolean; reason: string };

class ResolverFailure extends Error {}

/** The addresses of one record type, by DNS over HTTPS in JSON (RFC 8427-style `Answer` records). */
async function resolve(resolver: string, host: string, type: keyof typeof RECORD_TYPES): Promise<string[]> {
  const url = new URL(resolver);
  url.searchParams.set('name', host);
  url.searchParams.set('type', type);
  let answer: { Status?: number; Answer?: { type?: number; data?: string }[] };
  try {
    const response = await fetch(url, {
      headers: { accept: 'application/dns-json' },
      signal: AbortSignal.timeout(RESOLVE_TIMEOUT_MS),
    });
    if (!response.ok) {
      await response.body?.cancel();
      throw new ResolverFailure(`the resolver answered HTTP ${response.status}`);
    }
    answer = await response.json();
  } catch (error) {
    throw error instanceof ResolverFailure
      ? error
      : new ResolverFailure(`the resolver could not be reached or read (${String(error)})`);
  }
  if (answer.Status === 3) return []; // NXDOMAIN
  if (answer.Status !== 0) throw new ResolverFailure(`the resolver answered DNS status ${answer.Status}`);
  return (answer.Answer ?? [])
    .filter((record) => record.type === RECORD_TYPES[type] && typeof record.data === 'string')
    .map((r) => r.data!);
}

/**
 * Whether `url` may be called now. Call right before each delivery; `OUTBOUND_DNS_CHECK=off`
 * skips the DNS half (for a dev machine without a resolver, never in production).
 */
export async function checkOutboundHost(url: string, config: OutboundConfig): Promise<HostCheck> {
  const refusal = outboundUrlRefusal(url);
  if (refusal) return { ok: false, retry: false, reason: refusal };
  if (config.OUTBOUND_DNS_CHECK === 'off') return { ok: true };
  const host = new URL(url).hostname.replace(/\.$/, '');
  let addresses: string[];
  try {
    const resolver = config.DOH_RESOLVER_URL || DEFAULT_DOH_RESOLVER;
    addresses = (await Promise.all([resolve(resolver, host, 'A'), resolve(resolver, host, 'AAAA')])).flat();
  } catch (error) {
    return { ok: false, retry: true, reason: `${host} could not be resolved: ${(error as Error).message}` };
  }
  if (addresses.length === 0) return { ok: false, retry: true, reason: `${host} has no A or AAAA record` };
  const internal = addresses.find((address) => !isPublicAddress(address));
  if (internal)
    return { ok: false, retry: false, reason: `${host} resolves to ${internal}, which is not a public address` };
  return { ok: true };
}
