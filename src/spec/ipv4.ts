/** An IPv4 address or range: its four octets and prefix length (32 for a single address). */
export interface Ipv4Range {
  readonly octets: readonly [number, number, number, number];
  readonly prefix: number;
}

const IPV4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})(?:\/(\d{1,2}))?$/;

/**
 * Parses `a.b.c.d/n` (or, unless `prefix` is `required`, a bare `a.b.c.d`, as a /32); undefined when it is not an
 * IPv4 address or range (an octet above 255, a prefix above 32).
 */
export function parseIpv4(s: unknown, prefix: 'required' | 'optional' = 'required'): Ipv4Range | undefined {
  const m = typeof s === 'string' ? IPV4.exec(s) : null;
  if (!m || (m[5] === undefined && prefix === 'required')) return undefined;
  const octets = m.slice(1, 5).map(Number) as [number, number, number, number];
  const length = m[5] === undefined ? 32 : Number(m[5]);
  if (octets.some((o) => o > 255) || length > 32) return undefined;
  return { octets, prefix: length };
}
