/** X.509 v2 CRLs (RFC 5280 §5): building with the CA key, and a strict bounded parser that can verify the signature. */
import { verify as cryptoVerify, type X509Certificate } from "node:crypto";
import { certificateSubject, resolveIssuer, type Issuer } from "./certificate.js";
import * as der from "./der.js";
import { DerError, TAG, type DerNode } from "./der.js";
import { PkiError } from "./errors.js";
import { OID, signatureAlgorithmIdentifier, signWith } from "./keys.js";
import { pemDecodeAll } from "./pem.js";
import { normalizeSerial } from "./serial.js";

export type RevocationReason =
  | "unspecified"
  | "keyCompromise"
  | "cACompromise"
  | "affiliationChanged"
  | "superseded"
  | "cessationOfOperation"
  | "certificateHold"
  | "privilegeWithdrawn";

export const REVOCATION_REASONS: readonly RevocationReason[] = Object.freeze([
  "unspecified",
  "keyCompromise",
  "cACompromise",
  "affiliationChanged",
  "superseded",
  "cessationOfOperation",
  "certificateHold",
  "privilegeWithdrawn",
] as const);

/** CRLReason ENUMERATED values (7 is unused; 8 removeFromCRL and 10 aACompromise are not ours to issue). */
const REASON_CODE: Record<RevocationReason, number> = {
  unspecified: 0,
  keyCompromise: 1,
  cACompromise: 2,
  affiliationChanged: 3,
  superseded: 4,
  cessationOfOperation: 5,
  certificateHold: 6,
  privilegeWithdrawn: 9,
};
const REASON_BY_CODE = new Map<number, RevocationReason>(
  Object.entries(REASON_CODE).map(([k, v]) => [v, k as RevocationReason]),
);

export interface RevokedEntry {
  serial: string;
  revokedAt: Date;
  reason: RevocationReason;
}

const OIDS = { aki: "2.5.29.35", crlNumber: "2.5.29.20", reasonCode: "2.5.29.21", invalidityDate: "2.5.29.24" };

const invalid = (msg: string, cause?: unknown): PkiError =>
  new PkiError("invalid_argument", msg, cause === undefined ? {} : { cause });

function extension(oidText: string, value: Buffer): Buffer {
  return der.sequence(der.oid(oidText), der.octetString(value));
}

export function buildCrl(opts: {
  issuer: Issuer;
  thisUpdate: Date;
  nextUpdate: Date;
  crlNumber: bigint;
  revoked: readonly RevokedEntry[];
}): Buffer {
  const { issuer, thisUpdate, nextUpdate, crlNumber } = opts;
  if (!(nextUpdate.getTime() > thisUpdate.getTime())) throw invalid("nextUpdate must be later than thisUpdate");
  if (typeof crlNumber !== "bigint" || crlNumber < 0n || crlNumber >= 1n << 159n) {
    throw invalid("crlNumber must be a non-negative integer of at most 20 octets");
  }
  const info = resolveIssuer(issuer);

  const seen = new Set<string>();
  const entries = opts.revoked.map((e) => {
    let serial: string;
    try {
      serial = normalizeSerial(e.serial);
    } catch (err) {
      throw invalid(`bad serial ${JSON.stringify(e.serial)}`, err);
    }
    if (seen.has(serial)) throw invalid(`serial ${serial} listed twice`);
    seen.add(serial);
    const code = REASON_CODE[e.reason];
    if (code === undefined) throw invalid(`unknown revocation reason ${String(e.reason)}`);
    const parts = [der.integer(Buffer.from(serial.length % 2 ? "0" + serial : serial, "hex")), timeOf(e.revokedAt, "revokedAt")];
    // RFC 5280 §5.3.1: omit reasonCode rather than write unspecified.
    if (code !== 0) parts.push(der.sequence(extension(OIDS.reasonCode, der.enumerated(code))));
    return der.sequence(...parts);
  });

  const algId = signatureAlgorithmIdentifier(issuer.keyType);
  const tbs = der.sequence(
    der.integer(1), // v2
    algId,
    info.subjectDer,
    timeOf(thisUpdate, "thisUpdate"),
    timeOf(nextUpdate, "nextUpdate"),
    ...(entries.length > 0 ? [der.sequence(...entries)] : []), // an empty list MUST be absent
    der.explicit(
      0,
      der.sequence(
        extension(OIDS.aki, der.sequence(der.implicit(0, der.octetString(info.ski)))),
        extension(OIDS.crlNumber, der.integer(crlNumber)),
      ),
    ),
  );
  return der.sequence(tbs, algId, der.bitString(signWith(issuer.privateKey, tbs)));
}

function timeOf(d: Date, what: string): Buffer {
  try {
    return der.time(d);
  } catch (err) {
    throw invalid(`${what}: ${(err as Error).message}`);
  }
}

export interface ParsedCrl {
  issuerDer: Buffer;
  thisUpdate: Date;
  nextUpdate?: Date;
  crlNumber?: bigint;
  revoked: Map<string, { revokedAt: Date; reason: RevocationReason }>;
}

export const DEFAULT_MAX_CRL_BYTES = 4 * 1024 * 1024;

const SIG_HASH: Record<string, string> = {
  [OID.ecdsaSha256]: "sha256",
  [OID.ecdsaSha384]: "sha384",
  [OID.ecdsaSha512]: "sha512",
  [OID.rsaSha256]: "sha256",
  [OID.rsaSha384]: "sha384",
  [OID.rsaSha512]: "sha512",
};

function crlDer(input: string | Buffer, maxBytes: number): Buffer {
  if (typeof input !== "string" && !Buffer.isBuffer(input)) throw invalid("CRL input must be a string or a Buffer");
  if (input.length === 0) throw invalid("empty CRL");
  if (input.length > maxBytes) throw invalid(`CRL larger than ${maxBytes} bytes`);
  // DER always starts with a SEQUENCE tag; anything else is taken as PEM text (possibly with a preamble).
  const isPem = typeof input === "string" || input[0] !== TAG.SEQUENCE;
  if (!isPem) return input as Buffer;
  const text = typeof input === "string" ? input : input.toString("latin1");
  const block = pemDecodeAll(text, maxBytes).find((b) => b.label === "X509 CRL");
  if (!block) throw invalid("no X509 CRL PEM block");
  return block.der;
}

/** Walks Extensions, handing each to `onExt`; an unknown critical extension is refused (RFC 5280 §5.2). */
function eachExtension(exts: DerNode, known: readonly string[], onExt: (oid: string, value: DerNode) => void): void {
  for (const ext of der.seqChildren(exts, "Extensions", 1)) {
    const kids = der.seqChildren(ext, "Extension", 2, 3);
    const oidText = der.readOid(kids[0]!, "extnID");
    const critical = kids.length === 3 && der.readBoolean(kids[1]!, "critical");
    const value = kids[kids.length - 1]!.expect(TAG.OCTET_STRING, "extnValue");
    if (!known.includes(oidText)) {
      if (critical) throw invalid(`unsupported critical CRL extension ${oidText}`);
      continue;
    }
    const inner = der.readTlv(value.buf, value.contentStart, value.end, value.depth + 1, value.maxDepth);
    if (inner.end !== value.end) throw new DerError(`trailing bytes in extension ${oidText}`);
    onExt(oidText, inner);
  }
}

function parseEntry(node: DerNode): [string, { revokedAt: Date; reason: RevocationReason }] {
  const [serialNode, dateNode, extsNode] = der.seqChildren(node, "revokedCertificate", 2, 3);
  const serialBytes = serialNode!.expect(TAG.INTEGER, "userCertificate").content;
  der.readInteger(serialNode!, "userCertificate"); // minimal-encoding check
  const serial = normalizeSerial(serialBytes.toString("hex"));
  const revokedAt = der.readTime(dateNode!, "revocationDate");
  let reason: RevocationReason = "unspecified";
  if (extsNode) {
    eachExtension(extsNode, [OIDS.reasonCode, OIDS.invalidityDate], (oidText, value) => {
      if (oidText === OIDS.reasonCode) {
        // Codes we never issue (removeFromCRL, aACompromise) still mean "revoked".
        reason = REASON_BY_CODE.get(der.readSmallInt(value, "reasonCode", TAG.ENUMERATED)) ?? "unspecified";
      }
    });
  }
  return [serial, { revokedAt, reason }];
}

/** PEM or DER. With issuerCert the signature and the issuer name are checked; any failure is invalid_argument. */
export function parseCrl(
  input: string | Buffer,
  issuerCert?: X509Certificate,
  maxBytes: number = DEFAULT_MAX_CRL_BYTES,
): ParsedCrl {
  const buf = crlDer(input, maxBytes);
  try {
    const [tbs, alg, sigNode] = der.seqChildren(der.decode(buf), "CertificateList", 3, 3);
    const f = der.seqChildren(tbs!, "TBSCertList", 3, 7);
    let i = 0;
    if (f[i]!.tag === TAG.INTEGER && der.readSmallInt(f[i++]!, "version") !== 1) throw invalid("CRL version must be v2");
    const innerAlg = f[i++]!.expect(TAG.SEQUENCE, "signature").encoded;
    if (!innerAlg.equals(alg!.expect(TAG.SEQUENCE, "signatureAlgorithm").encoded)) {
      throw invalid("the CRL's two signature algorithm fields differ");
    }
    const issuerDer = f[i++]!.expect(TAG.SEQUENCE, "issuer").encoded;
    if (!f[i]) throw invalid("CRL has no thisUpdate");
    const thisUpdate = der.readTime(f[i++]!, "thisUpdate");
    const out: ParsedCrl = { issuerDer, thisUpdate, revoked: new Map() };
    if (f[i] && (f[i]!.tag === TAG.UTC_TIME || f[i]!.tag === TAG.GENERALIZED_TIME)) out.nextUpdate = der.readTime(f[i++]!, "nextUpdate");
    if (f[i] && f[i]!.tag === TAG.SEQUENCE) {
      for (const e of der.seqChildren(f[i++]!, "revokedCertificates", 1)) {
        const [serial, val] = parseEntry(e);
        if (out.revoked.has(serial)) throw invalid(`serial ${serial} listed twice`);
        out.revoked.set(serial, val);
      }
    }
    if (f[i]) {
      const [exts] = f[i++]!.expect(0xa0, "crlExtensions").children();
      if (!exts) throw invalid("empty crlExtensions");
      eachExtension(exts, [OIDS.aki, OIDS.crlNumber], (oidText, value) => {
        if (oidText === OIDS.crlNumber) out.crlNumber = der.readInteger(value, "cRLNumber");
      });
    }
    if (i !== f.length) throw invalid("unexpected fields after crlExtensions");
    if (issuerCert) verifyCrl(tbs!.encoded, der.readOid(der.seqChildren(alg!, "signatureAlgorithm", 1, 2)[0]!), sigNode!, issuerDer, issuerCert);
    return out;
  } catch (err) {
    if (err instanceof PkiError && !(err instanceof DerError)) throw err;
    if (err instanceof RangeError || err instanceof DerError) throw invalid(`malformed CRL: ${err.message}`, err);
    throw err;
  }
}

function verifyCrl(tbs: Buffer, algOid: string, sigNode: DerNode, issuerDer: Buffer, cert: X509Certificate): void {
  const hash = SIG_HASH[algOid];
  if (!hash) throw invalid(`unsupported CRL signature algorithm ${algOid}`);
  if (!certificateSubject(cert.raw).equals(issuerDer)) throw invalid("the CRL was not issued by this certificate (issuer name differs)");
  const { bits, unusedBits } = der.readBitString(sigNode, "signatureValue");
  let ok = false;
  try {
    ok = unusedBits === 0 && cryptoVerify(hash, tbs, cert.publicKey, bits);
  } catch {
    ok = false;
  }
  if (!ok) throw invalid("the CRL signature does not verify with the issuer's key");
}
