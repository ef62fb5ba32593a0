/**
 * Header hygiene on the way through: hop-by-hop headers dropped (RFC 9110
 * §7.6.1, plus any named in Connection), x-request-id kept only when
 * well-formed, x-forwarded-client-cert always set by the proxy itself and
 * never passed through from a client.
 */
import { randomBytes } from "node:crypto";
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from "node:http";
import type { PeerIdentity } from "../peer.js";

const HOP_BY_HOP = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "proxy-authenticate",
  "proxy-authorization",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
  "http2-settings",
]);

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** New ids: a random per-process prefix and a counter (unique without a random draw per request). */
const ID_PREFIX = randomBytes(8).toString("hex");
let idCounter = 0;

/** The request's id: the caller's when trusted and well-formed, else a new one. */
export function requestIdFor(headers: IncomingHttpHeaders, trustCaller: boolean): string {
  const id = headers["x-request-id"];
  if (trustCaller && typeof id === "string" && REQUEST_ID.test(id)) return id;
  idCounter = (idCounter + 1) % Number.MAX_SAFE_INTEGER;
  return `${ID_PREFIX}-${idCounter.toString(36)}`;
}

const NO_TOKENS: readonly string[] = [];
const CLOSE: readonly string[] = ["close"];

/** The options a Connection header names; nearly every message says nothing, keep-alive (itself hop-by-hop) or close, answered without splitting. */
function connectionTokens(v: string | string[] | undefined): readonly string[] {
  if (v === undefined || v === "keep-alive" || v === "Keep-Alive") return NO_TOKENS;
  if (v === "close") return CLOSE;
  const text = Array.isArray(v) ? v.join(",") : v;
  return text.split(",").map((t) => t.trim().toLowerCase()).filter((t) => t !== "");
}

/** Envoy's XFCC element: By (us), Hash (peer leaf), URI (peer SPIFFE ID). */
export function xfccValue(self: string | undefined, peer: PeerIdentity): string {
  const parts: string[] = [];
  if (self) parts.push(`By=${self}`);
  if (peer.certSha256) parts.push(`Hash=${peer.certSha256}`);
  parts.push(`URI=${peer.spiffeId}`);
  return parts.join(";");
}

export interface UpstreamHeaderOptions {
  requestId: string;
  /** The XFCC to set (inbound), or undefined to strip it. */
  xfcc?: string;
  /** Keep Upgrade/Connection: upgrade (WebSocket tunnels). */
  upgrade?: boolean;
  /** Appended to x-forwarded-for (ingress). */
  forwardedFor?: string;
  forwardedProto?: "http" | "https";
}

/** Request headers for the upstream: a fresh object, the client's left as received. */
export function upstreamRequestHeaders(src: IncomingHttpHeaders, o: UpstreamHeaderOptions): OutgoingHttpHeaders {
  const drop = connectionTokens(src.connection);
  const out: OutgoingHttpHeaders = {};
  for (const name in src) {
    if (HOP_BY_HOP.has(name) || name === "x-forwarded-client-cert" || name === "x-request-id") continue;
    if (drop.length > 0 && drop.includes(name)) continue;
    const v = src[name];
    if (v !== undefined) out[name] = v;
  }
  out["x-request-id"] = o.requestId;
  if (o.xfcc !== undefined) out["x-forwarded-client-cert"] = o.xfcc;
  if (o.forwardedFor !== undefined) {
    const prev = src["x-forwarded-for"];
    out["x-forwarded-for"] = prev ? `${Array.isArray(prev) ? prev.join(", ") : prev}, ${o.forwardedFor}` : o.forwardedFor;
  }
  if (o.forwardedProto !== undefined) out["x-forwarded-proto"] = o.forwardedProto;
  if (o.upgrade) {
    out.connection = "upgrade";
    const up = src.upgrade;
    if (up !== undefined) out.upgrade = up;
  }
  return out;
}

/**
 * Response headers for the client from the upstream's raw list ([name, value,
 * ...] as received): a flat list as res.writeHead takes it, names as sent,
 * values as latin1 (what undici decodes them as), hop-by-hop headers and those
 * the Connection header names removed. Repeated headers stay separate lines.
 */
export function downstreamRawHeaders(raw: readonly (Buffer | string)[]): string[] {
  const out: string[] = [];
  let connection: string | undefined;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i]!.toString("latin1");
    const lower = name.toLowerCase();
    const value = raw[i + 1]!.toString("latin1");
    if (lower === "connection") {
      connection = connection === undefined ? value : `${connection},${value}`;
      continue;
    }
    if (HOP_BY_HOP.has(lower)) continue;
    out.push(name, value);
  }
  const drop = connectionTokens(connection);
  if (drop.length === 0) return out;
  const kept: string[] = [];
  for (let i = 0; i < out.length; i += 2) if (!drop.includes(out[i]!.toLowerCase())) kept.push(out[i]!, out[i + 1]!);
  return kept;
}

/** Host without port, lower-cased; IPv6 brackets kept. */
export function hostOf(authority: string | undefined): { host: string; port: number | undefined } {
  if (!authority) return { host: "", port: undefined };
  const a = authority.toLowerCase();
  if (a.startsWith("[")) {
    const end = a.indexOf("]");
    const port = a.slice(end + 1).startsWith(":") ? Number(a.slice(end + 2)) : undefined;
    return { host: a.slice(0, end + 1), port: Number.isInteger(port) ? port : undefined };
  }
  const colon = a.lastIndexOf(":");
  if (colon < 0) return { host: a, port: undefined };
  const port = Number(a.slice(colon + 1));
  return { host: a.slice(0, colon), port: Number.isInteger(port) ? port : undefined };
}
