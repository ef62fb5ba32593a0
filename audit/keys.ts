/**
 * Keys for signed checkpoints and archive anchors.
 *
 * A writer holds a private signing key (PKCS#8 PEM, Ed25519 or ECDSA P-256,
 * a file of mode 0600); verifiers hold the matching public keys in a
 * trusted-keys file (PEM `PUBLIC KEY` blocks). Whoever can write the
 * database but has neither the private key nor write access to the
 * trusted-keys file cannot make a checkpoint verify. A key is named by its
 * key id: the first 16 bytes of SHA-256 over its SubjectPublicKeyInfo DER,
 * as 32 lowercase hex digits (`openssl pkey -pubin -outform DER | sha256sum`).
 */
import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  randomBytes,
  sign as cryptoSign,
  verify as cryptoVerify,
  type KeyObject,
} from "node:crypto";
import { closeSync, constants as fsConstants, fchmodSync, fstatSync, fsyncSync, linkSync, openSync, readSync, unlinkSync } from "node:fs";
import { AuditError } from "./errors.js";
import { writeAllSync } from "./fs-util.js";

export type KeyAlgorithm = "ed25519" | "p256";

export interface SigningKey {
  /** 32 lowercase hex digits (see the module comment). */
  readonly keyId: string;
  readonly algorithm: KeyAlgorithm;
  /** The public half as a PEM `PUBLIC KEY` block, for a trusted-keys file. */
  readonly publicKeyPem: string;
  /** Signature over the UTF-8 bytes of message, base64. */
  sign(message: string): string;
}

const KEY_FILE_MAX_BYTES = 64 * 1024;
const TRUSTED_FILE_MAX_BYTES = 1024 * 1024;
const PEM_PUBLIC = /-----BEGIN PUBLIC KEY-----[\s\S]*?-----END PUBLIC KEY-----/g;

/** Default places next to a database: `<db>.key` (private, 0600) and `<db>.keys` (trusted public keys). */
export function defaultSigningKeyPath(db: string): string {
  return `${db}.key`;
}

export function defaultTrustedKeysPath(db: string): string {
  return `${db}.keys`;
}

function keyError(message: string, cause?: unknown): AuditError {
  return new AuditError("key_error", message, cause === undefined ? {} : { cause });
}

function algorithmOf(key: KeyObject): KeyAlgorithm | undefined {
  if (key.asymmetricKeyType === "ed25519") return "ed25519";
  if (key.asymmetricKeyType === "ec" && key.asymmetricKeyDetails?.namedCurve === "prime256v1") return "p256";
  return undefined;
}

export function keyIdOf(publicKey: KeyObject): string {
  const der = publicKey.export({ type: "spki", format: "der" });
  return createHash("sha256").update(der).digest("hex").slice(0, 32);
}

function signWith(privateKey: KeyObject, algorithm: KeyAlgorithm, message: string): string {
  const data = Buffer.from(message, "utf8");
  const sig = algorithm === "ed25519" ? cryptoSign(null, data, privateKey) : cryptoSign("sha256", data, { key: privateKey, dsaEncoding: "ieee-p1363" });
  return sig.toString("base64");
}

function signingKeyOf(privateKey: KeyObject, where: string): SigningKey {
  const algorithm = algorithmOf(privateKey);
  if (algorithm === undefined) throw keyError(`${where}: only Ed25519 and ECDSA P-256 keys can sign audit checkpoints`);
  const publicKey = createPublicKey(privateKey);
  const publicKeyPem = publicKey.export({ type: "spki", format: "pem" }).toString();
  return { keyId: keyIdOf(publicKey), algorithm, publicKeyPem, sign: (message) => signWith(privateKey, algorithm, message) };
}

function newPrivateKey(algorithm: KeyAlgorithm): KeyObject {
  return (algorithm === "ed25519" ? generateKeyPairSync("ed25519") : generateKeyPairSync("ec", { namedCurve: "prime256v1" })).privateKey;
}

/** A fresh key that lives only in memory (tests, benchmarks). */
export function generateSigningKey(algorithm: KeyAlgorithm = "ed25519"): SigningKey {
  return signingKeyOf(newPrivateKey(algorithm), "generated key");
}

/** Reads at most max bytes of a file; the fd's stat is handed to check first. */
function readBounded(path: string, max: number, check?: (mode: number) => void): string {
  let fd: number;
  try {
    fd = openSync(path, fsConstants.O_RDONLY);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw code === "ENOENT" ? new AuditError("not_found", `no key file at ${path}`, { cause: err }) : keyError(`cannot read ${path}: ${(err as Error).message}`, err);
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw keyError(`${path} is not a regular file`);
    if (st.size > max) throw keyError(`${path} is larger than ${max} bytes`);
    check?.(st.mode);
    const buf = Buffer.alloc(st.size);
    let off = 0;
    while (off < buf.length) {
      const n = readSync(fd, buf, off, buf.length - off, off);
      if (n === 0) break;
      off += n;
    }
    return buf.subarray(0, off).toString("utf8");
  } finally {
    closeSync(fd);
  }
}

/** Loads a private signing key; refuses a file that group or others may access. */
export function loadSigningKey(path: string): SigningKey {
  const pem = readBounded(path, KEY_FILE_MAX_BYTES, (mode) => {
    if ((mode & 0o077) !== 0) throw keyError(`signing key ${path} is accessible by group or others (mode ${(mode & 0o777).toString(8)}); chmod 600 it`);
  });
  let key: KeyObject;
  try {
    key = createPrivateKey(pem);
  } catch (err) {
    throw keyError(`${path} holds no readable private key (PKCS#8 PEM expected)`, err);
  }
  return signingKeyOf(key, path);
}

/** Adds key's public half to a trusted-keys file (created 0644) unless it is already listed. */
export function addTrustedKey(file: string, key: Pick<SigningKey, "keyId" | "publicKeyPem">): void {
  try {
    if (TrustedKeys.load(file).has(key.keyId)) return;
  } catch (err) {
    if (!(err instanceof AuditError && err.code === "not_found")) throw err;
  }
  let fd: number;
  try {
    fd = openSync(file, fsConstants.O_WRONLY | fsConstants.O_APPEND | fsConstants.O_CREAT, 0o644);
  } catch (err) {
    throw keyError(`cannot write trusted keys file ${file}: ${(err as Error).message}`, err);
  }
  try {
    // One write with O_APPEND: concurrent adders never interleave inside a block.
    writeAllSync(fd, `# audit signing key ${key.keyId}\n${key.publicKeyPem.trimEnd()}\n`);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

export interface CreateKeyOptions {
  algorithm?: KeyAlgorithm;
  /** Where the new public key is added (default: none). */
  trustedKeysFile?: string;
}

/**
 * Creates a signing key file (mode 0600) that must not exist yet, and adds
 * its public key to trustedKeysFile. Written to a temporary file and
 * hard-linked into place, so a concurrent creator either wins whole or
 * finds the other's complete key (then that one is returned).
 */
export function createSigningKey(path: string, opts: CreateKeyOptions = {}): SigningKey {
  const algorithm = opts.algorithm ?? "ed25519";
  const privateKey = newPrivateKey(algorithm);
  const key = signingKeyOf(privateKey, path);
  const tmp = `${path}.tmp-${process.pid}-${randomBytes(4).toString("hex")}`;
  let fd: number;
  try {
    fd = openSync(tmp, fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_EXCL, 0o600);
  } catch (err) {
    throw keyError(`cannot create signing key ${path}: ${(err as Error).message}`, err);
  }
  try {
    fchmodSync(fd, 0o600);
    writeAllSync(fd, privateKey.export({ type: "pkcs8", format: "pem" }).toString());
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  try {
    linkSync(tmp, path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "EEXIST") return loadSigningKey(path);
    throw keyError(`cannot create signing key ${path}: ${(err as Error).message}`, err);
  } finally {
    unlinkSync(tmp);
  }
  if (opts.trustedKeysFile !== undefined) addTrustedKey(opts.trustedKeysFile, key);
  return key;
}

/** Loads the key at path; when it does not exist and create is set, creates it (see createSigningKey). */
export function openSigningKey(path: string, opts: CreateKeyOptions & { create?: boolean } = {}): SigningKey {
  try {
    return loadSigningKey(path);
  } catch (err) {
    if (opts.create === true && err instanceof AuditError && err.code === "not_found") return createSigningKey(path, opts);
    throw err;
  }
}

export type SignatureCheck = "ok" | "unknown_key" | "bad_signature";

/** The public keys a verifier trusts, by key id. */
export class TrustedKeys {
  private readonly keys: Map<string, { key: KeyObject; algorithm: KeyAlgorithm }>;
  /** Set when loaded from a file that group or others may write. */
  readonly warning: string | undefined;

  private constructor(keys: Map<string, { key: KeyObject; algorithm: KeyAlgorithm }>, warning?: string) {
    this.keys = keys;
    this.warning = warning;
  }

  /** The keys in PEM text (PUBLIC KEY blocks; text between blocks is ignored). */
  static fromPem(text: string, where = "trusted keys"): TrustedKeys {
    const keys = new Map<string, { key: KeyObject; algorithm: KeyAlgorithm }>();
    for (const block of text.match(PEM_PUBLIC) ?? []) {
      let key: KeyObject;
      try {
        key = createPublicKey(block);
      } catch (err) {
        throw keyError(`${where}: a PUBLIC KEY block does not parse`, err);
      }
      const algorithm = algorithmOf(key);
      if (algorithm === undefined) throw keyError(`${where}: only Ed25519 and ECDSA P-256 public keys are accepted`);
      keys.set(keyIdOf(key), { key, algorithm });
    }
    return new TrustedKeys(keys);
  }

  /** Throws AuditError not_found when the file does not exist, key_error when it is malformed or holds no key. */
  static load(path: string): TrustedKeys {
    let mode = 0;
    const text = readBounded(path, TRUSTED_FILE_MAX_BYTES, (m) => (mode = m));
    const parsed = TrustedKeys.fromPem(text, path);
    if (parsed.size === 0) throw keyError(`${path} holds no PUBLIC KEY block`);
    const warning = (mode & 0o022) !== 0 ? `trusted keys file ${path} is writable by group or others` : undefined;
    return new TrustedKeys(parsed.keys, warning);
  }

  static of(...keys: Pick<SigningKey, "publicKeyPem">[]): TrustedKeys {
    return TrustedKeys.fromPem(keys.map((k) => k.publicKeyPem).join("\n"));
  }

  static none(): TrustedKeys {
    return new TrustedKeys(new Map());
  }

  get size(): number {
    return this.keys.size;
  }

  has(keyId: string): boolean {
    return this.keys.has(keyId);
  }

  /** Checks a base64 signature over the UTF-8 bytes of message by the key keyId. Never throws. */
  check(keyId: string, message: string, signature: string): SignatureCheck {
    const entry = this.keys.get(keyId);
    if (entry === undefined) return "unknown_key";
    if (typeof signature !== "string" || signature.length > 512 || !/^[A-Za-z0-9+/]+={0,2}$/.test(signature)) return "bad_signature";
    const data = Buffer.from(message, "utf8");
    const sig = Buffer.from(signature, "base64");
    try {
      const ok =
        entry.algorithm === "ed25519"
          ? cryptoVerify(null, data, entry.key, sig)
          : cryptoVerify("sha256", data, { key: entry.key, dsaEncoding: "ieee-p1363" }, sig);
      return ok ? "ok" : "bad_signature";
    } catch {
      return "bad_signature";
    }
  }
}
