/**
 * PKCS#12 (RFC 7292) export of an issued identity, for JVM services and other
 * consumers that want a keystore instead of PEM files.
 *
 * node-forge's `pki` cannot handle EC keys, so only its ASN.1 writer and the
 * PKCS#12 key derivation are used; all cryptography on the key itself is
 * node:crypto. Layout (what OpenSSL 3 and Java's PKCS12 KeyStore expect):
 *
 *   PFX v3
 *     authSafe: ContentInfo(data) → AuthenticatedSafe
 *       ContentInfo(data) → SafeContents: certBag(leaf, friendlyName, localKeyId),
 *                           certBag(intermediates…), certBag(trust anchors, friendlyName, Java trust attribute)
 *       ContentInfo(data) → SafeContents: pkcs8ShroudedKeyBag(friendlyName, localKeyId)
 *     macData: HMAC-SHA-256, key from the PKCS#12 KDF (ID 3), 16-byte salt
 *
 * The key bag is PBES2 (PBKDF2-HMAC-SHA-256, AES-256-CBC). It is built here
 * rather than with `KeyObject.export({ cipher })` because Node fixes that
 * export at 2048 PBKDF2 iterations and an 8-byte salt, with no way to change
 * either; the requested iteration count applies to the key and the MAC alike.
 * Certificates are not encrypted (they are public), like OpenSSL's
 * `-certpbe NONE` and Java's default since JDK 12 (certProtectionAlgorithm NONE).
 *
 * Compatibility: HMAC-SHA-256 MACs need Java 11.0.12+/8u301+ (or 12+) and any
 * OpenSSL 1.1+. Java refuses iteration counts above 5,000,000 and non-ASCII
 * passwords when loading, so passphrases are printable ASCII. The MAC KDF runs
 * in JavaScript (node-forge): about 0.3 s per 100,000 iterations.
 */
import { createCipheriv, createHash, createHmac, pbkdf2Sync, randomBytes, X509Certificate, type KeyObject } from "node:crypto";
import forge from "node-forge";
import { PkiError } from "./errors.js";
import { keyTypeOf } from "./keys.js";

export interface Pkcs12Input {
  /** ECDSA P-256/P-384 or RSA-2048/3072 (the key types the mesh issues for). */
  privateKey: KeyObject;
  /** Leaf first, then intermediates, each issued by the next. */
  chainDer: Buffer[];
  /** Trust anchors to include as extra cert bags (marked trusted for Java). */
  caCertsDer?: Buffer[];
  /** 8..1024 printable ASCII characters. */
  passphrase: string;
  /** Alias of the key entry, e.g. the SPIFFE ID; default "mesh-svid". */
  friendlyName?: string;
  /** PBKDF2 iterations for the key and PKCS#12 KDF iterations for the MAC; default 100000. */
  iterations?: number;
}

export const P12_DEFAULT_ITERATIONS = 100_000;
export const P12_MIN_ITERATIONS = 1000;
export const P12_MAX_ITERATIONS = 10_000_000;
export const P12_DEFAULT_FRIENDLY_NAME = "mesh-svid";

const MIN_PASSPHRASE = 8;
const MAX_PASSPHRASE = 1024;
const MAX_FRIENDLY_NAME = 2048; // a SPIFFE ID may be 2048 bytes
const MAX_CHAIN = 16;
const MAX_CA_CERTS = 64;
const MAX_CERT_BYTES = 64 * 1024;

const OID = {
  data: "1.2.840.113549.1.7.1",
  certBag: "1.2.840.113549.1.12.10.1.3",
  pkcs8ShroudedKeyBag: "1.2.840.113549.1.12.10.1.2",
  x509Certificate: "1.2.840.113549.1.9.22.1",
  friendlyName: "1.2.840.113549.1.9.20",
  localKeyId: "1.2.840.113549.1.9.21",
  // Oracle's trustedKeyUsage bag attribute: Java loads such a cert as a trustedCertEntry.
  javaTrustedKeyUsage: "2.16.840.1.113894.746875.1.1",
  anyExtendedKeyUsage: "2.5.29.37.0",
  pbes2: "1.2.840.113549.1.5.13",
  pbkdf2: "1.2.840.113549.1.5.12",
  hmacWithSha256: "1.2.840.113549.2.9",
  aes256Cbc: "2.16.840.1.101.3.4.1.42",
  sha256: "2.16.840.1.101.3.4.2.1",
} as const;

// ---------------------------------------------------------------- ASN.1 helpers (forge byte strings)

type Asn1 = forge.asn1.Asn1;
const { asn1 } = forge;
const UNIVERSAL = asn1.Class.UNIVERSAL;
const T = asn1.Type;

const bin = (b: Buffer): string => b.toString("binary");
const der = (node: Asn1): Buffer => Buffer.from(asn1.toDer(node).getBytes(), "binary");
const seq = (...items: Asn1[]): Asn1 => asn1.create(UNIVERSAL, T.SEQUENCE, true, items);
const oid = (dotted: string): Asn1 => asn1.create(UNIVERSAL, T.OID, false, asn1.oidToDer(dotted).getBytes());
const octets = (b: Buffer): Asn1 => asn1.create(UNIVERSAL, T.OCTETSTRING, false, bin(b));
const int = (n: number): Asn1 => asn1.create(UNIVERSAL, T.INTEGER, false, asn1.integerToDer(n).getBytes());
const nul = (): Asn1 => asn1.create(UNIVERSAL, T.NULL, false, "");
// forge writes a BMPSTRING value as UTF-16BE code units, which is what BMPString is.
const bmp = (s: string): Asn1 => asn1.create(UNIVERSAL, T.BMPSTRING, false, s);
const explicit0 = (inner: Asn1): Asn1 => asn1.create(asn1.Class.CONTEXT_SPECIFIC, 0, true, [inner]);

/** DER SET OF: members sorted by their encodings. */
function setOf(items: Asn1[]): Asn1 {
  const sorted = items.map((node) => ({ node, enc: der(node) })).sort((a, b) => Buffer.compare(a.enc, b.enc));
  return asn1.create(UNIVERSAL, T.SET, true, sorted.map((s) => s.node));
}

const attribute = (type: string, values: Asn1[]): Asn1 => seq(oid(type), setOf(values));

function safeBag(bagId: string, value: Asn1, attrs: Asn1[]): Asn1 {
  const parts = [oid(bagId), explicit0(value)];
  if (attrs.length > 0) parts.push(setOf(attrs));
  return seq(...parts);
}

/** ContentInfo with contentType data: the content is the DER of `inner`, in an OCTET STRING. */
const dataContentInfo = (innerDer: Buffer): Asn1 => seq(oid(OID.data), explicit0(octets(innerDer)));

// ---------------------------------------------------------------- input checks

interface Checked {
  chain: Buffer[];
  anchors: Buffer[];
  passphrase: string;
  friendlyName: string;
  iterations: number;
}

function bad(message: string): PkiError {
  return new PkiError("invalid_argument", message);
}

function parseCert(d: unknown, what: string): X509Certificate {
  if (!Buffer.isBuffer(d) || d.length === 0) throw bad(`${what} must be a non-empty Buffer of DER`);
  if (d.length > MAX_CERT_BYTES) throw bad(`${what} is larger than ${MAX_CERT_BYTES} bytes`);
  try {
    return new X509Certificate(d);
  } catch (err) {
    throw new PkiError("invalid_argument", `${what} is not a DER X.509 certificate`, { cause: err });
  }
}

function check(input: Pkcs12Input): Checked {
  const { privateKey, passphrase } = input;
  if (typeof passphrase !== "string" || passphrase.length < MIN_PASSPHRASE) {
    throw bad(`PKCS#12 passphrase must be at least ${MIN_PASSPHRASE} characters`);
  }
  if (passphrase.length > MAX_PASSPHRASE) throw bad(`PKCS#12 passphrase longer than ${MAX_PASSPHRASE} characters`);
  // Java refuses non-ASCII PKCS#12 passwords ("Password is not ASCII"); a keystore a JVM cannot open is no use here.
  if (!/^[\x20-\x7e]+$/.test(passphrase)) throw bad("PKCS#12 passphrase must be printable ASCII (Java cannot open others)");

  const iterations = input.iterations ?? P12_DEFAULT_ITERATIONS;
  if (!Number.isInteger(iterations) || iterations < P12_MIN_ITERATIONS || iterations > P12_MAX_ITERATIONS) {
    throw bad(`PKCS#12 iterations must be an integer in ${P12_MIN_ITERATIONS}..${P12_MAX_ITERATIONS}`);
  }

  const friendlyName = input.friendlyName ?? P12_DEFAULT_FRIENDLY_NAME;
  if (typeof friendlyName !== "string" || friendlyName.length === 0 || friendlyName.length > MAX_FRIENDLY_NAME) {
    throw bad(`friendlyName must be 1..${MAX_FRIENDLY_NAME} characters`);
  }
  // BMPString holds UCS-2 only; control characters would garble keytool/openssl listings.
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f\ud800-\udfff]/.test(friendlyName)) {
    throw bad("friendlyName must not contain control characters or characters outside the Basic Multilingual Plane");
  }

  if (!privateKey || typeof privateKey !== "object" || privateKey.type !== "private") {
    throw new PkiError("invalid_key", "PKCS#12 export needs a private KeyObject");
  }
  keyTypeOf(privateKey); // throws invalid_key for key types the mesh does not use

  const chainIn: unknown = input.chainDer;
  if (!Array.isArray(chainIn) || chainIn.length === 0) throw bad("chainDer must hold at least the leaf certificate");
  if (chainIn.length > MAX_CHAIN) throw bad(`chainDer holds more than ${MAX_CHAIN} certificates`);
  const certs = chainIn.map((d: unknown, i) => parseCert(d, `chainDer[${i}]`));
  if (!certs[0]!.checkPrivateKey(privateKey)) throw bad("the leaf certificate does not match the private key");
  for (let i = 0; i + 1 < certs.length; i++) {
    // A misordered or foreign chain is a caller bug that keystores would only reveal at handshake time.
    if (!certs[i]!.checkIssued(certs[i + 1]!) || !certs[i]!.verify(certs[i + 1]!.publicKey)) {
      throw bad(`chainDer[${i}] is not issued by chainDer[${i + 1}]`);
    }
  }
  const chain = chainIn as Buffer[];

  const anchorsIn: unknown = input.caCertsDer ?? [];
  if (!Array.isArray(anchorsIn)) throw bad("caCertsDer must be an array of DER certificates");
  if (anchorsIn.length > MAX_CA_CERTS) throw bad(`caCertsDer holds more than ${MAX_CA_CERTS} certificates`);
  const anchors: Buffer[] = [];
  anchorsIn.forEach((d: unknown, i) => {
    parseCert(d, `caCertsDer[${i}]`);
    const b = d as Buffer;
    // A bundle often repeats a chain certificate; one bag per certificate keeps keystores unambiguous.
    if (!chain.some((c) => c.equals(b)) && !anchors.some((a) => a.equals(b))) anchors.push(b);
  });

  return { chain, anchors, passphrase, friendlyName, iterations };
}

// ---------------------------------------------------------------- building

/** EncryptedPrivateKeyInfo: PBES2 with PBKDF2-HMAC-SHA-256 (UTF-8 password, as OpenSSL and Java) and AES-256-CBC. */
function shroudKey(privateKey: KeyObject, passphrase: string, iterations: number): Asn1 {
  const salt = randomBytes(16);
  const iv = randomBytes(16);
  const key = pbkdf2Sync(Buffer.from(passphrase, "utf8"), salt, iterations, 32, "sha256");
  const plain = privateKey.export({ type: "pkcs8", format: "der" });
  let encrypted: Buffer;
  try {
    const cipher = createCipheriv("aes-256-cbc", key, iv);
    encrypted = Buffer.concat([cipher.update(plain), cipher.final()]);
  } finally {
    plain.fill(0);
    key.fill(0);
  }
  const kdf = seq(oid(OID.pbkdf2), seq(octets(salt), int(iterations), seq(oid(OID.hmacWithSha256), nul())));
  const scheme = seq(oid(OID.aes256Cbc), octets(iv));
  return seq(seq(oid(OID.pbes2), seq(kdf, scheme)), octets(encrypted));
}

/** MacData over the AuthenticatedSafe: HMAC-SHA-256 keyed by the RFC 7292 B.2 KDF (ID 3 = MAC key). */
function macData(authSafeDer: Buffer, passphrase: string, iterations: number): Asn1 {
  const salt = randomBytes(16);
  // forge: password as BMPString (UTF-16BE code units) plus the two-byte NUL terminator; v=64, u=32 for SHA-256.
  const macKey = Buffer.from(
    forge.pkcs12.generateKey(passphrase, forge.util.createBuffer(bin(salt)), 3, iterations, 32, forge.md.sha256.create()).getBytes(),
    "binary",
  );
  const mac = createHmac("sha256", macKey).update(authSafeDer).digest();
  macKey.fill(0);
  return seq(seq(seq(oid(OID.sha256), nul()), octets(mac)), octets(salt), int(iterations));
}

/** The DER of a password-protected PFX holding the key, its chain and optional trust anchors. */
export function exportPkcs12(input: Pkcs12Input): Buffer {
  const { chain, anchors, passphrase, friendlyName, iterations } = check(input);

  // Same value on the key bag and the leaf's cert bag: that is how OpenSSL and keytool pair them.
  const localKeyId = createHash("sha1").update(chain[0]!).digest();
  const keyAttrs = (): Asn1[] => [attribute(OID.friendlyName, [bmp(friendlyName)]), attribute(OID.localKeyId, [octets(localKeyId)])];
  const certBag = (d: Buffer, attrs: Asn1[]): Asn1 => safeBag(OID.certBag, seq(oid(OID.x509Certificate), explicit0(octets(d))), attrs);

  const certBags = [
    certBag(chain[0]!, keyAttrs()),
    ...chain.slice(1).map((d) => certBag(d, [])),
    ...anchors.map((d, i) =>
      certBag(d, [
        attribute(OID.friendlyName, [bmp(`trust-anchor-${i + 1}`)]),
        attribute(OID.javaTrustedKeyUsage, [oid(OID.anyExtendedKeyUsage)]),
      ]),
    ),
  ];
  const keyBag = safeBag(OID.pkcs8ShroudedKeyBag, shroudKey(input.privateKey, passphrase, iterations), keyAttrs());

  const authSafe = der(seq(dataContentInfo(der(seq(...certBags))), dataContentInfo(der(seq(keyBag)))));
  const pfx = seq(int(3), dataContentInfo(authSafe), macData(authSafe, passphrase, iterations));
  return der(pfx);
}
