import test from "ava";
import { createPrivateKey, createPublicKey, generateKeyPairSync, KeyObject, webcrypto, X509Certificate, type KeyObject as KeyObjectT } from "node:crypto";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { isPkiError, type PkiErrorCode } from "../../pki/errors.js";
import { generateKeyPair } from "../../pki/keys.js";
import { exportPkcs12, type Pkcs12Input } from "../../pki/p12.js";
import { pemDecodeLabel } from "../../pki/pem.js";
import { x509 } from "../../pki/x509.js";
import { opensslResult, removeDir, tempDir } from "../helpers/env.js";
import { makeIntermediate, makeLeaf, makeRoot, LEAF_ID, T0, DAY } from "./fixtures.js";

const PASS = "correct-horse-battery";
// Most cases use the minimum so the suite stays fast; the default count is checked once per key type.
const FAST = 1000;

type PeculiarKeys = Parameters<typeof x509.X509CertificateGenerator.createSelfSigned>[0]["keys"];

const ALGS = {
  "ec-p256": { gen: { name: "ECDSA", namedCurve: "P-256" }, sign: { name: "ECDSA", hash: "SHA-256" } },
  "ec-p384": { gen: { name: "ECDSA", namedCurve: "P-384" }, sign: { name: "ECDSA", hash: "SHA-384" } },
  "rsa-2048": {
    gen: { name: "RSASSA-PKCS1-v1_5", modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: "SHA-256" },
    sign: { name: "RSASSA-PKCS1-v1_5" },
  },
} as const;

async function selfSigned(type: keyof typeof ALGS): Promise<{ privateKey: KeyObjectT; der: Buffer }> {
  const keys = (await webcrypto.subtle.generateKey(ALGS[type].gen, true, ["sign", "verify"])) as webcrypto.CryptoKeyPair;
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: "01",
    name: `CN=p12 ${type}`,
    notBefore: T0,
    notAfter: new Date(T0.getTime() + DAY),
    signingAlgorithm: ALGS[type].sign,
    keys: keys as unknown as PeculiarKeys,
  });
  return { privateKey: KeyObject.from(keys.privateKey), der: Buffer.from(cert.rawData) };
}

/** Writes the PFX and runs `openssl pkcs12` on it; returns status and both streams. */
function readP12(p12: Buffer, pass: string, extra: string[] = []): { status: number | null; stdout: string; stderr: string } {
  const dir = tempDir("mesh-p12-");
  try {
    const file = join(dir, "f.p12");
    writeFileSync(file, p12);
    const r = opensslResult(["pkcs12", "-in", file, "-passin", `pass:${pass}`, "-nodes", "-info", ...extra]);
    return { status: r.status, stdout: r.stdout, stderr: r.stderr };
  } finally {
    removeDir(dir);
  }
}

const spki = (k: KeyObjectT): Buffer => createPublicKey(k).export({ type: "spki", format: "der" });

for (const type of Object.keys(ALGS) as (keyof typeof ALGS)[]) {
  test(`${type}: openssl reads the PFX, MAC is HMAC-SHA-256 and the key matches`, async (t) => {
    const { privateKey, der } = await selfSigned(type);
    const p12 = exportPkcs12({ privateKey, chainDer: [der], passphrase: PASS });
    const r = readP12(p12, PASS);
    t.is(r.status, 0, r.stderr);
    t.regex(r.stderr, /MAC: sha256, Iteration 100000/);
    t.regex(r.stderr, /MAC length: 32, salt length: 16/);
    t.regex(r.stderr, /Shrouded Keybag: PBES2, PBKDF2, AES-256-CBC, Iteration 100000, PRF hmacWithSHA256/);

    const certs = pemDecodeLabel(r.stdout, "CERTIFICATE");
    t.is(certs.length, 1);
    t.true(certs[0]!.equals(der));
    const keys = pemDecodeLabel(r.stdout, "PRIVATE KEY");
    t.is(keys.length, 1);
    const back = createPrivateKey({ key: keys[0]!, format: "der", type: "pkcs8" });
    t.true(spki(back).equals(spki(privateKey)));

    const wrong = readP12(p12, "not-the-passphrase");
    t.not(wrong.status, 0);
    t.regex(wrong.stderr, /mac verify/i);
    t.is(pemDecodeLabel(wrong.stdout, "PRIVATE KEY").length, 0);
  });
}

test("chain and trust anchors: every certificate is in the file, the leaf and key are paired", async (t) => {
  const root = await makeRoot();
  const inter = await makeIntermediate(root);
  const leaf = await makeLeaf(inter);
  const privateKey = KeyObject.from(leaf.keys.privateKey);
  const p12 = exportPkcs12({
    privateKey,
    chainDer: [leaf.der, inter.der],
    caCertsDer: [root.der, inter.der], // the intermediate again: must not be written twice
    passphrase: PASS,
    friendlyName: LEAF_ID,
    iterations: FAST,
  });

  const all = readP12(p12, PASS);
  t.is(all.status, 0, all.stderr);
  t.regex(all.stderr, /MAC: sha256, Iteration 1000\b/);
  t.regex(all.stderr, /Iteration 1000, PRF hmacWithSHA256/);
  t.is((all.stderr.match(/Certificate bag/g) ?? []).length, 3);
  t.deepEqual(
    pemDecodeLabel(all.stdout, "CERTIFICATE").map((d) => d.toString("hex")).sort(),
    [leaf.der, inter.der, root.der].map((d) => d.toString("hex")).sort(),
  );
  const key = createPrivateKey({ key: pemDecodeLabel(all.stdout, "PRIVATE KEY")[0]!, format: "der", type: "pkcs8" });
  t.true(spki(key).equals(spki(privateKey)));

  // The same localKeyID on the key bag and on exactly one certificate, the leaf: that is how keystores pair them.
  const ids = [...all.stdout.matchAll(/localKeyID: ([0-9A-F ]+)/g)].map((m) => m[1]!.trim());
  t.is(ids.length, 2);
  t.is(ids[0], ids[1]);
  const leafBlock = all.stdout.split("Bag Attributes").find((b) => b.includes("subject=CN = web"));
  t.truthy(leafBlock);
  t.true(leafBlock!.includes(`localKeyID: ${ids[0]}`));
  t.true(leafBlock!.includes(`friendlyName: ${LEAF_ID}`));

  const certsOnly = readP12(p12, PASS, ["-nokeys"]);
  t.is(certsOnly.status, 0, certsOnly.stderr);
  t.true(certsOnly.stdout.includes(`friendlyName: ${LEAF_ID}`));
  t.true(certsOnly.stdout.includes("friendlyName: trust-anchor-1"));
  t.is(pemDecodeLabel(certsOnly.stdout, "PRIVATE KEY").length, 0);
});

test("default friendlyName is mesh-svid; each export uses fresh salts", async (t) => {
  const { privateKey, der } = await selfSigned("ec-p256");
  const input: Pkcs12Input = { privateKey, chainDer: [der], passphrase: PASS, iterations: FAST };
  const a = exportPkcs12(input);
  const b = exportPkcs12(input);
  t.false(a.equals(b));
  const r = readP12(a, PASS, ["-nokeys"]);
  t.is(r.status, 0, r.stderr);
  t.true(r.stdout.includes("friendlyName: mesh-svid"));
  t.true(new X509Certificate(pemDecodeLabel(r.stdout, "CERTIFICATE")[0]!).checkPrivateKey(privateKey));
});

function rejects(t: import("ava").ExecutionContext, fn: () => unknown, code: PkiErrorCode, msg: RegExp): void {
  const err = t.throws(fn);
  t.true(isPkiError(err), String(err));
  if (isPkiError(err)) {
    t.is(err.code, code);
    t.regex(err.message, msg);
  }
}

test("bad input is rejected with a typed error", async (t) => {
  const { privateKey, der } = await selfSigned("ec-p256");
  const other = await selfSigned("ec-p256");
  const ok: Pkcs12Input = { privateKey, chainDer: [der], passphrase: PASS, iterations: FAST };
  t.notThrows(() => exportPkcs12(ok));

  rejects(t, () => exportPkcs12({ ...ok, passphrase: "short12" }), "invalid_argument", /at least 8/);
  rejects(t, () => exportPkcs12({ ...ok, passphrase: "" }), "invalid_argument", /at least 8/);
  rejects(t, () => exportPkcs12({ ...ok, passphrase: "pässwörd-long" }), "invalid_argument", /ASCII/);
  rejects(t, () => exportPkcs12({ ...ok, passphrase: "x".repeat(1025) }), "invalid_argument", /longer/);
  rejects(t, () => exportPkcs12({ ...ok, iterations: 999 }), "invalid_argument", /iterations/);
  rejects(t, () => exportPkcs12({ ...ok, iterations: 10_000_001 }), "invalid_argument", /iterations/);
  rejects(t, () => exportPkcs12({ ...ok, iterations: 1500.5 }), "invalid_argument", /iterations/);
  rejects(t, () => exportPkcs12({ ...ok, friendlyName: "" }), "invalid_argument", /friendlyName/);
  rejects(t, () => exportPkcs12({ ...ok, friendlyName: "a\nb" }), "invalid_argument", /friendlyName/);
  rejects(t, () => exportPkcs12({ ...ok, friendlyName: "emoji \u{1f600}" }), "invalid_argument", /friendlyName/);
  rejects(t, () => exportPkcs12({ ...ok, chainDer: [] }), "invalid_argument", /leaf/);
  rejects(t, () => exportPkcs12({ ...ok, chainDer: [Buffer.from("not a certificate")] }), "invalid_argument", /chainDer\[0\]/);
  rejects(t, () => exportPkcs12({ ...ok, caCertsDer: [Buffer.alloc(0)] }), "invalid_argument", /caCertsDer\[0\]/);
  rejects(t, () => exportPkcs12({ ...ok, chainDer: [other.der] }), "invalid_argument", /does not match/);
  rejects(t, () => exportPkcs12({ ...ok, privateKey: createPublicKey(privateKey) }), "invalid_key", /private/);
  const otherRsa = generateKeyPair("rsa-3072").privateKey;
  rejects(t, () => exportPkcs12({ ...ok, privateKey: otherRsa }), "invalid_argument", /does not match/);
  const ed25519 = generateKeyPairSync("ed25519").privateKey;
  rejects(t, () => exportPkcs12({ ...ok, privateKey: ed25519 }), "invalid_key", /unsupported/);
});

test("a misordered chain is refused", async (t) => {
  const root = await makeRoot();
  const inter = await makeIntermediate(root);
  const leaf = await makeLeaf(inter);
  const privateKey = KeyObject.from(leaf.keys.privateKey);
  const base = { privateKey, passphrase: PASS, iterations: FAST };
  t.notThrows(() => exportPkcs12({ ...base, chainDer: [leaf.der, inter.der, root.der] }));
  rejects(t, () => exportPkcs12({ ...base, chainDer: [leaf.der, root.der, inter.der] }), "invalid_argument", /not issued by/);
  rejects(t, () => exportPkcs12({ ...base, chainDer: [leaf.der, root.der] }), "invalid_argument", /chainDer\[0\] is not issued by chainDer\[1\]/);
});
