import test from "ava";
import { createPrivateKey, createPublicKey, createSecretKey, generateKeyPairSync, randomBytes, verify, type KeyObject } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as der from "../../pki/der.js";
import { PkiError } from "../../pki/errors.js";
import {
  decryptPrivateKey,
  encryptPrivateKey,
  generateKeyPair,
  KEY_TYPES,
  keyTypeOf,
  loadPrivateKeyPem,
  parseKeyType,
  privateKeyToPem,
  publicKeyFromSpki,
  signatureAlgorithmIdentifier,
  signatureAlgorithmOid,
  signWith,
  spkiKeyType,
  writePublicFile,
  writeSecretFile,
  type KeyPair,
  type KeyType,
} from "../../pki/keys.js";

const pairs = new Map<KeyType, KeyPair>(KEY_TYPES.map((t) => [t, generateKeyPair(t)]));
const pair = (t: KeyType): KeyPair => pairs.get(t)!;
const spkiOf = (k: KeyObject): Buffer => (k.type === "private" ? createPublicKey(k) : k).export({ type: "spki", format: "der" });

test("KEY_TYPES and parseKeyType", (t) => {
  t.deepEqual([...KEY_TYPES], ["ec-p256", "ec-p384", "rsa-2048", "rsa-3072"]);
  for (const k of KEY_TYPES) t.is(parseKeyType(k), k);
  const err = t.throws(() => parseKeyType("rsa-1024"), { instanceOf: PkiError });
  t.is(err.code, "invalid_argument");
  t.regex(err.message, /ec-p256, ec-p384, rsa-2048, rsa-3072/);
});

test("every key type generates and is recognised from fresh KeyObjects", (t) => {
  t.is(generateKeyPair().type, "ec-p256");
  for (const type of KEY_TYPES) {
    const p = pair(type);
    t.is(p.type, type);
    t.is(p.privateKey.type, "private");
    t.is(p.publicKey.type, "public");
    // Re-imported objects are not in the cache, so this exercises the detection itself.
    t.is(keyTypeOf(createPrivateKey(privateKeyToPem(p.privateKey))), type);
    t.is(keyTypeOf(publicKeyFromSpki(spkiOf(p.publicKey))), type);
    t.is(spkiKeyType(spkiOf(p.publicKey)), type);
    t.deepEqual(spkiOf(publicKeyFromSpki(spkiOf(p.publicKey))), spkiOf(p.publicKey), "same key back");
  }
});

test("unsupported keys are refused with invalid_key", (t) => {
  const unsupported: Array<[string, KeyObject]> = [
    ["RSA-1024", generateKeyPairSync("rsa", { modulusLength: 1024 }).publicKey],
    ["RSA-4096", generateKeyPairSync("rsa", { modulusLength: 4096 }).privateKey],
    ["P-521", generateKeyPairSync("ec", { namedCurve: "P-521" }).publicKey],
    ["secp256k1", generateKeyPairSync("ec", { namedCurve: "secp256k1" }).privateKey],
    ["ed25519", generateKeyPairSync("ed25519").publicKey],
    ["RSA-PSS", generateKeyPairSync("rsa-pss", { modulusLength: 2048 }).publicKey],
  ];
  for (const [what, key] of unsupported) {
    t.is(t.throws(() => keyTypeOf(key), { instanceOf: PkiError }, what).code, "invalid_key", what);
    const pub = spkiOf(key);
    t.is(t.throws(() => spkiKeyType(pub), { instanceOf: PkiError }, what).code, "invalid_key", what);
    t.is(t.throws(() => publicKeyFromSpki(pub), { instanceOf: PkiError }, what).code, "invalid_key", what);
  }
  t.is(t.throws(() => keyTypeOf(createSecretKey(randomBytes(32))), { instanceOf: PkiError }).code, "invalid_key");
  t.regex(t.throws(() => keyTypeOf(unsupported[0]![1]))!.message, /1024/);
});

test("publicKeyFromSpki refuses malformed SPKI and points off the curve", (t) => {
  const spki = spkiOf(pair("ec-p256").publicKey);
  const offCurve = Buffer.from(spki);
  offCurve[offCurve.length - 1]! ^= 0x01;
  t.is(t.throws(() => publicKeyFromSpki(offCurve), { instanceOf: PkiError }).code, "invalid_key");
  t.is(t.throws(() => publicKeyFromSpki(spki.subarray(0, 40)), { instanceOf: PkiError }).code, "invalid_key");
  t.is(t.throws(() => publicKeyFromSpki(Buffer.concat([spki, Buffer.from([0])])), { instanceOf: PkiError }).code, "invalid_key");
  const compressed = generateKeyPairSync("ec", { namedCurve: "P-256" }).publicKey.export({ format: "der", type: "spki" });
  // Rewrite as a compressed point (0x02/0x03 || X): valid SPKI, but not a form we accept.
  const pt = compressed.subarray(compressed.length - 65);
  const comp = der.sequence(
    der.sequence(der.oid("1.2.840.10045.2.1"), der.oid("1.2.840.10045.3.1.7")),
    der.bitString(Buffer.concat([Buffer.from([2 + (pt[64]! & 1)]), pt.subarray(1, 33)])),
  );
  t.is(t.throws(() => spkiKeyType(comp), { instanceOf: PkiError }).code, "invalid_key");
});

test("signWith uses the hash of the key type and DER signatures", (t) => {
  const data = randomBytes(100);
  for (const type of KEY_TYPES) {
    const p = pair(type);
    const sig = signWith(p.privateKey, data);
    const hash = type === "ec-p384" ? "sha384" : "sha256";
    t.true(verify(hash, data, p.publicKey, sig), type);
    t.false(verify(hash === "sha384" ? "sha256" : "sha384", data, p.publicKey, sig), type);
    if (type.startsWith("ec")) t.is(sig[0], 0x30, "ECDSA-Sig-Value is a DER SEQUENCE");
    else t.is(sig.length, type === "rsa-2048" ? 256 : 384);
  }
  t.is(t.throws(() => signWith(pair("ec-p256").publicKey, data), { instanceOf: PkiError }).code, "invalid_key");
});

test("signature algorithm OIDs and identifiers", (t) => {
  t.is(signatureAlgorithmOid("ec-p256"), "1.2.840.10045.4.3.2");
  t.is(signatureAlgorithmOid("ec-p384"), "1.2.840.10045.4.3.3");
  t.is(signatureAlgorithmOid("rsa-2048"), "1.2.840.113549.1.1.11");
  t.is(signatureAlgorithmOid("rsa-3072"), "1.2.840.113549.1.1.11");
  t.is(signatureAlgorithmIdentifier("ec-p256").toString("hex"), "300a06082a8648ce3d040302");
  t.is(signatureAlgorithmIdentifier("rsa-2048").toString("hex"), "300d06092a864886f70d01010b0500");
});

test("unencrypted PEM round trips in every format Node and OpenSSL write", (t) => {
  for (const type of KEY_TYPES) {
    const p = pair(type);
    const pem = privateKeyToPem(p.privateKey);
    t.regex(pem, /^-----BEGIN PRIVATE KEY-----\n/);
    t.deepEqual(spkiOf(loadPrivateKeyPem(pem)), spkiOf(p.publicKey), type);
  }
  const sec1 = pair("ec-p256").privateKey.export({ type: "sec1", format: "pem" }).toString();
  t.is(keyTypeOf(loadPrivateKeyPem(sec1)), "ec-p256");
  const pkcs1 = pair("rsa-2048").privateKey.export({ type: "pkcs1", format: "pem" }).toString();
  t.is(keyTypeOf(loadPrivateKeyPem(pkcs1)), "rsa-2048");
  t.is(t.throws(() => loadPrivateKeyPem("no key here"), { instanceOf: PkiError }).code, "invalid_key");
  t.is(t.throws(() => loadPrivateKeyPem("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"), { instanceOf: PkiError }).code, "invalid_key");
  t.is(t.throws(() => privateKeyToPem(pair("ec-p256").publicKey), { instanceOf: PkiError }).code, "invalid_key");
  const ed = generateKeyPairSync("ed25519").privateKey.export({ type: "pkcs8", format: "pem" }).toString();
  t.is(t.throws(() => loadPrivateKeyPem(ed), { instanceOf: PkiError }).code, "invalid_key");
});

test("encrypted PKCS#8: PBES2 + AES-256-CBC, round trip, wrong passphrase, garbage", (t) => {
  const pass = "correct horse battery";
  for (const type of ["ec-p256", "rsa-2048"] as const) {
    const p = pair(type);
    const enc = encryptPrivateKey(p.privateKey, pass);
    t.regex(enc, /^-----BEGIN ENCRYPTED PRIVATE KEY-----\n/);
    const plain = privateKeyToPem(p.privateKey);
    const plainBody = plain.split("\n").slice(1, -2).join("");
    t.false(enc.includes(plainBody.slice(0, 40)), "the plaintext PKCS#8 does not appear");
    const encDer = Buffer.from(enc.split("\n").slice(1, -2).join(""), "base64");
    const secret = Buffer.from(p.privateKey.export({ format: "jwk" }).d!, "base64url");
    t.is(encDer.indexOf(secret.subarray(0, 16)), -1, "the private scalar/exponent does not appear");
    // EncryptedPrivateKeyInfo { { PBES2, { { PBKDF2, ... }, { aes-256-cbc, iv } } }, data }
    const [alg] = der.seqChildren(der.decode(encDer), "EncryptedPrivateKeyInfo", 2, 2);
    const [algOid, params] = der.seqChildren(alg!, "alg", 2, 2);
    t.is(der.readOid(algOid!), "1.2.840.113549.1.5.13");
    const [kdf, cipher] = der.seqChildren(params!, "PBES2-params", 2, 2);
    t.is(der.readOid(der.seqChildren(kdf!, "kdf")[0]!), "1.2.840.113549.1.5.12");
    t.is(der.readOid(der.seqChildren(cipher!, "cipher")[0]!), "2.16.840.1.101.3.4.1.42");

    t.deepEqual(spkiOf(decryptPrivateKey(enc, pass)), spkiOf(p.publicKey), type);
    t.deepEqual(spkiOf(loadPrivateKeyPem(enc, pass)), spkiOf(p.publicKey), type);
    t.is(t.throws(() => decryptPrivateKey(enc, "wrong passphrase"), { instanceOf: PkiError }).code, "bad_passphrase");
    t.is(t.throws(() => loadPrivateKeyPem(enc), { instanceOf: PkiError }).code, "bad_passphrase");
  }
  const garbage = "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAECAwQFBgc=\n-----END ENCRYPTED PRIVATE KEY-----\n";
  t.is(t.throws(() => decryptPrivateKey(garbage, pass), { instanceOf: PkiError }).code, "invalid_key");
  t.is(t.throws(() => decryptPrivateKey("not a pem at all", pass), { instanceOf: PkiError }).code, "invalid_key");
  t.is(t.throws(() => decryptPrivateKey(privateKeyToPem(pair("ec-p256").privateKey), pass), { instanceOf: PkiError }).code, "invalid_key");
});

test("short or empty passphrases are refused", (t) => {
  const key = pair("ec-p256").privateKey;
  for (const p of ["", "1234567"]) {
    t.is(t.throws(() => encryptPrivateKey(key, p), { instanceOf: PkiError }).code, "invalid_argument", JSON.stringify(p));
  }
  t.notThrows(() => encryptPrivateKey(key, "12345678"));
  t.is(t.throws(() => decryptPrivateKey(encryptPrivateKey(key, "12345678"), ""), { instanceOf: PkiError }).code, "invalid_argument");
});

function tmpDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), "mesh-"));
}

test("writeSecretFile creates 0600, replaces an existing file, leaves no temp files", (t) => {
  const dir = tmpDir();
  try {
    const file = path.join(dir, "key.pem");
    writeSecretFile(file, "first");
    t.is(fs.statSync(file).mode & 0o777, 0o600);
    t.is(fs.readFileSync(file, "utf8"), "first");
    fs.chmodSync(file, 0o644);
    writeSecretFile(file, Buffer.from("second"));
    t.is(fs.readFileSync(file, "utf8"), "second");
    t.is(fs.statSync(file).mode & 0o777, 0o600, "the replacement has 0600, not the old mode");
    t.deepEqual(fs.readdirSync(dir), ["key.pem"]);
    t.throws(() => writeSecretFile(path.join(dir, "missing", "k.pem"), "x"));
    t.deepEqual(fs.readdirSync(dir), ["key.pem"]);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test("writePublicFile creates 0644 whatever the umask", (t) => {
  const dir = tmpDir();
  const old = process.umask(0o077);
  try {
    const file = path.join(dir, "ca.pem");
    writePublicFile(file, "cert");
    t.is(fs.statSync(file).mode & 0o777, 0o644);
    writePublicFile(file, "cert2");
    t.is(fs.readFileSync(file, "utf8"), "cert2");
    t.is(fs.statSync(file).mode & 0o777, 0o644);
    writeSecretFile(path.join(dir, "k"), "k");
    t.is(fs.statSync(path.join(dir, "k")).mode & 0o777, 0o600);
    t.deepEqual(fs.readdirSync(dir).sort(), ["ca.pem", "k"]);
  } finally {
    process.umask(old);
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
