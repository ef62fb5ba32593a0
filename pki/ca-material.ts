/**
 * Making and loading signing CAs: a self-signed root, an intermediate minted
 * under a corporate root, or an intermediate the user brings. CA keys only
 * touch disk encrypted (PKCS#8, PBES2), in 0600 files.
 */
import { X509Certificate, createPublicKey, type KeyObject } from "node:crypto";
import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { buildCertificate, type Issuer } from "./certificate.js";
import { PkiError } from "./errors.js";
import { decryptPrivateKey, encryptPrivateKey, generateKeyPair, keyTypeOf, loadPrivateKeyPem, writeSecretFile, type KeyPair, type KeyType } from "./keys.js";
import { pemDecodeLabel } from "./pem.js";
import { randomSerial, serialHex } from "./serial.js";

export interface CaMaterial {
  keys: KeyPair;
  certDer: Buffer;
  /** Intermediates between this CA and the anchor (bring-your-own chains only). */
  chainDer: Buffer[];
  anchorDer: Buffer;
  subject: string;
  serial: string;
  notBefore: Date;
  notAfter: Date;
}

/** Bring-your-own material, as PEM text. */
export interface UpstreamPem {
  rootCert: string;
  /** Mint our own intermediate under this root key (the key is used once and never stored). */
  rootKey?: string;
  rootKeyPassphrase?: string;
  /** Or use an intermediate signed elsewhere: its cert (plus any intermediates above it) and key. */
  intermediateCert?: string;
  intermediateKey?: string;
  intermediateKeyPassphrase?: string;
}

/** Unique per CA (the serial's first bytes), so verifiers that match issuers by name never confuse two generations. */
function caSubjectName(trustDomain: string, now: Date, serial: Buffer): string {
  return `mesh CA ${trustDomain} ${now.toISOString().slice(0, 10)} ${serial.subarray(0, 4).toString("hex")}`;
}

/** A fresh CA: self-signed, or an intermediate under a root the user brings. */
export function mintCa(opts: {
  trustDomain: string;
  keyType: KeyType;
  now: Date;
  ttlSeconds: number;
  backdateSeconds: number;
  upstream?: UpstreamPem;
}): CaMaterial {
  if (opts.upstream?.intermediateCert !== undefined) return adoptIntermediate(opts.upstream, opts.now);
  const keys = generateKeyPair(opts.keyType);
  const serial = randomSerial();
  const notBefore = new Date(opts.now.getTime() - opts.backdateSeconds * 1000);
  let notAfter = new Date(opts.now.getTime() + opts.ttlSeconds * 1000);
  const commonName = caSubjectName(opts.trustDomain, opts.now, serial);
  const spec = {
    serial,
    publicKey: keys.publicKey,
    notBefore,
    notAfter,
    kind: "ca" as const,
    spiffeId: `spiffe://${opts.trustDomain}`,
    subject: { commonName, organization: "mesh" },
  };
  if (!opts.upstream) {
    const der = buildCertificate(spec, { self: keys });
    return { keys, certDer: der, chainDer: [], anchorDer: der, subject: commonName, serial: serialHex(serial), notBefore, notAfter };
  }
  if (opts.upstream.rootKey === undefined) {
    throw new PkiError("invalid_argument", "a root certificate needs either its key (--root-key) or an intermediate (--intermediate-cert/--intermediate-key)");
  }
  const root = onlyCert(opts.upstream.rootCert, "root certificate");
  const rootKey = loadPrivateKeyPem(opts.upstream.rootKey, opts.upstream.rootKeyPassphrase);
  checkKeyMatches(root, rootKey, "root key");
  if (!root.ca) throw new PkiError("invalid_argument", "the root certificate is not a CA (basicConstraints cA is false)");
  // an intermediate never outlives the root above it
  const rootEnd = new Date(root.validTo);
  if (notAfter > rootEnd) notAfter = rootEnd;
  if (notAfter.getTime() <= opts.now.getTime()) throw new PkiError("invalid_argument", "the root certificate has expired");
  const issuer: Issuer = { certDer: root.raw, privateKey: rootKey, keyType: keyTypeOf(rootKey) };
  const der = buildCertificate({ ...spec, notAfter }, issuer);
  return { keys, certDer: der, chainDer: [], anchorDer: root.raw, subject: commonName, serial: serialHex(serial), notBefore, notAfter };
}

function adoptIntermediate(up: UpstreamPem, now: Date): CaMaterial {
  const certs = pemDecodeLabel(up.intermediateCert ?? "", "CERTIFICATE").map((d) => new X509Certificate(d));
  if (certs.length === 0) throw new PkiError("invalid_argument", "no certificate in the intermediate PEM");
  if (up.intermediateKey === undefined) throw new PkiError("invalid_argument", "the intermediate needs its key (--intermediate-key)");
  const root = onlyCert(up.rootCert, "root certificate");
  const [cert, ...above] = certs as [X509Certificate, ...X509Certificate[]];
  const key = loadPrivateKeyPem(up.intermediateKey, up.intermediateKeyPassphrase);
  checkKeyMatches(cert, key, "intermediate key");
  if (!cert.ca) throw new PkiError("invalid_argument", "the intermediate certificate is not a CA (basicConstraints cA is false)");
  // the chain must reach the root, each link signed by the next
  const links = [cert, ...above, root];
  for (let i = 0; i + 1 < links.length; i++) {
    if (!links[i]!.verify(links[i + 1]!.publicKey)) {
      throw new PkiError("invalid_argument", `certificate ${i} of the intermediate chain is not signed by the next one (or by the root)`);
    }
  }
  const notAfter = new Date(Math.min(...links.map((c) => Date.parse(c.validTo))));
  if (notAfter.getTime() <= now.getTime()) throw new PkiError("invalid_argument", "the intermediate chain has expired");
  return {
    keys: { type: keyTypeOf(key), privateKey: key, publicKey: createPublicKey(key) },
    certDer: cert.raw,
    chainDer: above.map((c) => c.raw),
    anchorDer: root.raw,
    subject: cert.subject.replace(/\n/g, ", "),
    serial: serialHex(Buffer.from(cert.serialNumber, "hex")),
    notBefore: new Date(cert.validFrom),
    notAfter,
  };
}

function onlyCert(pem: string, what: string): X509Certificate {
  const ders = pemDecodeLabel(pem, "CERTIFICATE");
  if (ders.length !== 1) throw new PkiError("invalid_argument", `the ${what} PEM must hold exactly one certificate, found ${ders.length}`);
  try {
    return new X509Certificate(ders[0]!);
  } catch (err) {
    throw new PkiError("invalid_argument", `the ${what} does not parse`, { cause: err });
  }
}

function checkKeyMatches(cert: X509Certificate, key: KeyObject, what: string): void {
  if (!cert.checkPrivateKey(key)) throw new PkiError("invalid_argument", `the ${what} does not belong to its certificate`);
}

export function caKeyFileName(serial: string): string {
  return join("keys", `ca-${serial}.key.pem`);
}

/** Writes the CA key encrypted, 0600, under dir/keys/. Returns the path relative to dir. */
export function saveCaKey(dir: string, serial: string, key: KeyObject, passphrase: string): string {
  mkdirSync(join(dir, "keys"), { recursive: true, mode: 0o700 });
  const rel = caKeyFileName(serial);
  writeSecretFile(join(dir, rel), encryptPrivateKey(key, passphrase));
  return rel;
}

export function loadCaKey(dir: string, rel: string, passphrase: string): KeyObject {
  let pem: string;
  try {
    pem = readFileSync(join(dir, rel), "utf8");
  } catch (err) {
    throw new PkiError("not_found", `CA key file ${rel} cannot be read`, { cause: err });
  }
  return decryptPrivateKey(pem, passphrase);
}
