/** Key pairs, their supported types, signing, PEM (plain and encrypted PKCS#8) and safe key files. */
import {
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  randomBytes,
  sign as cryptoSign,
  type KeyObject,
} from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { decode, DerError, nullValue, oid, readBitString, readOid, seqChildren, sequence, TAG } from "./der.js";
import { PkiError } from "./errors.js";
import { pemDecodeAll } from "./pem.js";

export type KeyType = "ec-p256" | "ec-p384" | "rsa-2048" | "rsa-3072";
export const KEY_TYPES: readonly KeyType[] = Object.freeze(["ec-p256", "ec-p384", "rsa-2048", "rsa-3072"] as const);

export interface KeyPair {
  type: KeyType;
  privateKey: KeyObject;
  publicKey: KeyObject;
}

export const OID = {
  ecPublicKey: "1.2.840.10045.2.1",
  p256: "1.2.840.10045.3.1.7",
  p384: "1.3.132.0.34",
  rsaEncryption: "1.2.840.113549.1.1.1",
  ecdsaSha256: "1.2.840.10045.4.3.2",
  ecdsaSha384: "1.2.840.10045.4.3.3",
  ecdsaSha512: "1.2.840.10045.4.3.4",
  rsaSha256: "1.2.840.113549.1.1.11",
  rsaSha384: "1.2.840.113549.1.1.12",
  rsaSha512: "1.2.840.113549.1.1.13",
} as const;

export function parseKeyType(s: string): KeyType {
  if ((KEY_TYPES as readonly string[]).includes(s)) return s as KeyType;
  throw new PkiError("invalid_argument", `unknown key type "${s}" (valid: ${KEY_TYPES.join(", ")})`);
}

export function generateKeyPair(type: KeyType = "ec-p256"): KeyPair {
  parseKeyType(type);
  const pair =
    type === "ec-p256" || type === "ec-p384"
      ? generateKeyPairSync("ec", { namedCurve: type === "ec-p256" ? "P-256" : "P-384" })
      : generateKeyPairSync("rsa", { modulusLength: type === "rsa-2048" ? 2048 : 3072, publicExponent: 0x10001 });
  keyTypeCache.set(pair.privateKey, type);
  keyTypeCache.set(pair.publicKey, type);
  return { type, privateKey: pair.privateKey, publicKey: pair.publicKey };
}

// Key details cross into C++ on every read; the type of a KeyObject never changes.
const keyTypeCache = new WeakMap<KeyObject, KeyType>();

export function keyTypeOf(key: KeyObject): KeyType {
  const hit = keyTypeCache.get(key);
  if (hit) return hit;
  if (key.type !== "public" && key.type !== "private") throw new PkiError("invalid_key", "not an asymmetric key");
  const details = key.asymmetricKeyDetails ?? {};
  let t: KeyType | undefined;
  if (key.asymmetricKeyType === "ec") {
    if (details.namedCurve === "prime256v1") t = "ec-p256";
    else if (details.namedCurve === "secp384r1") t = "ec-p384";
    else throw new PkiError("invalid_key", `unsupported EC curve ${details.namedCurve ?? "?"} (use P-256 or P-384)`);
  } else if (key.asymmetricKeyType === "rsa") {
    if (details.modulusLength === 2048) t = "rsa-2048";
    else if (details.modulusLength === 3072) t = "rsa-3072";
    else throw new PkiError("invalid_key", `unsupported RSA modulus ${details.modulusLength ?? "?"} bits (use 2048 or 3072)`);
  } else {
    throw new PkiError("invalid_key", `unsupported key algorithm ${key.asymmetricKeyType ?? "?"}`);
  }
  keyTypeCache.set(key, t);
  return t;
}

interface SpkiInfo {
  type: KeyType;
  /** EC: the uncompressed point 04||X||Y. RSA: the RSAPublicKey DER. */
  key: Buffer;
}

function readSpki(spki: Buffer): SpkiInfo {
  try {
    const [alg, pub] = seqChildren(decode(spki), "SubjectPublicKeyInfo", 2, 2);
    const algKids = seqChildren(alg!, "AlgorithmIdentifier", 1, 2);
    const algOid = readOid(algKids[0]!);
    const { bits, unusedBits } = readBitString(pub!, "subjectPublicKey");
    if (unusedBits !== 0) throw new PkiError("invalid_key", "subjectPublicKey is not a whole number of bytes");
    if (algOid === OID.ecPublicKey) {
      const curve = algKids[1] ? readOid(algKids[1], "namedCurve") : "";
      // Uncompressed points only: 0x04 || X || Y.
      if (curve === OID.p256 && bits.length === 65 && bits[0] === 4) return { type: "ec-p256", key: bits };
      if (curve === OID.p384 && bits.length === 97 && bits[0] === 4) return { type: "ec-p384", key: bits };
      throw new PkiError("invalid_key", "unsupported EC curve or point encoding (use P-256 or P-384, uncompressed)");
    }
    if (algOid === OID.rsaEncryption) {
      if (algKids[1]?.tag !== TAG.NULL || algKids[1].content.length !== 0) {
        throw new PkiError("invalid_key", "rsaEncryption parameters must be NULL");
      }
      const [n, e] = seqChildren(decode(bits), "RSAPublicKey", 2, 2);
      e!.expect(TAG.INTEGER, "publicExponent");
      const c = n!.expect(TAG.INTEGER, "modulus").content;
      let i = 0;
      while (i < c.length && c[i] === 0) i++;
      const modBits = i < c.length ? (c.length - i) * 8 - Math.clz32(c[i]!) + 24 : 0;
      if (modBits === 2048) return { type: "rsa-2048", key: bits };
      if (modBits === 3072) return { type: "rsa-3072", key: bits };
      throw new PkiError("invalid_key", `unsupported RSA modulus ${modBits} bits (use 2048 or 3072)`);
    }
    throw new PkiError("invalid_key", `unsupported key algorithm ${algOid}`);
  } catch (err) {
    if (err instanceof DerError) throw new PkiError("invalid_key", `bad SubjectPublicKeyInfo: ${err.message}`);
    throw err;
  }
}

/**
 * The key type from SPKI DER without building a KeyObject (used when a leaf is
 * built from a CSR's SPKI). Throws invalid_key for anything unsupported.
 */
export function spkiKeyType(spki: Buffer): KeyType {
  return readSpki(spki).type;
}

/**
 * SPKI DER → KeyObject, refusing unsupported keys before any import. With
 * OpenSSL 3.0, importing SPKI DER is slow (~0.12 ms, its decoder framework);
 * the JWK (EC) and PKCS#1 (RSA) paths give the same key several times faster.
 */
export function publicKeyFromSpki(spki: Buffer): KeyObject {
  const { type, key } = readSpki(spki);
  let obj: KeyObject;
  try {
    if (type === "ec-p256" || type === "ec-p384") {
      const len = (key.length - 1) / 2;
      obj = createPublicKey({
        key: {
          kty: "EC",
          crv: type === "ec-p256" ? "P-256" : "P-384",
          x: key.subarray(1, 1 + len).toString("base64url"),
          y: key.subarray(1 + len).toString("base64url"),
        },
        format: "jwk",
      });
    } else {
      obj = createPublicKey({ key, format: "der", type: "pkcs1" });
    }
  } catch (err) {
    throw new PkiError("invalid_key", "the public key is not valid (e.g. a point not on the curve)", { cause: err });
  }
  keyTypeCache.set(obj, type);
  return obj;
}

export function hashOf(type: KeyType): "sha256" | "sha384" {
  return type === "ec-p384" ? "sha384" : "sha256";
}

/** ECDSA P-256→SHA-256, P-384→SHA-384, RSA→SHA-256 PKCS#1 v1.5. ECDSA signatures are DER. */
export function signWith(privateKey: KeyObject, data: Buffer): Buffer {
  if (privateKey.type !== "private") throw new PkiError("invalid_key", "signing needs a private key");
  return cryptoSign(hashOf(keyTypeOf(privateKey)), data, privateKey);
}

export function signatureAlgorithmOid(type: KeyType): string {
  switch (type) {
    case "ec-p256":
      return OID.ecdsaSha256;
    case "ec-p384":
      return OID.ecdsaSha384;
    case "rsa-2048":
    case "rsa-3072":
      return OID.rsaSha256;
    default:
      throw new PkiError("invalid_argument", `unknown key type ${String(type)}`);
  }
}

const algIdCache = new Map<KeyType, Buffer>();

/** The DER AlgorithmIdentifier for signatures by this key type (NULL parameters for RSA, none for ECDSA). */
export function signatureAlgorithmIdentifier(type: KeyType): Buffer {
  let enc = algIdCache.get(type);
  if (!enc) {
    const o = oid(signatureAlgorithmOid(type));
    enc = type.startsWith("rsa") ? sequence(o, nullValue()) : sequence(o);
    algIdCache.set(type, enc);
  }
  return enc;
}

export function privateKeyToPem(key: KeyObject): string {
  if (key.type !== "private") throw new PkiError("invalid_key", "not a private key");
  return key.export({ type: "pkcs8", format: "pem" }).toString();
}

const MIN_PASSPHRASE = 8;

/** Encrypted PKCS#8 ("ENCRYPTED PRIVATE KEY"): PBES2 with PBKDF2 and AES-256-CBC. */
export function encryptPrivateKey(key: KeyObject, passphrase: string): string {
  if (typeof passphrase !== "string" || passphrase.length < MIN_PASSPHRASE) {
    throw new PkiError("invalid_argument", `passphrase must be at least ${MIN_PASSPHRASE} characters`);
  }
  if (key.type !== "private") throw new PkiError("invalid_key", "not a private key");
  return key.export({ type: "pkcs8", format: "pem", cipher: "aes-256-cbc", passphrase }).toString();
}

const MAX_KEY_PEM = 64 * 1024;

export function decryptPrivateKey(pem: string, passphrase: string): KeyObject {
  if (typeof passphrase !== "string" || passphrase.length === 0) {
    throw new PkiError("invalid_argument", "a passphrase is required");
  }
  const blocks = pemDecodeAll(String(pem), MAX_KEY_PEM);
  const block = blocks.find((b) => b.label === "ENCRYPTED PRIVATE KEY");
  if (!block) throw new PkiError("invalid_key", "no ENCRYPTED PRIVATE KEY PEM block");
  try {
    // EncryptedPrivateKeyInfo ::= SEQUENCE { AlgorithmIdentifier, OCTET STRING }
    const [, data] = seqChildren(decode(block.der), "EncryptedPrivateKeyInfo", 2, 2);
    data!.expect(TAG.OCTET_STRING, "encryptedData");
  } catch (err) {
    throw new PkiError("invalid_key", `malformed encrypted private key: ${(err as Error).message}`);
  }
  let key: KeyObject;
  try {
    key = createPrivateKey({ key: block.der, format: "der", type: "pkcs8", passphrase });
  } catch (err) {
    // The structure is well formed, so a failure here is the decryption: wrong passphrase.
    throw new PkiError("bad_passphrase", "cannot decrypt the private key: wrong passphrase", { cause: err });
  }
  keyTypeOf(key);
  return key;
}

/** An unencrypted (PKCS#8, SEC1 or PKCS#1) or encrypted PKCS#8 private key; its type must be supported. */
export function loadPrivateKeyPem(pem: string, passphrase?: string): KeyObject {
  const blocks = pemDecodeAll(String(pem), MAX_KEY_PEM);
  if (blocks.some((b) => b.label === "ENCRYPTED PRIVATE KEY")) {
    if (passphrase === undefined) throw new PkiError("bad_passphrase", "the private key is encrypted: a passphrase is required");
    return decryptPrivateKey(pem, passphrase);
  }
  const block = blocks.find((b) => /^(|EC |RSA )PRIVATE KEY$/.test(b.label));
  if (!block) throw new PkiError("invalid_key", "no PRIVATE KEY PEM block");
  let key: KeyObject;
  try {
    const type = block.label === "EC PRIVATE KEY" ? "sec1" : block.label === "RSA PRIVATE KEY" ? "pkcs1" : "pkcs8";
    key = createPrivateKey({ key: block.der, format: "der", type });
  } catch (err) {
    throw new PkiError("invalid_key", "unreadable private key", { cause: err });
  }
  keyTypeOf(key);
  return key;
}

/**
 * Atomic replace: a temp file in the same directory, created with the final
 * mode (never readable by others, not even briefly), fsynced, then renamed.
 */
function writeAtomic(target: string, data: string | Buffer, mode: number): void {
  const dir = path.dirname(target);
  const tmp = path.join(dir, `.${path.basename(target)}.${randomBytes(6).toString("hex")}.tmp`);
  const fd = fs.openSync(tmp, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL, mode);
  try {
    try {
      fs.fchmodSync(fd, mode); // the umask may have cleared bits we want (0644); it never adds any
      fs.writeFileSync(fd, data);
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(tmp, target);
  } catch (err) {
    fs.rmSync(tmp, { force: true });
    throw err;
  }
  try {
    const dfd = fs.openSync(dir, "r");
    try {
      fs.fsyncSync(dfd); // make the rename itself durable
    } finally {
      fs.closeSync(dfd);
    }
  } catch {
    // Some filesystems refuse fsync on a directory; the data itself is already synced.
  }
}

export function writeSecretFile(filePath: string, data: string | Buffer): void {
  writeAtomic(filePath, data, 0o600);
}

export function writePublicFile(filePath: string, data: string | Buffer): void {
  writeAtomic(filePath, data, 0o644);
}
