/**
 * An upstream endpoint: its address and the state the load balancer and
 * outlier detection keep about it. Addresses are "host:port" or
 * "[v6]:port"; hosts are IPs or DNS names.
 */
import { isIP } from "node:net";

export const MAX_ADDRESS_LENGTH = 261;

export interface EndpointAddress {
  /** Canonical "host:port" (lower case, IPv6 in brackets); the identity of the endpoint. */
  readonly address: string;
  /** Host without brackets, as a socket connect wants it. */
  readonly host: string;
  readonly port: number;
}

/** Parses "host:port" / "[v6]:port", or returns why it is not one. */
export function parseEndpointAddress(text: string): EndpointAddress | string {
  const t = text.trim();
  if (t.length === 0) return "empty address";
  if (t.length > MAX_ADDRESS_LENGTH) return `address longer than ${MAX_ADDRESS_LENGTH} characters`;
  let host: string;
  let portText: string;
  if (t.startsWith("[")) {
    const m = /^\[([0-9a-fA-F:.]+)\]:(\d{1,5})$/.exec(t);
    if (!m || isIP(m[1]!) !== 6) return `expected "[IPv6]:PORT", got "${t}"`;
    host = m[1]!.toLowerCase();
    portText = m[2]!;
  } else {
    const m = /^([^:\s]+):(\d{1,5})$/.exec(t);
    if (!m) return `expected HOST:PORT (IPv6 as [addr]:PORT), got "${t}"`;
    host = m[1]!.toLowerCase();
    portText = m[2]!;
    if (isIP(host) !== 4) {
      // All digits and dots but not an IPv4 address (999.1.1.1, 1.2.3): a typo, not a DNS name.
      if (/^[\d.]+$/.test(host)) return `"${host}" is not a valid IPv4 address`;
      if (!/^(?=.{1,253}$)([a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?)(\.[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?)*$/.test(host)) {
        return `"${host}" is not an IP address or DNS name`;
      }
    }
  }
  const port = Number(portText);
  if (port < 1 || port > 65535) return `port ${portText} out of range 1-65535`;
  return { address: isIP(host) === 6 ? `[${host}]:${port}` : `${host}:${port}`, host, port };
}

export class Endpoint implements EndpointAddress {
  readonly address: string;
  readonly host: string;
  readonly port: number;
  /** Requests in flight to this endpoint (picked and not yet reported). */
  active = 0;
  /** 5xx-like results in a row (5xx, connect failure, reset, timeout). */
  consecutive5xx = 0;
  /** Ejected while now < ejectedUntil (ms since the epoch); 0 = never ejected. */
  ejectedUntil = 0;
  /** Ejections so far, decayed while healthy; multiplies the ejection time. */
  ejections = 0;
  /** Results seen, for stats. */
  total = 0;
  errors = 0;

  constructor(addr: EndpointAddress) {
    this.address = addr.address;
    this.host = addr.host;
    this.port = addr.port;
  }

  isEjected(now: number): boolean {
    return now < this.ejectedUntil;
  }
}
