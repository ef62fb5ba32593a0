/**
 * X.509 v3 certificate building (X509-SVID leaves and CA certificates) with
 * the hand-rolled DER writer: the CA signs thousands of leaves per second and
 * a generic ASN.1 library costs ~50x more per certificate than the signature.
 */
import { createHash, createPublicKey, type KeyObject } from "node:crypto";
import * as der from "./der.js";
import { DerError, TAG, type DerNode } from "./der.js";
import { PkiError } from "./errors.js";
import { keyTypeOf, signatureAlgorithmIdentifier, signWith, spkiKeyType, type KeyPair, type KeyType } from "./keys.js";
import { parseSpiffeId } from "./spiffe-id.js";

export interface Issuer {
  certDer: Buffer;
  privateKey: KeyObject;
  keyType: KeyType;
}

export interface CertificateSpec {
  serial: Buffer;
  publicKey: KeyObject | Buffer;
  notBefore: Date;
  notAfter: Date;
  kind: "leaf" | "ca";
  spiffeId?: string;
  dnsNames?: string[];
  subject?: { commonName?: string; organization?: string; serialNumber?: string };
  pathLength?: number;
}

const OIDS = {
  cn: "2.5.4.3",
  o: "2.5.4.10",
  serialNumber: "2.5.4.5",
  ski: "2.5.29.14",
  keyUsage: "2.5.29.15",
  san: "2.5.29.17",
  basicConstraints: "2.5.29.19",
  aki: "2.5.29.35",
  eku: "2.5.29.37",
  serverAuth: "1.3.6.1.5.5.7.3.1",
  clientAuth: "1.3.6.1.5.5.7.3.2",
};

const invalid = (msg: string): PkiError => new PkiError("invalid_argument", msg);

/** SHA-1 of the subjectPublicKey BIT STRING's bits (RFC 5280 §4.2.1.2, method 1). */
export function subjectKeyIdentifier(spki: Buffer): Buffer {
  try {
    const [, pub] = der.seqChildren(der.decode(spki), "SubjectPublicKeyInfo", 2, 2);
    return createHash("sha1").update(der.readBitString(pub!, "subjectPublicKey").bits).digest();
  } catch (err) {
    if (err instanceof DerError) throw new PkiError("invalid_key", `bad SubjectPublicKeyInfo: ${err.message}`);
    throw err;
  }
}

function extension(oidText: string, critical: boolean, value: Buffer): Buffer {
  return critical
    ? der.sequence(der.oid(oidText), der.boolean(true), der.octetString(value))
    : der.sequence(der.oid(oidText), der.octetString(value));
}

// Extensions that are the same on every leaf are encoded once.
const LEAF_BC = extension(OIDS.basicConstraints, true, der.sequence()); // cA FALSE is the DEFAULT, so omitted in DER
const KU_EC_LEAF = extension(OIDS.keyUsage, true, der.bitString(Buffer.from([0x80]), 7)); // digitalSignature
const KU_RSA_LEAF = extension(OIDS.keyUsage, true, der.bitString(Buffer.from([0xa0]), 5)); // + keyEncipherment
const KU_CA = extension(OIDS.keyUsage, true, der.bitString(Buffer.from([0x86]), 1)); // digitalSignature, keyCertSign, cRLSign
const LEAF_EKU = extension(OIDS.eku, false, der.sequence(der.oid(OIDS.serverAuth), der.oid(OIDS.clientAuth)));

interface IssuerInfo {
  subjectDer: Buffer;
  spkiDer: Buffer;
  ski: Buffer;
  akiExt: Buffer;
  /** Private keys already checked against this certificate's public key. */
  checkedKeys: WeakSet<KeyObject>;
}

const issuerCache = new WeakMap<Buffer, IssuerInfo>();

/**
 * The issuer's subject DN and SKI (parsed once per certDer Buffer), after
 * checking that its private key belongs to the certificate and fits keyType.
 */
export function resolveIssuer(issuer: Issuer): { subjectDer: Buffer; ski: Buffer } {
  return issuerInfo(issuer);
}

function issuerInfo(issuer: Issuer): IssuerInfo {
  let info = issuerCache.get(issuer.certDer);
  if (!info) {
    info = parseIssuerCert(issuer.certDer);
    issuerCache.set(issuer.certDer, info);
  }
  if (!info.checkedKeys.has(issuer.privateKey)) {
    // Once per key: a mismatched key would silently produce certificates that never verify.
    const pub = createPublicKey(issuer.privateKey).export({ type: "spki", format: "der" });
    if (!pub.equals(info.spkiDer)) throw invalid("the issuer's private key does not match its certificate");
    info.checkedKeys.add(issuer.privateKey);
  }
  if (keyTypeOf(issuer.privateKey) !== issuer.keyType) {
    throw invalid(`issuer keyType ${issuer.keyType} does not match its ${keyTypeOf(issuer.privateKey)} key`);
  }
  return info;
}

function akiExtension(ski: Buffer): Buffer {
  return extension(OIDS.aki, false, der.sequence(der.implicit(0, der.octetString(ski))));
}

/** TBSCertificate fields, shifted so that f[off] is the serial whether or not the version is present. */
function tbsFields(certDer: Buffer): { f: DerNode[]; off: number } {
  const [tbs] = der.seqChildren(der.decode(certDer), "Certificate", 3, 3);
  const f = der.seqChildren(tbs!, "TBSCertificate", 6, 10);
  return { f, off: f[0]!.tag === 0xa0 ? 1 : 0 };
}

/** The subject Name DER of a certificate (to match a CRL's issuer). */
export function certificateSubject(certDer: Buffer): Buffer {
  try {
    const { f, off } = tbsFields(certDer);
    return f[off + 4]!.expect(TAG.SEQUENCE, "subject").encoded;
  } catch (err) {
    if (err instanceof DerError) throw invalid(`certificate: ${err.message}`);
    throw err;
  }
}

function parseIssuerCert(certDer: Buffer): IssuerInfo {
  try {
    const { f, off } = tbsFields(certDer);
    const subjectDer = f[off + 4]!.expect(TAG.SEQUENCE, "subject").encoded;
    const spkiDer = f[off + 5]!.expect(TAG.SEQUENCE, "subjectPublicKeyInfo").encoded;
    let ski: Buffer | undefined;
    const extsTag = f.find((n, i) => i > off + 5 && n.tag === 0xa3);
    if (extsTag) {
      const [exts] = extsTag.children();
      for (const ext of der.seqChildren(exts!, "Extensions")) {
        const kids = der.seqChildren(ext, "Extension", 2, 3);
        if (der.readOid(kids[0]!) !== OIDS.ski) continue;
        const value = kids[kids.length - 1]!.expect(TAG.OCTET_STRING, "extnValue").content;
        ski = Buffer.from(der.decode(value).expect(TAG.OCTET_STRING, "keyIdentifier").content);
      }
    }
    ski ??= subjectKeyIdentifier(spkiDer);
    return { subjectDer, spkiDer, ski, akiExt: akiExtension(ski), checkedKeys: new WeakSet() };
  } catch (err) {
    if (err instanceof DerError) throw invalid(`issuer certificate: ${err.message}`);
    throw err;
  }
}

function name(subject: NonNullable<CertificateSpec["subject"]>): Buffer {
  const rdn = (o: string, v: Buffer): Buffer => der.set(der.sequence(der.oid(o), v));
  const rdns: Buffer[] = [];
  const check = (v: string, what: string, max: number): void => {
    if (typeof v !== "string" || v.length === 0 || v.length > max) throw invalid(`subject ${what} must be 1-${max} characters`);
  };
  if (subject.organization !== undefined) {
    check(subject.organization, "organization", 64);
    rdns.push(rdn(OIDS.o, der.utf8String(subject.organization)));
  }
  if (subject.commonName !== undefined) {
    check(subject.commonName, "commonName", 64);
    rdns.push(rdn(OIDS.cn, der.utf8String(subject.commonName)));
  }
  if (subject.serialNumber !== undefined) {
    check(subject.serialNumber, "serialNumber", 64);
    try {
      rdns.push(rdn(OIDS.serialNumber, der.printableString(subject.serialNumber)));
    } catch {
      throw invalid("subject serialNumber must be a PrintableString");
    }
  }
  return der.sequence(...rdns);
}

const LEAF_DEFAULT_SUBJECT = name({ organization: "SPIFFE" });
const EMPTY_NAME = der.sequence();

function sanExtension(spiffeId: string | undefined, dnsNames: readonly string[], critical: boolean): Buffer | undefined {
  const names: Buffer[] = [];
  if (spiffeId !== undefined) names.push(der.implicit(6, der.ia5String(spiffeId)));
  for (const d of dnsNames) {
    if (typeof d !== "string" || d.length > 253 || !/^(\*\.)?[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*$/.test(d)) {
      throw invalid(`not a DNS name: ${JSON.stringify(d)}`);
    }
    names.push(der.implicit(2, der.ia5String(d)));
  }
  return names.length > 0 ? extension(OIDS.san, critical, der.sequence(...names)) : undefined;
}

function checkSpec(spec: CertificateSpec): void {
  const nb = spec.notBefore;
  const na = spec.notAfter;
  if (!(nb instanceof Date) || !(na instanceof Date) || Number.isNaN(nb.getTime()) || Number.isNaN(na.getTime())) {
    throw invalid("notBefore and notAfter must be valid Dates");
  }
  if (na.getTime() <= nb.getTime()) throw invalid("notAfter must be later than notBefore");
  if (!Buffer.isBuffer(spec.serial) || spec.serial.length === 0) throw invalid("serial must be a non-empty Buffer");
  const first = spec.serial.findIndex((b) => b !== 0);
  if (first < 0) throw invalid("serial must not be zero");
  const significant = spec.serial.subarray(first);
  if (significant.length + (significant[0]! & 0x80 ? 1 : 0) > 20) throw invalid("serial longer than 20 octets");
  if (spec.kind === "leaf") {
    if (spec.spiffeId === undefined) throw invalid("a leaf certificate needs a spiffeId");
    if (parseSpiffeId(spec.spiffeId).path === "") throw invalid("a leaf SPIFFE ID needs a path");
    if (spec.pathLength !== undefined) throw invalid("pathLength is for CA certificates only");
  } else if (spec.kind === "ca") {
    if (!spec.subject?.commonName) throw invalid("a CA certificate needs subject.commonName");
    if (spec.dnsNames !== undefined && spec.dnsNames.length > 0) throw invalid("dnsNames are for leaf certificates only");
    if (spec.spiffeId !== undefined) parseSpiffeId(spec.spiffeId);
    const pl = spec.pathLength;
    if (pl !== undefined && (!Number.isSafeInteger(pl) || pl < 0 || pl > 255)) throw invalid("pathLength must be 0-255");
  } else {
    throw invalid(`unknown certificate kind ${String(spec.kind)}`);
  }
}

/** Signs with the issuer; `{ self: keys }` makes a self-signed root. Returns DER. */
export function buildCertificate(spec: CertificateSpec, issuer: Issuer | { self: KeyPair }): Buffer {
  checkSpec(spec);
  let spkiDer: Buffer;
  let subjectKeyType: KeyType;
  if (Buffer.isBuffer(spec.publicKey)) {
    spkiDer = spec.publicKey;
    subjectKeyType = spkiKeyType(spkiDer);
  } else {
    subjectKeyType = keyTypeOf(spec.publicKey);
    spkiDer = spec.publicKey.export({ type: "spki", format: "der" });
  }
  const ski = subjectKeyIdentifier(spkiDer);

  const subject =
    spec.subject === undefined ? (spec.kind === "leaf" ? LEAF_DEFAULT_SUBJECT : EMPTY_NAME) : name(spec.subject);
  const emptySubject = subject.length === 2;

  let signer: KeyObject;
  let signerType: KeyType;
  let issuerName: Buffer;
  let aki: Buffer | undefined;
  if ("self" in issuer) {
    if (spec.kind !== "ca") throw invalid("a self-signed certificate must be a CA");
    const selfSpki = issuer.self.publicKey.export({ type: "spki", format: "der" });
    if (!selfSpki.equals(spkiDer)) throw invalid("a self-signed certificate must certify its own public key");
    const fromPrivate = createPublicKey(issuer.self.privateKey).export({ type: "spki", format: "der" });
    if (!fromPrivate.equals(selfSpki)) throw invalid("the key pair's private and public keys do not match");
    signer = issuer.self.privateKey;
    signerType = keyTypeOf(signer);
    issuerName = subject;
  } else {
    const info = issuerInfo(issuer);
    signer = issuer.privateKey;
    signerType = issuer.keyType;
    issuerName = info.subjectDer;
    aki = info.akiExt;
  }
  if (emptySubject && spec.kind === "ca") throw invalid("a CA certificate needs a subject");

  const exts: Buffer[] = [];
  if (spec.kind === "leaf") {
    exts.push(LEAF_BC, subjectKeyType.startsWith("rsa") ? KU_RSA_LEAF : KU_EC_LEAF, LEAF_EKU);
  } else {
    const bc =
      spec.pathLength === undefined
        ? der.sequence(der.boolean(true))
        : der.sequence(der.boolean(true), der.integer(spec.pathLength));
    exts.push(extension(OIDS.basicConstraints, true, bc), KU_CA);
  }
  exts.push(extension(OIDS.ski, false, der.octetString(ski)));
  if (aki) exts.push(aki);
  let san: Buffer | undefined;
  try {
    san = sanExtension(spec.spiffeId, spec.kind === "leaf" ? (spec.dnsNames ?? []) : [], emptySubject);
  } catch (err) {
    if (err instanceof RangeError) throw invalid(`subjectAltName: ${err.message}`);
    throw err;
  }
  if (san) exts.push(san);

  let validity: Buffer;
  try {
    validity = der.sequence(der.time(spec.notBefore), der.time(spec.notAfter));
  } catch (err) {
    throw invalid(`validity: ${(err as Error).message}`);
  }
  const algId = signatureAlgorithmIdentifier(signerType);
  const tbs = der.sequence(
    der.explicit(0, der.integer(2)),
    der.integer(spec.serial),
    algId,
    issuerName,
    validity,
    subject,
    spkiDer,
    der.explicit(3, der.sequence(...exts)),
  );
  return der.sequence(tbs, algId, der.bitString(signWith(signer, tbs)));
}
