/**
 * Test certificates built with @peculiar/x509 so every SVID rule can be broken
 * on purpose. Defaults produce a valid SPIFFE hierarchy in trust domain
 * example.org; each option overrides one property.
 */
import { webcrypto, X509Certificate as NodeX509Certificate } from "node:crypto";
import { x509 } from "../../pki/x509.js";
import { normalizeSerial, randomSerial } from "../../pki/serial.js";

export type KeyPair = webcrypto.CryptoKeyPair;
type PeculiarKeyPair = Parameters<typeof x509.X509CertificateGenerator.createSelfSigned>[0]["keys"];
type PeculiarKey = PeculiarKeyPair["privateKey"];

/** A fixed instant the fixtures are valid around, so tests never depend on the wall clock. */
export const T0 = new Date("2025-06-01T12:00:00.000Z");
export const HOUR = 3_600_000;
export const DAY = 24 * HOUR;
export const TRUST_DOMAIN = "example.org";
export const LEAF_ID = "spiffe://example.org/ns/default/sa/web";

export const KU = x509.KeyUsageFlags;
export const EKU = { serverAuth: "1.3.6.1.5.5.7.3.1", clientAuth: "1.3.6.1.5.5.7.3.2", codeSigning: "1.3.6.1.5.5.7.3.3" };

const EC_GEN = { name: "ECDSA", namedCurve: "P-256" };
const EC_SIGN = { name: "ECDSA", hash: "SHA-256" };

export interface TestCert {
  /** The @peculiar/x509 object. */
  cert: x509.X509Certificate;
  der: Buffer;
  pem: string;
  node: NodeX509Certificate;
  keys: KeyPair;
  /** normalizeSerial() form. */
  serial: string;
}

export interface CertOptions {
  /** Subject DN, e.g. "CN=web"; "" for an empty subject. */
  subject?: string;
  /** URI SANs; [] together with no dnsNames omits the SAN extension. */
  uris?: string[];
  dnsNames?: string[];
  sanCritical?: boolean;
  notBefore?: Date;
  notAfter?: Date;
  /** Hex serial; random when absent. */
  serial?: string;
  /** basicConstraints cA; null omits the extension. */
  ca?: boolean | null;
  pathLength?: number;
  bcCritical?: boolean;
  /** KU flags (KU.digitalSignature | ...); null omits the extension. */
  keyUsage?: number | null;
  keyUsageCritical?: boolean;
  /** EKU OIDs; null omits the extension. */
  eku?: string[] | null;
  /** Add the authority key identifier (default true for issued certs). */
  authorityKeyId?: boolean;
  extraExtensions?: x509.Extension[];
  /** Reuse a key pair instead of generating one. */
  keys?: KeyPair;
}

export async function generateKeys(): Promise<KeyPair> {
  return webcrypto.subtle.generateKey(EC_GEN, true, ["sign", "verify"]);
}

function wrap(cert: x509.X509Certificate, keys: KeyPair): TestCert {
  const der = Buffer.from(cert.rawData);
  return { cert, der, pem: cert.toString("pem"), node: new NodeX509Certificate(der), keys, serial: normalizeSerial(cert.serialNumber) };
}

async function extensions(o: CertOptions, keys: KeyPair, issuer: TestCert | undefined, isCa: boolean): Promise<x509.Extension[]> {
  const out: x509.Extension[] = [];
  if (o.ca !== null) out.push(new x509.BasicConstraintsExtension(o.ca ?? isCa, o.pathLength, o.bcCritical ?? true));
  const ku = o.keyUsage === undefined ? (isCa ? KU.keyCertSign | KU.cRLSign : KU.digitalSignature) : o.keyUsage;
  if (ku !== null) out.push(new x509.KeyUsagesExtension(ku, o.keyUsageCritical ?? true));
  const eku = o.eku === undefined ? (isCa ? null : [EKU.serverAuth, EKU.clientAuth]) : o.eku;
  if (eku !== null) out.push(new x509.ExtendedKeyUsageExtension(eku, false));
  const names = [
    ...(o.uris ?? []).map((value) => ({ type: "url" as const, value })),
    ...(o.dnsNames ?? []).map((value) => ({ type: "dns" as const, value })),
  ];
  if (names.length > 0) out.push(new x509.SubjectAlternativeNameExtension(names, o.sanCritical ?? false));
  out.push(await x509.SubjectKeyIdentifierExtension.create(keys.publicKey as PeculiarKey));
  if (issuer && (o.authorityKeyId ?? true)) {
    out.push(await x509.AuthorityKeyIdentifierExtension.create(issuer.keys.publicKey as PeculiarKey));
  }
  out.push(...(o.extraExtensions ?? []));
  return out;
}

async function build(o: CertOptions, issuer: TestCert | undefined, isCa: boolean, defaultName: string): Promise<TestCert> {
  const keys = o.keys ?? (await generateKeys());
  const common = {
    serialNumber: o.serial ?? randomSerial().toString("hex"),
    notBefore: o.notBefore ?? new Date(T0.getTime() - HOUR),
    notAfter: o.notAfter ?? new Date(T0.getTime() + (isCa ? 365 * DAY : DAY)),
    signingAlgorithm: EC_SIGN,
    extensions: await extensions(o, keys, issuer, isCa),
  };
  const subject = o.subject ?? `CN=${defaultName}`;
  const cert = issuer
    ? await x509.X509CertificateGenerator.create({
        ...common,
        subject,
        issuer: issuer.cert.subject,
        publicKey: keys.publicKey as PeculiarKey,
        signingKey: issuer.keys.privateKey as PeculiarKey,
      })
    : await x509.X509CertificateGenerator.createSelfSigned({ ...common, name: subject, keys: keys as PeculiarKeyPair });
  return wrap(cert, keys);
}

/** Self-signed root: cA=true, keyCertSign|cRLSign (critical), URI SAN spiffe://example.org. */
export function makeRoot(o: CertOptions = {}): Promise<TestCert> {
  return build({ uris: [`spiffe://${TRUST_DOMAIN}`], ...o }, undefined, true, "Test Root CA");
}

/** Intermediate signed by `issuer`: cA=true, keyCertSign|cRLSign (critical), URI SAN spiffe://example.org. */
export function makeIntermediate(issuer: TestCert, o: CertOptions = {}): Promise<TestCert> {
  return build({ uris: [`spiffe://${TRUST_DOMAIN}`], ...o }, issuer, true, "Test Intermediate CA");
}

/** Leaf SVID signed by `issuer`: cA=false, digitalSignature (critical), EKU server+client, one URI SAN. */
export function makeLeaf(issuer: TestCert, o: CertOptions = {}): Promise<TestCert> {
  return build({ uris: [LEAF_ID], ...o }, issuer, false, "web");
}
