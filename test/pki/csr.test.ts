import test from "ava";
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { buildCsr, parseCsr } from "../../pki/csr.js";
import * as der from "../../pki/der.js";
import { PkiError } from "../../pki/errors.js";
import { generateKeyPair, KEY_TYPES, type KeyPair, type KeyType } from "../../pki/keys.js";
import { pemDecodeLabel, pemEncode } from "../../pki/pem.js";
import { x509 } from "../../pki/x509.js";

const pairs = new Map<KeyType, KeyPair>(KEY_TYPES.map((t) => [t, generateKeyPair(t)]));
const ID = "spiffe://example.org/ns/default/sa/web";
const csrDer = (pem: string): Buffer => pemDecodeLabel(pem, "CERTIFICATE REQUEST")[0]!;

function rejects(t: import("ava").ExecutionContext, input: string | Buffer, reason: RegExp, maxBytes?: number): void {
  const err = t.throws(() => parseCsr(input, maxBytes), { instanceOf: PkiError });
  t.is(err.code, "invalid_csr");
  t.regex(err.message, reason);
}

/** Runs openssl in a private temp dir; returns stdout. */
function openssl(args: string[], files: Record<string, string> = {}): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mesh-"));
  try {
    for (const [name, text] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), text);
    return execFileSync("openssl", args, { cwd: dir, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

test("build → parse round trip for every key type", async (t) => {
  for (const type of KEY_TYPES) {
    const keys = pairs.get(type)!;
    const pem = buildCsr(keys, { spiffeId: ID, commonName: "web", dnsNames: ["web.default.svc", "web"] });
    t.regex(pem, /^-----BEGIN CERTIFICATE REQUEST-----\n/);
    for (const input of [pem, Buffer.from(pem), csrDer(pem)]) {
      const p = parseCsr(input);
      t.is(p.keyType, type);
      t.deepEqual(p.uriSans, [ID]);
      t.deepEqual(p.dnsSans, ["web.default.svc", "web"]);
      t.deepEqual(p.spkiDer, keys.publicKey.export({ type: "spki", format: "der" }));
      t.deepEqual(p.publicKey.export({ type: "spki", format: "der" }), p.spkiDer);
      t.deepEqual(p.subjectDer, der.sequence(der.set(der.sequence(der.oid("2.5.4.3"), der.utf8String("web")))));
    }
    // Cross-check with an independent parser.
    const req = new x509.Pkcs10CertificateRequest(csrDer(pem));
    t.is(req.subject, "CN=web");
    t.true(await req.verify(), type);
    const sanExt = req.getExtension("2.5.29.17");
    t.truthy(sanExt);
    const san = new x509.SubjectAlternativeNameExtension(sanExt!.rawData);
    t.deepEqual(san.names.toJSON(), [{ type: "url", value: ID }, { type: "dns", value: "web.default.svc" }, { type: "dns", value: "web" }]);
  }
});

test("a CSR without SANs or subject parses with empty lists", (t) => {
  const p = parseCsr(buildCsr(pairs.get("ec-p256")!));
  t.deepEqual([p.uriSans, p.dnsSans], [[], []]);
  t.deepEqual(p.subjectDer, Buffer.from("3000", "hex"));
});

test("NEW CERTIFICATE REQUEST label is accepted, and PEM after a text preamble", (t) => {
  const pem = pemEncode("NEW CERTIFICATE REQUEST", csrDer(buildCsr(pairs.get("ec-p384")!, { spiffeId: ID })));
  t.deepEqual(parseCsr(pem).uriSans, [ID]);
  const preamble = "Certificate Request:\n    Data:\n        Version: 1 (0x0)\n" + "x".repeat(100) + "\n";
  t.deepEqual(parseCsr(Buffer.from(preamble + pem)).uriSans, [ID]);
});

test("tampered signature or content is rejected", (t) => {
  const d = csrDer(buildCsr(pairs.get("ec-p256")!, { spiffeId: ID }));
  // The ECDSA signature ends the structure; changing its last byte keeps the DER valid.
  const badSig = Buffer.from(d);
  badSig[badSig.length - 1]! ^= 0x01;
  rejects(t, badSig, /signature does not verify/);
  // Changing the requested ID inside the signed part.
  const i = d.indexOf(Buffer.from("sa/web"));
  const badBody = Buffer.from(d);
  badBody[i + 3] = "x".charCodeAt(0);
  rejects(t, badBody, /signature does not verify/);
  for (const type of ["rsa-2048", "ec-p384"] as const) {
    const r = Buffer.from(csrDer(buildCsr(pairs.get(type)!, { spiffeId: ID })));
    r[r.length - 5]! ^= 0x40;
    rejects(t, r, /signature does not verify/);
  }
});

test("a signature algorithm that does not fit the key is rejected", (t) => {
  const d = csrDer(buildCsr(pairs.get("ec-p256")!, { spiffeId: ID }));
  const [cri, , sig] = der.decode(d).children();
  const rsaAlg = der.sequence(der.oid("1.2.840.113549.1.1.11"), der.nullValue());
  rejects(t, der.sequence(cri!.encoded, rsaAlg, sig!.encoded), /does not match/);
  const sha1 = der.sequence(der.oid("1.2.840.10045.4.1"));
  rejects(t, der.sequence(cri!.encoded, sha1, sig!.encoded), /unsupported signature algorithm/);
});

test("garbage, truncated, oversized and malformed input is rejected with a reason", (t) => {
  const pem = buildCsr(pairs.get("ec-p256")!, { spiffeId: ID });
  const d = csrDer(pem);
  rejects(t, "hello", /no CERTIFICATE REQUEST PEM block/);
  rejects(t, "", /empty/);
  rejects(t, pem.replace("CERTIFICATE REQUEST", "CERTIFICATE").replace("CERTIFICATE REQUEST", "CERTIFICATE"), /no CERTIFICATE REQUEST/);
  rejects(t, Buffer.concat([Buffer.from([0x30]), randomBytes(200)]), /malformed DER/);
  rejects(t, Buffer.concat([Buffer.from([0x04]), randomBytes(200)]), /no CERTIFICATE REQUEST PEM block/);
  rejects(t, d.subarray(0, d.length - 10), /malformed DER: length past the end/);
  rejects(t, Buffer.concat([d, Buffer.from([0])]), /trailing bytes/);
  rejects(t, Buffer.alloc(17 * 1024, 0x30), /larger than 16384 bytes/);
  rejects(t, "x".repeat(17 * 1024), /larger than 16384 bytes/);
  rejects(t, pem, /larger than 100 bytes/, 100);
  rejects(t, der.sequence(der.integer(1)), /CertificationRequest: 1 elements/);
  const [cri, alg, sig] = der.decode(d).children();
  const criKids = cri!.children().map((n) => n.encoded);
  rejects(t, der.sequence(der.sequence(der.integer(1), ...criKids.slice(1)), alg!.encoded, sig!.encoded), /version must be 1/);
  const notAKey = der.sequence(der.sequence(der.oid("1.2.840.10045.2.1"), der.oid("1.2.840.10045.3.1.7")), der.bitString(randomBytes(65)));
  rejects(t, der.sequence(der.sequence(criKids[0]!, criKids[1]!, notAKey, criKids[3]!), alg!.encoded, sig!.encoded), /public key is not valid|unsupported EC/);
  t.throws(() => parseCsr(42 as unknown as string), { instanceOf: PkiError });
});

test("a CSR made by openssl parses; openssl accepts buildCsr's output", (t) => {
  const made = openssl(["req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "k.pem", "-subj", "/CN=x"]);
  const p = parseCsr(made);
  t.is(p.keyType, "ec-p256");
  t.deepEqual([p.uriSans, p.dnsSans], [[], []]);
  t.true(p.subjectDer.includes(Buffer.from("x")));
  // openssl signs P-384 requests with SHA-256 by default: the family must fit the key, the hash may differ.
  const p384 = openssl(["req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-384", "-nodes", "-keyout", "k.pem", "-subj", "/CN=y", "-addext", `subjectAltName=URI:${ID}`]);
  t.deepEqual(parseCsr(p384).uriSans, [ID]);
  const rsa = openssl(["req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", "k.pem", "-subj", "/CN=z"]);
  t.is(parseCsr(rsa).keyType, "rsa-2048");

  for (const type of KEY_TYPES) {
    const csr = buildCsr(pairs.get(type)!, { spiffeId: ID, dnsNames: ["a.example"] });
    const text = execFileSync("openssl", ["req", "-verify", "-noout", "-text"], { input: csr, encoding: "utf8", stdio: ["pipe", "pipe", "pipe"] });
    t.regex(text, /URI:spiffe:\/\/example\.org\/ns\/default\/sa\/web/, type);
    t.regex(text, /DNS:a\.example/, type);
  }
});

test("unsupported key types in CSRs are rejected", (t) => {
  const cases: Array<[string[], RegExp]> = [
    [["-newkey", "rsa:1024"], /unsupported RSA modulus 1024/],
    [["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-521"], /unsupported EC curve/],
    [["-newkey", "ed25519"], /unsupported key algorithm/],
  ];
  for (const [keyArgs, reason] of cases) {
    const csr = openssl(["req", "-new", ...keyArgs, "-nodes", "-keyout", "k.pem", "-subj", "/CN=x"]);
    rejects(t, csr, reason);
  }
});
