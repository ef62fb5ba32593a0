/**
 * The hash chain, defined exactly so an auditor can recompute it with any tool.
 *
 *   hash = lowercase_hex( SHA-256( ASCII(prev_hash) ‖ UTF-8(C) ) )
 *
 * - prev_hash is the previous event's `hash` as its 64 lowercase hex
 *   characters (the ASCII text, not the 32 decoded bytes). The first event
 *   (seq 1) has prev_hash = 64 × "0" (GENESIS_HASH).
 * - C is the canonical JSON (RFC 8785, JCS) of the event object WITHOUT its
 *   `hash` member, i.e. exactly these ten members:
 *     action, actor, component, details, outcome, prev_hash, reason, seq, subject, ts
 *   seq is a JSON number, details a JSON object, the rest JSON strings.
 * - Canonical JSON: object members sorted by key, compared as UTF-16 code
 *   units, at every depth; no whitespace; strings escaped as ECMAScript
 *   JSON.stringify does (", \, and U+0000–U+001F as \b \f \n \r \t or
 *   \u00xx with lowercase hex; everything else literal, UTF-8 encoded);
 *   numbers in ECMAScript shortest round-trip form (-0 → 0, 1e21, 1.5e-7).
 *   Lone surrogates and non-finite numbers are rejected, so every value is
 *   I-JSON as JCS requires.
 *
 * Cross-check with Python 3 for events whose details use integer numbers and
 * keys below U+E000 (where Python's ordering and number format agree):
 *   c = json.dumps({k: v for k, v in ev.items() if k != "hash"}, sort_keys=True,
 *                  separators=(",", ":"), ensure_ascii=False)
 *   hashlib.sha256((ev["prev_hash"] + c).encode("utf-8")).hexdigest() == ev["hash"]
 *
 * The `details` column in SQLite stores the canonical JSON of details, so
 * C can be built from a row with plain string concatenation.
 */
import * as nodeCrypto from "node:crypto";
import { AuditError } from "./errors.js";

export const GENESIS_HASH = "0".repeat(64);

const LONE_SURROGATE = /[\uD800-\uDFFF]/u;

function canonicalString(value: string): string {
  // In a /u regex a surrogate class only matches an unpaired half.
  if (LONE_SURROGATE.test(value)) {
    throw new AuditError("invalid_event", "string contains an unpaired UTF-16 surrogate");
  }
  return JSON.stringify(value);
}

// Member names repeat endlessly across events: remember their escaped form (bounded).
const keyCache = new Map<string, string>();
const KEY_CACHE_MAX = 4096;

function canonicalKey(key: string): string {
  let out = keyCache.get(key);
  if (out === undefined) {
    out = canonicalString(key);
    if (keyCache.size >= KEY_CACHE_MAX) keyCache.clear();
    keyCache.set(key, out);
  }
  return out;
}

function canonicalValue(value: unknown, depth: number, maxDepth: number): string {
  switch (typeof value) {
    case "string":
      return canonicalString(value);
    case "number":
      if (!Number.isFinite(value)) throw new AuditError("invalid_event", "numbers must be finite");
      return JSON.stringify(value);
    case "boolean":
      return value ? "true" : "false";
    case "object":
      break;
    default:
      throw new AuditError("invalid_event", `a ${typeof value} is not a JSON value`);
  }
  if (value === null) return "null";
  if (depth >= maxDepth) throw new AuditError("invalid_event", `JSON nested deeper than ${maxDepth} levels`);
  if (Array.isArray(value)) {
    let out = "[";
    for (let i = 0; i < value.length; i++) out += (i === 0 ? "" : ",") + canonicalValue(value[i], depth + 1, maxDepth);
    return `${out}]`;
  }
  const proto: unknown = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) {
    throw new AuditError("invalid_event", "only plain objects and arrays are JSON containers");
  }
  // Default sort compares UTF-16 code units, which is what JCS specifies.
  const keys = Object.keys(value).sort();
  const record = value as Record<string, unknown>;
  let out = "{";
  for (let i = 0; i < keys.length; i++) {
    out += `${i === 0 ? "" : ","}${canonicalKey(keys[i])}:${canonicalValue(record[keys[i]], depth + 1, maxDepth)}`;
  }
  return `${out}}`;
}

/**
 * RFC 8785 canonical JSON of a JSON value. Throws AuditError("invalid_event")
 * for anything that is not plain JSON (undefined, functions, bigint, class
 * instances, sparse arrays, non-finite numbers, lone surrogates) or is nested
 * deeper than maxDepth containers.
 */
export function canonicalJson(value: unknown, maxDepth = 64): string {
  return canonicalValue(value, 0, maxDepth);
}

/** The fields hashed, with details already in canonical JSON form. */
export interface HashedFields {
  seq: number;
  ts: string;
  component: string;
  action: string;
  outcome: string;
  actor: string;
  subject: string;
  reason: string;
  detailsJson: string;
  prev_hash: string;
}

/** C from the module comment: members written in sorted key order, each text field through str. */
function eventText(f: HashedFields, str: (value: string) => string): string {
  return (
    `{"action":${str(f.action)},"actor":${str(f.actor)}` +
    `,"component":${str(f.component)},"details":${f.detailsJson}` +
    `,"outcome":${str(f.outcome)},"prev_hash":${str(f.prev_hash)}` +
    `,"reason":${str(f.reason)},"seq":${JSON.stringify(f.seq)}` +
    `,"subject":${str(f.subject)},"ts":${str(f.ts)}}`
  );
}

/** C from the module comment. */
export function eventCanonicalJson(f: HashedFields): string {
  return eventText(f, canonicalString);
}

// One-shot crypto.hash (Node >= 20.12) is several times cheaper than createHash per event.
const oneShot: ((algorithm: string, data: string, encoding: "hex") => string) | undefined =
  typeof nodeCrypto.hash === "function" ? nodeCrypto.hash : undefined;

/** SHA-256 of the UTF-8 text, lowercase hex. prev_hash is ASCII, so its UTF-8 is its ASCII. */
function sha256Hex(text: string): string {
  return oneShot !== undefined ? oneShot("sha256", text, "hex") : nodeCrypto.createHash("sha256").update(text, "utf8").digest("hex");
}

/** The event hash (see the module comment). */
export function computeEventHash(f: HashedFields): string {
  return sha256Hex(f.prev_hash + eventText(f, canonicalString));
}

/** True when the string holds an unpaired UTF-16 surrogate (which canonical JSON rejects). */
export function hasLoneSurrogate(value: string): boolean {
  return LONE_SURROGATE.test(value);
}

/**
 * computeEventHash for fields the caller already checked (prepareEvent
 * rejects lone surrogates in every text field; ts and prev_hash are
 * ASCII): the same bytes, without scanning each field again on the append path.
 */
export function computeCheckedEventHash(f: HashedFields): string {
  return sha256Hex(f.prev_hash + eventText(f, JSON.stringify));
}

const HEX64 = /^[0-9a-f]{64}$/;

export function isHashHex(value: unknown): value is string {
  return typeof value === "string" && HEX64.test(value);
}
