/**
 * Validation of peer X509-SVID chains: every MUST of the SPIFFE X509-SVID
 * standard, plus chain signatures, validity times and revocation.
 *
 * Node's X509Certificate does signatures, issuer matching and dates natively.
 * The extension details it does not expose (criticality, keyUsage bits, cA,
 * the EKU list, every URI SAN) come from a small strict DER walk of the
 * TBSCertificate, so a cert is parsed once and nothing is normalised away.
 */
import { X509Certificate } from "node:crypto";
import { PkiError } from "./errors.js";
import {
  decode,
  DerError,
  readBitString,
  readBoolean,
  readOid,
  readSmallInt,
  readTime,
  readTlv,
  seqChildren,
  TAG,
  type DerNode,
} from "./der.js";
import { pemDecodeLabel } from "./pem.js";
import { normalizeSerial } from "./serial.js";
import { parseSpiffeId, type SpiffeId } from "./spiffe-id.js";

export interface SvidValidationOptions {
  now: Date;
  /** Trusted roots / CA certs of the trust bundle (DER buffers, PEM text or X509Certificate). */
  roots: ReadonlyArray<Buffer | string | X509Certificate>;
  /** Only accept IDs in this trust domain (optional). */
  trustDomain?: string;
  /** Revoked serials in normalizeSerial() form (lowercase hex, no leading zeros); checked for every cert of the chain. */
  isRevoked?: (serialNormalized: string, issuer: X509Certificate) => boolean;
  maxChainLength?: number; // default 5
}

export interface ValidatedSvid {
  spiffeId: SpiffeId;
  leaf: X509Certificate;
  /** normalizeSerial() form. */
  serial: string;
  notAfter: Date;
  /** The validated path: leaf, intermediates, then the trusted root it ends at. */
  chain: X509Certificate[];
}

/** Bound on a peer chain's PEM text. */
export const MAX_PEM_BYTES = 64 * 1024;
/** The trust bundle is local configuration and may hold many CAs during rotations. */
const MAX_BUNDLE_PEM_BYTES = 1024 * 1024;
export const MAX_CERT_DER_BYTES = 64 * 1024;
export const DEFAULT_MAX_CHAIN_LENGTH = 5;

const OID_BASIC_CONSTRAINTS = "2.5.29.19";
const OID_KEY_USAGE = "2.5.29.15";
const OID_EXT_KEY_USAGE = "2.5.29.37";
const OID_SAN = "2.5.29.17";
/** Extensions we either process here or OpenSSL processes during checkIssued; any other critical one is refused. */
const PARSED_EXTENSIONS = new Set([OID_BASIC_CONSTRAINTS, OID_KEY_USAGE, OID_EXT_KEY_USAGE, OID_SAN]);
const HANDLED_EXTENSIONS = new Set([...PARSED_EXTENSIONS, "2.5.29.14", "2.5.29.35"]);
export const EKU_SERVER_AUTH = "1.3.6.1.5.5.7.3.1";
export const EKU_CLIENT_AUTH = "1.3.6.1.5.5.7.3.2";
// keyUsage bit n is 0x8000 >> n once the first two bytes of the BIT STRING are read big-endian.
const KU_DIGITAL_SIGNATURE = 0x8000;
const KU_KEY_CERT_SIGN = 0x0400;
const KU_CRL_SIGN = 0x0200;

function fail(reason: string): never {
  throw new PkiError("invalid_svid", reason);
}

// ---------------------------------------------------------------- DER facts

/** What the SVID rules need from one certificate, read from its DER. */
export interface CertFacts {
  subjectEmpty: boolean;
  notBefore: Date;
  notAfter: Date;
  /** Absent basicConstraints reads as cA=false (RFC 5280 default). */
  ca: boolean;
  pathLen?: number;
  keyUsage?: { bits: number; critical: boolean };
  eku?: string[];
  uris: string[];
  sanCritical: boolean;
}

function parseExtension(oid: string, critical: boolean, inner: DerNode, facts: CertFacts): void {
  switch (oid) {
    case OID_BASIC_CONSTRAINTS: {
      const f = seqChildren(inner, "basicConstraints", 0, 2);
      let j = 0;
      if (f[j]?.tag === TAG.BOOLEAN) facts.ca = readBoolean(f[j++]!, "cA");
      if (f[j]?.tag === TAG.INTEGER) facts.pathLen = readSmallInt(f[j++]!, "pathLenConstraint");
      if (j !== f.length) throw new DerError("basicConstraints: unexpected element");
      break;
    }
    case OID_KEY_USAGE: {
      const { bits } = readBitString(inner, "keyUsage");
      if (bits.length === 0) throw new DerError("keyUsage: no bits");
      facts.keyUsage = { bits: (bits[0]! << 8) | (bits[1] ?? 0), critical };
      break;
    }
    case OID_EXT_KEY_USAGE:
      facts.eku = seqChildren(inner, "extKeyUsage", 1).map((t) => readOid(t, "KeyPurposeId"));
      break;
    case OID_SAN:
      facts.sanCritical = critical;
      for (const gn of seqChildren(inner, "subjectAltName", 1)) {
        // [6] IMPLICIT IA5String. Latin-1 keeps any stray byte visible to the SPIFFE ID parser, which rejects it.
        if (gn.tag === 0x86) facts.uris.push(gn.content.toString("latin1"));
      }
      break;
  }
}

function parseExtensions(exts: DerNode, facts: CertFacts): void {
  const list = exts.children();
  if (list.length !== 1) throw new DerError("extensions: expected one SEQUENCE");
  const seen = new Set<string>();
  for (const ext of seqChildren(list[0]!, "Extensions", 1)) {
    const parts = seqChildren(ext, "Extension", 2, 3);
    const oid = readOid(parts[0]!, "extnID");
    const critical = parts.length === 3 ? readBoolean(parts[1]!, "critical") : false;
    const value = parts[parts.length - 1]!.expect(TAG.OCTET_STRING, "extnValue");
    // Two SAN extensions could hide a second URI SAN from a checker that reads only the first.
    if (seen.has(oid)) fail(`duplicate extension ${oid}`);
    seen.add(oid);
    if (critical && !HANDLED_EXTENSIONS.has(oid)) fail(`unsupported critical extension ${oid}`);
    if (!PARSED_EXTENSIONS.has(oid)) continue;
    const inner = readTlv(value.buf, value.contentStart, value.end, value.depth + 1);
    if (inner.end !== value.end) throw new DerError(`extension ${oid}: trailing bytes`);
    parseExtension(oid, critical, inner, facts);
  }
}

/** Reads the SVID-relevant facts of a DER certificate; malformed input is an invalid_svid. */
export function readCertFacts(der: Buffer): CertFacts {
  try {
    const top = seqChildren(decode(der), "Certificate", 3, 3);
    const tbs = seqChildren(top[0]!, "TBSCertificate", 6, 10);
    const off = tbs[0]!.tag === 0xa0 ? 1 : 0;
    const validity = seqChildren(tbs[off + 3]!, "validity", 2, 2);
    const subject = tbs[off + 4]!.expect(TAG.SEQUENCE, "subject");
    const facts: CertFacts = {
      subjectEmpty: subject.content.length === 0,
      notBefore: readTime(validity[0]!, "notBefore"),
      notAfter: readTime(validity[1]!, "notAfter"),
      ca: false,
      uris: [],
      sanCritical: false,
    };
    const exts = tbs.slice(off + 6).find((t) => t.tag === 0xa3);
    if (exts) parseExtensions(exts, facts);
    return facts;
  } catch (err) {
    if (err instanceof PkiError && err.code === "invalid_svid") throw err;
    return fail(`malformed certificate: ${err instanceof Error ? err.message : String(err)}`);
  }
}

// ---------------------------------------------------------------- shape rules

function leafShape(f: CertFacts): SpiffeId {
  if (f.uris.length === 0) fail("leaf has no URI SAN");
  if (f.uris.length > 1) fail(`leaf has ${f.uris.length} URI SANs, exactly one is allowed`);
  let id: SpiffeId;
  try {
    id = parseSpiffeId(f.uris[0]!);
  } catch (err) {
    fail(`leaf URI SAN is not a valid SPIFFE ID: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (id.path === "") fail("leaf SPIFFE ID has no path (a trust-domain ID cannot identify a workload)");
  if (f.subjectEmpty && !f.sanCritical) fail("leaf subject is empty but the SAN extension is not critical");
  if (f.ca) fail("leaf has basicConstraints cA=true");
  if (!f.keyUsage) fail("leaf has no keyUsage extension");
  if (!f.keyUsage.critical) fail("leaf keyUsage extension is not critical");
  if (!(f.keyUsage.bits & KU_DIGITAL_SIGNATURE)) fail("leaf keyUsage lacks digitalSignature");
  if (f.keyUsage.bits & KU_KEY_CERT_SIGN) fail("leaf keyUsage has keyCertSign");
  if (f.keyUsage.bits & KU_CRL_SIGN) fail("leaf keyUsage has cRLSign");
  if (f.eku) {
    const missing = [
      ...(f.eku.includes(EKU_SERVER_AUTH) ? [] : ["serverAuth"]),
      ...(f.eku.includes(EKU_CLIENT_AUTH) ? [] : ["clientAuth"]),
    ];
    if (missing.length > 0) fail(`leaf extendedKeyUsage lacks ${missing.join(" and ")}`);
  }
  return id;
}

/** Returns the signing cert's trust-domain ID when it carries one. */
function signingShape(f: CertFacts, label: string): string | undefined {
  if (!f.ca) fail(`${label} is not a CA (basicConstraints cA is not true)`);
  if (!f.keyUsage) fail(`${label} has no keyUsage extension`);
  if (!f.keyUsage.critical) fail(`${label} keyUsage extension is not critical`);
  if (!(f.keyUsage.bits & KU_KEY_CERT_SIGN)) fail(`${label} keyUsage lacks keyCertSign`);
  if (f.uris.length === 0) return undefined;
  if (f.uris.length > 1) fail(`${label} has ${f.uris.length} URI SANs, at most one is allowed`);
  let id: SpiffeId;
  try {
    id = parseSpiffeId(f.uris[0]!);
  } catch (err) {
    fail(`${label} URI SAN is not a valid SPIFFE ID: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (id.path !== "") fail(`${label} SPIFFE ID must be a trust-domain ID without a path`);
  return id.trustDomain;
}

/** Shape checks of a leaf SVID (no chain, no time); returns its SPIFFE ID. */
export function checkLeafShape(certDer: Buffer): SpiffeId {
  return leafShape(readCertFacts(certDer));
}

/** Shape checks of a signing (CA) certificate (no chain, no time). */
export function checkSigningCertShape(certDer: Buffer): void {
  signingShape(readCertFacts(certDer), "signing certificate");
}

// ---------------------------------------------------------------- inputs

/*
 * CA certificates (intermediates, bundle roots) recur on every handshake and
 * Node's X509Certificate constructor is the costliest step, so they are kept
 * by their exact DER. The leaf is always parsed afresh.
 */
const CA_CACHE_MAX = 256;
const caCertCache = new Map<string, X509Certificate>();
const factsCache = new WeakMap<X509Certificate, CertFacts>();

function parseCert(der: Buffer, cacheable: boolean, what: string): X509Certificate {
  const key = cacheable ? der.toString("latin1") : "";
  const hit = cacheable ? caCertCache.get(key) : undefined;
  if (hit) return hit;
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(der);
  } catch {
    return fail(`${what} cannot be parsed`);
  }
  if (cacheable) {
    if (caCertCache.size >= CA_CACHE_MAX) caCertCache.delete(caCertCache.keys().next().value!);
    caCertCache.set(key, cert);
  }
  return cert;
}

/** Facts of a CA certificate, computed once per X509Certificate object. */
function caFacts(cert: X509Certificate): CertFacts {
  let f = factsCache.get(cert);
  if (!f) {
    f = readCertFacts(cert.raw);
    factsCache.set(cert, f);
  }
  return f;
}

/** Expands PEM, bounds counts and sizes; entry 0 (the leaf) is not cached when `leafFirst`. */
function toCerts(
  input: ReadonlyArray<Buffer | string | X509Certificate>,
  max: number,
  what: string,
  leafFirst: boolean,
): X509Certificate[] {
  const pemMax = leafFirst ? MAX_PEM_BYTES : MAX_BUNDLE_PEM_BYTES;
  const out: X509Certificate[] = [];
  const push = (item: Buffer | X509Certificate): void => {
    if (out.length >= max) fail(`${what} longer than ${max} certificates`);
    const n = out.length;
    if (item instanceof X509Certificate) out.push(item);
    else if (item.length > MAX_CERT_DER_BYTES) fail(`${what} certificate larger than ${MAX_CERT_DER_BYTES} bytes`);
    else out.push(parseCert(item, !(leafFirst && n === 0), `${what} certificate ${n}`));
  };
  const pushPem = (text: string): void => {
    if (text.length > pemMax) fail(`${what} PEM larger than ${pemMax} bytes`);
    const blocks = pemDecodeLabel(text, "CERTIFICATE", pemMax);
    if (blocks.length === 0) fail(`${what} PEM has no CERTIFICATE block`);
    for (const b of blocks) push(b);
  };
  if (input.length > max) fail(`${what} longer than ${max} certificates`);
  for (const item of input) {
    if (item instanceof X509Certificate) push(item);
    else if (typeof item === "string") pushPem(item);
    else if (Buffer.isBuffer(item) && item[0] === 0x30) push(item);
    else if (Buffer.isBuffer(item)) {
      if (item.length > pemMax) fail(`${what} PEM larger than ${pemMax} bytes`);
      pushPem(item.toString("latin1"));
    } else fail(`${what} entry is not a Buffer, string or X509Certificate`);
  }
  return out;
}

// ---------------------------------------------------------------- chain

/** CA→CA links already verified; both ends are immutable, so a success stays true. */
const verifiedLinks = new WeakMap<X509Certificate, WeakSet<X509Certificate>>();

/** Name match (and AKI/SKI, via OpenSSL) plus a real signature check. */
function issuedBy(child: X509Certificate, issuer: X509Certificate, remember: boolean): boolean {
  if (remember && verifiedLinks.get(child)?.has(issuer)) return true;
  let ok: boolean;
  try {
    ok = child.checkIssued(issuer) && child.verify(issuer.publicKey);
  } catch {
    ok = false; // unsupported key or signature algorithm
  }
  if (ok && remember) {
    const set = verifiedLinks.get(child) ?? new WeakSet<X509Certificate>();
    set.add(issuer);
    verifiedLinks.set(child, set);
  }
  return ok;
}

function checkTime(f: CertFacts, label: string, now: Date): void {
  if (now.getTime() < f.notBefore.getTime()) fail(`${label} is not yet valid (notBefore ${f.notBefore.toISOString()})`);
  if (now.getTime() > f.notAfter.getTime()) fail(`${label} has expired (notAfter ${f.notAfter.toISOString()})`);
}

/**
 * Validates a peer chain: leaf first, then intermediates, optionally ending in
 * (or passing through) a trusted root. Throws PkiError("invalid_svid", reason).
 */
export function validateX509Svid(
  chain: ReadonlyArray<Buffer | string | X509Certificate>,
  opts: SvidValidationOptions,
): ValidatedSvid {
  const max = opts.maxChainLength ?? DEFAULT_MAX_CHAIN_LENGTH;
  if (!(opts.now instanceof Date) || Number.isNaN(opts.now.getTime())) {
    throw new PkiError("invalid_argument", "validateX509Svid needs a valid `now`");
  }
  const certs = toCerts(chain, max, "chain", true);
  if (certs.length === 0) fail("chain is empty");
  const roots = toCerts(opts.roots, Number.MAX_SAFE_INTEGER, "trust bundle", false);
  if (roots.length === 0) fail("trust bundle has no roots");

  // A peer may send the root, or a trusted CA part-way up: the path ends there.
  let path = certs;
  let anchor: X509Certificate | undefined;
  for (let i = 1; i < certs.length && !anchor; i++) {
    anchor = roots.find((r) => r.raw.equals(certs[i]!.raw));
    if (anchor) path = certs.slice(0, i);
  }
  const label = (i: number): string => (i === 0 ? "leaf" : `intermediate ${i}`);

  const facts = path.map((c, i) => (i === 0 ? readCertFacts(c.raw) : caFacts(c)));
  const spiffeId = leafShape(facts[0]!);
  const signerTds: Array<[string, string | undefined]> = [];
  for (let i = 1; i < path.length; i++) {
    const f = facts[i]!;
    signerTds.push([label(i), signingShape(f, label(i))]);
    if (f.pathLen !== undefined && i - 1 > f.pathLen) fail(`${label(i)} pathLenConstraint ${f.pathLen} exceeded`);
  }
  for (let i = 0; i + 1 < path.length; i++) {
    if (!issuedBy(path[i]!, path[i + 1]!, i > 0)) fail(`${label(i)} is not signed by ${label(i + 1)}`);
  }
  const top = path[path.length - 1]!;
  const remember = path.length > 1;
  anchor = anchor && issuedBy(top, anchor, remember) ? anchor : roots.find((r) => issuedBy(top, r, remember));
  if (!anchor) fail(`${label(path.length - 1)} is not signed by any trusted root`);
  const rootFacts = caFacts(anchor);
  signerTds.push(["root", signingShape(rootFacts, "root")]);
  if (rootFacts.pathLen !== undefined && path.length - 1 > rootFacts.pathLen) {
    fail(`root pathLenConstraint ${rootFacts.pathLen} exceeded`);
  }

  for (let i = 0; i < path.length; i++) checkTime(facts[i]!, label(i), opts.now);
  checkTime(rootFacts, "root", opts.now);

  const serials = path.map((c) => normalizeSerial(c.serialNumber));
  if (opts.isRevoked) {
    for (let i = 0; i < path.length; i++) {
      if (opts.isRevoked(serials[i]!, path[i + 1] ?? anchor)) fail(`${label(i)} serial ${serials[i]} is revoked`);
    }
  }

  if (opts.trustDomain !== undefined && spiffeId.trustDomain !== opts.trustDomain) {
    fail(`leaf trust domain '${spiffeId.trustDomain}' is not the expected '${opts.trustDomain}'`);
  }
  for (const [who, td] of signerTds) {
    if (td !== undefined && td !== spiffeId.trustDomain) {
      fail(`leaf trust domain '${spiffeId.trustDomain}' does not match ${who} trust domain '${td}'`);
    }
  }

  return { spiffeId, leaf: path[0]!, serial: serials[0]!, notAfter: facts[0]!.notAfter, chain: [...path, anchor] };
}
