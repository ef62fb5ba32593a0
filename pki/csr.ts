/**
 * PKCS#10 certificate requests: a fast, strict parser that verifies the
 * self-signature, and a builder for the agent. Requested SANs are reported for
 * information only: the CA takes the identity from its registration entry.
 */
import { verify as cryptoVerify, type KeyObject } from "node:crypto";
import * as der from "./der.js";
import { TAG, type DerNode } from "./der.js";
import { PkiError } from "./errors.js";
import { keyTypeOf, OID, publicKeyFromSpki, signatureAlgorithmIdentifier, signWith, type KeyPair, type KeyType } from "./keys.js";
import { pemDecodeAll, pemEncode } from "./pem.js";

export interface ParsedCsr {
  publicKey: KeyObject;
  spkiDer: Buffer;
  keyType: KeyType;
  subjectDer: Buffer;
  uriSans: string[];
  dnsSans: string[];
}

export const DEFAULT_MAX_CSR_BYTES = 16 * 1024;
const OID_EXTENSION_REQUEST = "1.2.840.113549.1.9.14";
const OID_SAN = "2.5.29.17";
const OID_CN = "2.5.4.3";

/** Signature algorithms accepted per key family, with the hash each one uses. */
const SIG_ALGS: Record<string, { family: "ec" | "rsa"; hash: string }> = {
  [OID.ecdsaSha256]: { family: "ec", hash: "sha256" },
  [OID.ecdsaSha384]: { family: "ec", hash: "sha384" },
  [OID.ecdsaSha512]: { family: "ec", hash: "sha512" },
  [OID.rsaSha256]: { family: "rsa", hash: "sha256" },
  [OID.rsaSha384]: { family: "rsa", hash: "sha384" },
  [OID.rsaSha512]: { family: "rsa", hash: "sha512" },
};

const bad = (reason: string, cause?: unknown): PkiError =>
  new PkiError("invalid_csr", `invalid CSR: ${reason}`, cause === undefined ? {} : { cause });

function csrDer(input: string | Buffer, maxBytes: number): Buffer {
  if (typeof input !== "string" && !Buffer.isBuffer(input)) throw bad("input must be a string or a Buffer");
  if (input.length === 0) throw bad("empty input");
  if (input.length > maxBytes) throw bad(`larger than ${maxBytes} bytes`);
  // DER always starts with a SEQUENCE tag; anything else is taken as PEM text (possibly with a preamble).
  const isPem = typeof input === "string" || input[0] !== TAG.SEQUENCE;
  if (!isPem) return input as Buffer;
  const text = typeof input === "string" ? input : input.toString("latin1");
  const block = pemDecodeAll(text, maxBytes).find(
    (b) => b.label === "CERTIFICATE REQUEST" || b.label === "NEW CERTIFICATE REQUEST",
  );
  if (!block) throw bad("no CERTIFICATE REQUEST PEM block");
  if (block.der.length === 0) throw bad("empty PEM block");
  return block.der;
}

/** Reads the SANs of an extensionRequest attribute's Extensions value. */
function readRequestedSans(exts: DerNode, uris: string[], dns: string[]): void {
  for (const ext of der.seqChildren(exts, "Extensions")) {
    const kids = der.seqChildren(ext, "Extension", 2, 3);
    if (der.readOid(kids[0]!, "extnID") !== OID_SAN) continue;
    const value = kids[kids.length - 1]!.expect(TAG.OCTET_STRING, "extnValue").content;
    for (const gn of der.seqChildren(der.decode(value), "GeneralNames")) {
      if (gn.tag === 0x86) uris.push(gn.content.toString("latin1"));
      else if (gn.tag === 0x82) dns.push(gn.content.toString("latin1"));
    }
  }
}

export function parseCsr(input: string | Buffer, maxBytes: number = DEFAULT_MAX_CSR_BYTES): ParsedCsr {
  const buf = csrDer(input, maxBytes);
  let cri: DerNode, algOid: string, sig: Buffer;
  let subjectDer: Buffer, spkiDer: Buffer;
  const uriSans: string[] = [];
  const dnsSans: string[] = [];
  try {
    const [criNode, alg, sigNode] = der.seqChildren(der.decode(buf), "CertificationRequest", 3, 3);
    cri = criNode!;
    const algKids = der.seqChildren(alg!, "signatureAlgorithm", 1, 2);
    algOid = der.readOid(algKids[0]!, "signatureAlgorithm");
    if (algKids[1] && algKids[1].tag !== TAG.NULL) throw bad("unexpected signature algorithm parameters");
    const bits = der.readBitString(sigNode!, "signature");
    if (bits.unusedBits !== 0) throw bad("signature is not a whole number of bytes");
    sig = bits.bits;

    const [version, subject, spki, attrs] = der.seqChildren(cri, "CertificationRequestInfo", 3, 4);
    if (der.readSmallInt(version!, "version") !== 0) throw bad("version must be 1 (0)");
    subjectDer = subject!.expect(TAG.SEQUENCE, "subject").encoded;
    spkiDer = spki!.expect(TAG.SEQUENCE, "subjectPKInfo").encoded;
    if (attrs) {
      for (const attr of attrs.expect(0xa0, "attributes").children()) {
        const [type, values] = der.seqChildren(attr, "Attribute", 2, 2);
        if (der.readOid(type!, "attribute type") !== OID_EXTENSION_REQUEST) continue;
        for (const v of values!.expect(TAG.SET, "attribute values").children()) readRequestedSans(v, uriSans, dnsSans);
      }
    }
  } catch (err) {
    if (err instanceof PkiError && err.code === "invalid_csr") throw err;
    throw bad((err as Error).message, err);
  }

  let publicKey: KeyObject;
  let keyType: KeyType;
  try {
    // Unsupported types (RSA < 2048, other curves) are refused from the DER, before the costly import.
    publicKey = publicKeyFromSpki(spkiDer);
    keyType = keyTypeOf(publicKey);
  } catch (err) {
    throw bad((err as Error).message, err);
  }

  const alg = SIG_ALGS[algOid];
  if (!alg) throw bad(`unsupported signature algorithm ${algOid}`);
  if (alg.family !== (keyType.startsWith("ec") ? "ec" : "rsa")) {
    throw bad(`signature algorithm ${algOid} does not match the ${keyType} key`);
  }
  let ok: boolean;
  try {
    ok = cryptoVerify(alg.hash, cri.encoded, publicKey, sig);
  } catch {
    ok = false;
  }
  if (!ok) throw bad("signature does not verify");
  return { publicKey, spkiDer, keyType, subjectDer, uriSans, dnsSans };
}

/** Name ::= SEQUENCE OF RDN; CN alone when given, otherwise empty (the SAN carries the identity). */
function subjectName(commonName?: string): Buffer {
  if (commonName === undefined) return der.sequence();
  if (commonName.length === 0 || commonName.length > 64) throw new PkiError("invalid_argument", "commonName must be 1-64 characters");
  return der.sequence(der.set(der.sequence(der.oid(OID_CN), der.utf8String(commonName))));
}

export function buildCsr(keys: KeyPair, opts: { spiffeId?: string; commonName?: string; dnsNames?: string[] } = {}): string {
  const names: Buffer[] = [];
  try {
    if (opts.spiffeId !== undefined) names.push(der.implicit(6, der.ia5String(opts.spiffeId)));
    for (const d of opts.dnsNames ?? []) names.push(der.implicit(2, der.ia5String(d)));
  } catch (err) {
    throw new PkiError("invalid_argument", `SAN: ${(err as Error).message}`);
  }
  const attrs: Buffer[] = [];
  if (names.length > 0) {
    const san = der.sequence(der.oid(OID_SAN), der.octetString(der.sequence(...names)));
    attrs.push(der.sequence(der.oid(OID_EXTENSION_REQUEST), der.set(der.sequence(san))));
  }
  const spki = keys.publicKey.export({ type: "spki", format: "der" });
  const cri = der.sequence(
    der.integer(0),
    subjectName(opts.commonName),
    spki,
    der.explicit(0, ...attrs), // [0] IMPLICIT SET OF Attribute: same bytes as an explicit wrap of the members
  );
  const algId = signatureAlgorithmIdentifier(keyTypeOf(keys.privateKey));
  const csr = der.sequence(cri, algId, der.bitString(signWith(keys.privateKey, cri)));
  return pemEncode("CERTIFICATE REQUEST", csr);
}
