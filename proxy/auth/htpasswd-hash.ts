/**
 * Password hashes accepted in a Basic-auth htpasswd file, and how they are
 * checked. Only slow, salted hashes are accepted: bcrypt ($2a$, $2b$, $2y$,
 * checked with bcryptjs's async compare) and scrypt in passlib's format
 * (`$scrypt$ln=<log2 N>,r=<r>,p=<p>$<salt>$<key>`, salt and key in standard
 * base64 without padding, checked with node:crypto's async scrypt). Everything
 * htpasswd can also write (plaintext, {SHA}, crypt(), $apr1$, SHA-crypt) is
 * refused, with a message naming the kind but never quoting the hash.
 */
import { randomBytes, randomInt, scrypt, timingSafeEqual, type ScryptOptions } from "node:crypto";
import bcrypt from "bcryptjs";

export const HASH_LIMITS = {
  /** bcrypt cost bounds: a cost of 20 would take minutes of CPU per request. */
  bcryptMinCost: 4,
  bcryptMaxCost: 15,
  /** scrypt memory (128 * N * r) at most 128 MiB per check. */
  scryptMaxMemory: 128 * 1024 * 1024,
  scryptMaxLn: 20,
  scryptMaxR: 32,
  scryptMaxP: 16,
  scryptMinSaltBytes: 8,
  scryptMaxSaltBytes: 64,
  scryptMinKeyBytes: 16,
  scryptMaxKeyBytes: 64,
  /** bcrypt only reads the first 72 bytes of a password. */
  bcryptMaxPasswordBytes: 72,
} as const;

export interface BcryptHash {
  readonly kind: "bcrypt";
  /** The whole hash as written in the file. */
  readonly text: string;
  readonly cost: number;
}

export interface ScryptHash {
  readonly kind: "scrypt";
  readonly text: string;
  readonly ln: number;
  readonly r: number;
  readonly p: number;
  readonly salt: Buffer;
  readonly key: Buffer;
}

export type StoredHash = BcryptHash | ScryptHash;

/** A parsed hash, or why it is refused (never containing the hash itself). */
export type HashParse = { readonly ok: true; readonly hash: StoredHash } | { readonly ok: false; readonly problem: string };

const BCRYPT = /^\$2([aby])\$(\d\d)\$[./A-Za-z0-9]{53}$/;
const SCRYPT = /^\$scrypt\$ln=(\d{1,2}),r=(\d{1,2}),p=(\d{1,2})\$([A-Za-z0-9+/]+)\$([A-Za-z0-9+/]+)$/;
const DES_CRYPT = /^[./0-9A-Za-z]{13}$/;
const REHASH = "re-create the entry with bcrypt or scrypt (see docs/auth-basic.md)";

function refuse(problem: string): HashParse {
  return { ok: false, problem };
}

/** Memory scrypt needs for these parameters (OpenSSL's estimate: V plus B). */
function scryptMemory(ln: number, r: number, p: number): number {
  return 128 * r * (2 ** ln + 2) + 128 * r * p;
}

/** Decodes unpadded standard base64 strictly (a length of 1 mod 4 cannot be base64). */
function b64(text: string): Buffer | undefined {
  if (text.length % 4 === 1) return undefined;
  return Buffer.from(text, "base64");
}

function scryptParamProblem(ln: number, r: number, p: number): string | undefined {
  const whole = (n: number, max: number) => Number.isInteger(n) && n >= 1 && n <= max;
  if (!whole(ln, HASH_LIMITS.scryptMaxLn)) return `scrypt ln=${ln} is outside 1..${HASH_LIMITS.scryptMaxLn}`;
  if (!whole(r, HASH_LIMITS.scryptMaxR)) return `scrypt r=${r} is outside 1..${HASH_LIMITS.scryptMaxR}`;
  if (!whole(p, HASH_LIMITS.scryptMaxP)) return `scrypt p=${p} is outside 1..${HASH_LIMITS.scryptMaxP}`;
  if (128 * r * 2 ** ln > HASH_LIMITS.scryptMaxMemory) {
    return `scrypt ln=${ln},r=${r} needs more than ${HASH_LIMITS.scryptMaxMemory / 1024 / 1024} MiB per check`;
  }
  return undefined;
}

function parseScrypt(text: string): HashParse {
  const m = SCRYPT.exec(text);
  if (!m) return refuse("malformed scrypt hash (expected $scrypt$ln=<n>,r=<r>,p=<p>$<salt base64>$<key base64>, passlib's format)");
  const ln = Number(m[1]);
  const r = Number(m[2]);
  const p = Number(m[3]);
  const problem = scryptParamProblem(ln, r, p);
  if (problem) return refuse(problem);
  const salt = b64(m[4]!);
  const key = b64(m[5]!);
  if (!salt || salt.length < HASH_LIMITS.scryptMinSaltBytes || salt.length > HASH_LIMITS.scryptMaxSaltBytes) {
    return refuse(`scrypt salt must be ${HASH_LIMITS.scryptMinSaltBytes}..${HASH_LIMITS.scryptMaxSaltBytes} bytes of base64`);
  }
  if (!key || key.length < HASH_LIMITS.scryptMinKeyBytes || key.length > HASH_LIMITS.scryptMaxKeyBytes) {
    return refuse(`scrypt key must be ${HASH_LIMITS.scryptMinKeyBytes}..${HASH_LIMITS.scryptMaxKeyBytes} bytes of base64`);
  }
  return { ok: true, hash: { kind: "scrypt", text, ln, r, p, salt, key } };
}

/** Parses one stored hash; the refusal names the kind so the operator knows what to replace. */
export function parseStoredHash(text: string): HashParse {
  if (text.length === 0) return refuse("empty password hash");
  if (text.startsWith("$2")) {
    const m = BCRYPT.exec(text);
    if (!m) {
      return /^\$2[aby]\$/.test(text)
        ? refuse("malformed bcrypt hash (expected $2b$<cost>$ and 53 characters)")
        : refuse(`unsupported bcrypt variant; ${REHASH}`);
    }
    const cost = Number(m[2]);
    if (cost < HASH_LIMITS.bcryptMinCost || cost > HASH_LIMITS.bcryptMaxCost) {
      return refuse(`bcrypt cost ${cost} is outside ${HASH_LIMITS.bcryptMinCost}..${HASH_LIMITS.bcryptMaxCost}`);
    }
    return { ok: true, hash: { kind: "bcrypt", text, cost } };
  }
  if (text.startsWith("$scrypt$")) return parseScrypt(text);
  if (text.startsWith("$apr1$")) return refuse(`MD5-apr1 hash ($apr1$) is not accepted; ${REHASH}`);
  if (text.startsWith("{SHA}")) return refuse(`SHA-1 hash ({SHA}) is not accepted; ${REHASH}`);
  if (text.startsWith("$1$")) return refuse(`MD5 crypt() hash ($1$) is not accepted; ${REHASH}`);
  if (text.startsWith("$5$") || text.startsWith("$6$")) return refuse(`SHA-crypt hash ($5$/$6$) is not accepted; ${REHASH}`);
  if (text.startsWith("$argon2")) return refuse(`argon2 hashes are not supported; ${REHASH}`);
  if (text.startsWith("$")) return refuse(`unknown hash format; ${REHASH}`);
  if (DES_CRYPT.test(text)) return refuse(`DES crypt() hash (or a plaintext password) is not accepted; ${REHASH}`);
  return refuse(`plaintext passwords are not accepted; ${REHASH}`);
}

function scryptAsync(password: string, salt: Buffer, keylen: number, opts: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scrypt(password, salt, keylen, opts, (err, key) => (err ? reject(err) : resolve(key)));
  });
}

function scryptOptions(ln: number, r: number, p: number): ScryptOptions {
  // maxmem bounds what one check may allocate (with a little slack over the estimate).
  return { N: 2 ** ln, r, p, maxmem: scryptMemory(ln, r, p) + 1024 * 1024 };
}

/** Checks a password against a stored hash, off the synchronous path (bcryptjs yields between rounds; scrypt runs in the thread pool). */
export async function verifyPassword(password: string, hash: StoredHash): Promise<boolean> {
  if (hash.kind === "bcrypt") return bcrypt.compare(password, hash.text);
  const key = await scryptAsync(password, hash.salt, hash.key.length, scryptOptions(hash.ln, hash.r, hash.p));
  return timingSafeEqual(key, hash.key);
}

const BCRYPT_ALPHABET = "./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/**
 * A hash of the same kind and cost as `like`, matching no password: checked
 * for unknown users, so answering them costs what answering a real user does.
 */
export function dummyHashLike(like: StoredHash): StoredHash {
  if (like.kind === "bcrypt") {
    let tail = "";
    for (let i = 0; i < 53; i++) tail += BCRYPT_ALPHABET[randomInt(BCRYPT_ALPHABET.length)];
    return { kind: "bcrypt", text: `$2b$${String(like.cost).padStart(2, "0")}$${tail}`, cost: like.cost };
  }
  const salt = randomBytes(like.salt.length);
  const key = randomBytes(like.key.length);
  return { ...like, salt, key, text: scryptText(like.ln, like.r, like.p, salt, key) };
}

/** The dummy used when the file has no users yet: bcrypt at a typical cost. */
export function defaultDummyHash(): StoredHash {
  return dummyHashLike({ kind: "bcrypt", text: "", cost: 10 });
}

function scryptText(ln: number, r: number, p: number, salt: Buffer, key: Buffer): string {
  const enc = (b: Buffer) => b.toString("base64").replace(/=+$/, "");
  return `$scrypt$ln=${ln},r=${r},p=${p}$${enc(salt)}$${enc(key)}`;
}

export interface HashOptions {
  /** bcrypt cost (default 12). */
  readonly cost?: number;
  /** scrypt log2(N) (default 15, i.e. N = 32768), r (default 8) and p (default 1). */
  readonly ln?: number;
  readonly r?: number;
  readonly p?: number;
}

/**
 * A hash for an htpasswd line: `$2b$12$…` (bcrypt) or
 * `$scrypt$ln=15,r=8,p=1$<16-byte salt>$<32-byte key>` (passlib's format).
 * Refuses a bcrypt password over 72 bytes (bcrypt would ignore the rest).
 */
export async function hashPassword(password: string, kind: "scrypt" | "bcrypt", opts: HashOptions = {}): Promise<string> {
  if (kind === "bcrypt") {
    const cost = opts.cost ?? 12;
    if (!Number.isInteger(cost) || cost < HASH_LIMITS.bcryptMinCost || cost > HASH_LIMITS.bcryptMaxCost) {
      throw new RangeError(`bcrypt cost must be ${HASH_LIMITS.bcryptMinCost}..${HASH_LIMITS.bcryptMaxCost}`);
    }
    if (Buffer.byteLength(password, "utf8") > HASH_LIMITS.bcryptMaxPasswordBytes) {
      throw new RangeError("bcrypt reads only the first 72 bytes of a password; use scrypt for longer passwords");
    }
    return bcrypt.hash(password, cost);
  }
  const ln = opts.ln ?? 15;
  const r = opts.r ?? 8;
  const p = opts.p ?? 1;
  const problem = scryptParamProblem(ln, r, p);
  if (problem) throw new RangeError(problem);
  const salt = randomBytes(16);
  const key = await scryptAsync(password, salt, 32, scryptOptions(ln, r, p));
  return scryptText(ln, r, p, salt, key);
}
