import test, { type ExecutionContext } from "ava";
import { execFileSync } from "node:child_process";
import { createHash, X509Certificate } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { buildCertificate, subjectKeyIdentifier, type CertificateSpec, type Issuer } from "../../pki/certificate.js";
import * as der from "../../pki/der.js";
import { PkiError } from "../../pki/errors.js";
import { generateKeyPair, KEY_TYPES, type KeyPair, type KeyType } from "../../pki/keys.js";
import { pemEncode } from "../../pki/pem.js";
import { randomSerial, serialHex } from "../../pki/serial.js";
import { x509 } from "../../pki/x509.js";

const TD = "spiffe://example.org";
const ID = "spiffe://example.org/ns/default/sa/web";
const NOW = new Date(Math.floor(Date.now() / 1000) * 1000);
const at = (sec: number): Date => new Date(NOW.getTime() + sec * 1000);
const OID = {
  bc: "2.5.29.19",
  ku: "2.5.29.15",
  eku: "2.5.29.37",
  san: "2.5.29.17",
  ski: "2.5.29.14",
  aki: "2.5.29.35",
};
const KU = x509.KeyUsageFlags;

interface Chain {
  type: KeyType;
  keys: { root: KeyPair; inter: KeyPair; leaf: KeyPair };
  root: Buffer;
  inter: Buffer;
  leaf: Buffer;
  leafSerial: Buffer;
}

function makeChain(types: { root: KeyType; inter: KeyType; leaf: KeyType }): Chain {
  const keys = { root: generateKeyPair(types.root), inter: generateKeyPair(types.inter), leaf: generateKeyPair(types.leaf) };
  const root = buildCertificate(
    { serial: randomSerial(), publicKey: keys.root.publicKey, notBefore: at(-60), notAfter: at(86400), kind: "ca", spiffeId: TD, subject: { commonName: "Root CA", organization: "mesh" } },
    { self: keys.root },
  );
  const inter = buildCertificate(
    { serial: randomSerial(), publicKey: keys.inter.publicKey, notBefore: at(-60), notAfter: at(3600 * 12), kind: "ca", pathLength: 0, subject: { commonName: "Intermediate", serialNumber: "7" } },
    { certDer: root, privateKey: keys.root.privateKey, keyType: types.root },
  );
  const leafSerial = randomSerial();
  const leaf = buildCertificate(
    { serial: leafSerial, publicKey: keys.leaf.publicKey.export({ type: "spki", format: "der" }), notBefore: at(-60), notAfter: at(3600), kind: "leaf", spiffeId: ID, dnsNames: ["web.default.svc"] },
    { certDer: inter, privateKey: keys.inter.privateKey, keyType: types.inter },
  );
  return { type: types.leaf, keys, root, inter, leaf, leafSerial };
}

const chains = KEY_TYPES.map((type) => makeChain({ root: type, inter: type, leaf: type }));

function extMap(cert: x509.X509Certificate): Map<string, x509.Extension> {
  return new Map(cert.extensions.map((e) => [e.type, e]));
}

async function expectedSki(keys: KeyPair): Promise<string> {
  const ext = await x509.SubjectKeyIdentifierExtension.create(keys.publicKey.export({ type: "spki", format: "der" }));
  return ext.keyId;
}

function checkCa(t: ExecutionContext, der: Buffer, opts: { pathLength?: number; uri?: string; aki?: string; ski: string; subject: string }): void {
  const c = new x509.X509Certificate(der);
  const exts = extMap(c);
  t.deepEqual([...exts.keys()].sort(), [OID.bc, OID.ku, OID.ski, ...(opts.aki ? [OID.aki] : []), ...(opts.uri ? [OID.san] : [])].sort());
  const bc = new x509.BasicConstraintsExtension(exts.get(OID.bc)!.rawData);
  t.true(bc.critical);
  t.true(bc.ca);
  t.is(bc.pathLength, opts.pathLength);
  const ku = new x509.KeyUsagesExtension(exts.get(OID.ku)!.rawData);
  t.true(ku.critical);
  t.is(ku.usages, KU.digitalSignature | KU.keyCertSign | KU.cRLSign);
  const ski = new x509.SubjectKeyIdentifierExtension(exts.get(OID.ski)!.rawData);
  t.false(ski.critical);
  t.is(ski.keyId, opts.ski);
  if (opts.aki) {
    const aki = new x509.AuthorityKeyIdentifierExtension(exts.get(OID.aki)!.rawData);
    t.false(aki.critical);
    t.is(aki.keyId, opts.aki);
  }
  if (opts.uri) {
    const san = new x509.SubjectAlternativeNameExtension(exts.get(OID.san)!.rawData);
    t.false(san.critical);
    t.deepEqual(san.names.toJSON(), [{ type: "url", value: opts.uri }]);
  }
  t.is(c.subject, opts.subject);
}

for (const chain of chains) {
  test(`${chain.type}: root, intermediate and leaf carry exactly the profile's extensions`, async (t) => {
    const rootSki = await expectedSki(chain.keys.root);
    const interSki = await expectedSki(chain.keys.inter);
    checkCa(t, chain.root, { uri: TD, ski: rootSki, subject: "O=mesh, CN=Root CA" });
    checkCa(t, chain.inter, { pathLength: 0, aki: rootSki, ski: interSki, subject: "CN=Intermediate, 2.5.4.5=7" });

    const leaf = new x509.X509Certificate(chain.leaf);
    const exts = extMap(leaf);
    t.deepEqual([...exts.keys()].sort(), [OID.bc, OID.ku, OID.eku, OID.san, OID.ski, OID.aki].sort());
    const bc = new x509.BasicConstraintsExtension(exts.get(OID.bc)!.rawData);
    t.true(bc.critical);
    t.false(bc.ca);
    t.is(bc.pathLength, undefined);
    const ku = new x509.KeyUsagesExtension(exts.get(OID.ku)!.rawData);
    t.true(ku.critical);
    t.is(ku.usages, chain.type.startsWith("rsa") ? KU.digitalSignature | KU.keyEncipherment : KU.digitalSignature);
    const eku = new x509.ExtendedKeyUsageExtension(exts.get(OID.eku)!.rawData);
    t.false(eku.critical);
    t.deepEqual([...eku.usages], ["1.3.6.1.5.5.7.3.1", "1.3.6.1.5.5.7.3.2"]);
    const san = new x509.SubjectAlternativeNameExtension(exts.get(OID.san)!.rawData);
    t.false(san.critical, "the subject is not empty");
    t.deepEqual(san.names.toJSON(), [{ type: "url", value: ID }, { type: "dns", value: "web.default.svc" }]);
    t.is(new x509.SubjectKeyIdentifierExtension(exts.get(OID.ski)!.rawData).keyId, await expectedSki(chain.keys.leaf));
    t.is(new x509.AuthorityKeyIdentifierExtension(exts.get(OID.aki)!.rawData).keyId, interSki);

    t.is(leaf.subject, "O=SPIFFE");
    t.is(leaf.issuer, "CN=Intermediate, 2.5.4.5=7");
    t.is(leaf.serialNumber, chain.leafSerial.toString("hex"));
    t.is(leaf.notBefore.getTime(), at(-60).getTime());
    t.is(leaf.notAfter.getTime(), at(3600).getTime());
    const alg = leaf.signatureAlgorithm as { name: string; hash: { name: string } };
    t.is(alg.name, chain.type.startsWith("rsa") ? "RSASSA-PKCS1-v1_5" : "ECDSA");
    t.is(alg.hash.name, chain.type === "ec-p384" ? "SHA-384" : "SHA-256");
    t.true(await new x509.X509Certificate(chain.root).isSelfSigned());
    t.true(await leaf.verify({ publicKey: new x509.X509Certificate(chain.inter).publicKey, signatureOnly: true }));
  });

  test(`${chain.type}: node verifies the signatures and openssl verifies the chain strictly`, (t) => {
    const root = new X509Certificate(chain.root);
    const inter = new X509Certificate(chain.inter);
    const leaf = new X509Certificate(chain.leaf);
    t.true(root.verify(chain.keys.root.publicKey));
    t.true(inter.verify(chain.keys.root.publicKey));
    t.true(leaf.verify(chain.keys.inter.publicKey));
    t.false(leaf.verify(chain.keys.root.publicKey));
    t.true(leaf.checkIssued(inter));
    t.is(leaf.subjectAltName, `URI:${ID}, DNS:web.default.svc`);
    t.true(root.ca && inter.ca && !leaf.ca);

    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mesh-"));
    try {
      fs.writeFileSync(path.join(dir, "root.pem"), pemEncode("CERTIFICATE", chain.root));
      fs.writeFileSync(path.join(dir, "inter.pem"), pemEncode("CERTIFICATE", chain.inter));
      fs.writeFileSync(path.join(dir, "leaf.pem"), pemEncode("CERTIFICATE", chain.leaf));
      for (const purpose of [[], ["-purpose", "sslserver"], ["-purpose", "sslclient"]]) {
        const out = execFileSync("openssl", ["verify", "-x509_strict", ...purpose, "-CAfile", "root.pem", "-untrusted", "inter.pem", "leaf.pem"], { cwd: dir, encoding: "utf8" });
        t.is(out.trim(), "leaf.pem: OK");
      }
      const text = execFileSync("openssl", ["x509", "-noout", "-text", "-in", "leaf.pem"], { cwd: dir, encoding: "utf8" });
      t.regex(text, /Version: 3 \(0x2\)/);
      t.regex(text, /URI:spiffe:\/\/example\.org\/ns\/default\/sa\/web/);
      t.regex(text, /X509v3 Basic Constraints: critical\s+CA:FALSE/);
      t.regex(text, /X509v3 Key Usage: critical\s+Digital Signature/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
}

test("mixed key types: the signature algorithm follows the issuer's key", async (t) => {
  const chain = makeChain({ root: "rsa-2048", inter: "ec-p384", leaf: "ec-p256" });
  const alg = (d: Buffer): string => (new x509.X509Certificate(d).signatureAlgorithm as { hash: { name: string }; name: string }).name + "/" + (new x509.X509Certificate(d).signatureAlgorithm as { hash: { name: string } }).hash.name;
  t.is(alg(chain.root), "RSASSA-PKCS1-v1_5/SHA-256");
  t.is(alg(chain.inter), "RSASSA-PKCS1-v1_5/SHA-256");
  t.is(alg(chain.leaf), "ECDSA/SHA-384");
  t.true(new X509Certificate(chain.leaf).verify(chain.keys.inter.publicKey));
  t.true(new X509Certificate(chain.inter).verify(chain.keys.root.publicKey));
});

test("subjectKeyIdentifier is SHA-1 of the subjectPublicKey bits", (t) => {
  const keys = generateKeyPair("ec-p256");
  const spki = keys.publicKey.export({ type: "spki", format: "der" });
  const point = spki.subarray(spki.length - 65);
  t.deepEqual(subjectKeyIdentifier(spki), createHash("sha1").update(point).digest());
  t.is(t.throws(() => subjectKeyIdentifier(Buffer.from("3000", "hex")), { instanceOf: PkiError }).code, "invalid_key");
});

const root = chains[0]!;
const issuer: Issuer = { certDer: root.inter, privateKey: root.keys.inter.privateKey, keyType: "ec-p256" };
const leafSpec = (over: Partial<CertificateSpec> = {}): CertificateSpec => ({
  serial: randomSerial(),
  publicKey: root.keys.leaf.publicKey,
  notBefore: at(-60),
  notAfter: at(3600),
  kind: "leaf",
  spiffeId: ID,
  ...over,
});

test("a leaf with an empty subject marks its SAN critical and still verifies strictly", (t) => {
  const d = buildCertificate(leafSpec({ subject: {} }), issuer);
  const c = new x509.X509Certificate(d);
  t.is(c.subject, "");
  t.true(extMap(c).get(OID.san)!.critical);
  const named = buildCertificate(leafSpec({ subject: { commonName: "web", organization: "Acme" } }), issuer);
  t.is(new x509.X509Certificate(named).subject, "O=Acme, CN=web");
  t.false(extMap(new x509.X509Certificate(named)).get(OID.san)!.critical);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mesh-"));
  try {
    fs.writeFileSync(path.join(dir, "root.pem"), pemEncode("CERTIFICATE", root.root));
    fs.writeFileSync(path.join(dir, "inter.pem"), pemEncode("CERTIFICATE", root.inter));
    fs.writeFileSync(path.join(dir, "leaf.pem"), pemEncode("CERTIFICATE", d));
    const out = execFileSync("openssl", ["verify", "-x509_strict", "-CAfile", "root.pem", "-untrusted", "inter.pem", "leaf.pem"], { cwd: dir, encoding: "utf8" });
    t.is(out.trim(), "leaf.pem: OK");
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test("validity after 2049 is written as GeneralizedTime and read back exactly", (t) => {
  const notAfter = new Date("2051-03-04T05:06:07Z");
  const keys = generateKeyPair("ec-p256");
  const d = buildCertificate({ serial: randomSerial(), publicKey: keys.publicKey, notBefore: at(0), notAfter, kind: "ca", subject: { commonName: "Long" } }, { self: keys });
  t.true(d.includes(der.generalizedTime(notAfter)));
  t.is(new x509.X509Certificate(d).notAfter.toISOString(), notAfter.toISOString());
  t.is(new Date(new X509Certificate(d).validTo).toISOString(), notAfter.toISOString());
});

test("SPKI buffer and KeyObject give the same certificate body; serial is kept exactly", (t) => {
  const serial = Buffer.from("00f1e2d3c4b5a69788", "hex");
  const aDer = buildCertificate(leafSpec({ serial }), issuer);
  const a = new x509.X509Certificate(aDer);
  const b = new x509.X509Certificate(buildCertificate(leafSpec({ serial, publicKey: root.keys.leaf.publicKey.export({ type: "spki", format: "der" }) }), issuer));
  t.true(aDer.includes(Buffer.from("020900f1e2d3c4b5a69788", "hex")), "sign byte kept, no extra zeros");
  t.is(a.serialNumber, "f1e2d3c4b5a69788");
  t.is(new X509Certificate(aDer).serialNumber, "F1E2D3C4B5A69788");
  t.is(serialHex(serial), "f1e2d3c4b5a69788");
  t.deepEqual(Buffer.from(a.publicKey.rawData), Buffer.from(b.publicKey.rawData));
  t.deepEqual(a.extensions.map((e) => Buffer.from(e.rawData).toString("hex")), b.extensions.map((e) => Buffer.from(e.rawData).toString("hex")));
});

test("invalid specs are refused with typed errors", (t) => {
  const fails = (spec: CertificateSpec, code: PkiError["code"], msg: RegExp, by: Issuer | { self: KeyPair } = issuer): void => {
    const err = t.throws(() => buildCertificate(spec, by), { instanceOf: PkiError }, msg.source);
    t.is(err.code, code, msg.source);
    t.regex(err.message, msg);
  };
  fails(leafSpec({ spiffeId: undefined }), "invalid_argument", /needs a spiffeId/);
  fails(leafSpec({ spiffeId: "spiffe://Example.org/x" }), "invalid_spiffe_id", /uppercase/);
  fails(leafSpec({ spiffeId: "spiffe://example.org" }), "invalid_argument", /needs a path/);
  fails(leafSpec({ notAfter: at(-60) }), "invalid_argument", /notAfter must be later/);
  fails(leafSpec({ notAfter: new Date(NaN) }), "invalid_argument", /valid Dates/);
  fails(leafSpec({ notAfter: new Date("+010000-01-01T00:00:00Z") }), "invalid_argument", /validity/);
  fails(leafSpec({ serial: Buffer.from([0, 0]) }), "invalid_argument", /zero/);
  fails(leafSpec({ serial: Buffer.alloc(20, 0xff) }), "invalid_argument", /20 octets/);
  fails(leafSpec({ pathLength: 1 }), "invalid_argument", /CA certificates only/);
  fails(leafSpec({ dnsNames: ["bad name"] }), "invalid_argument", /not a DNS name/);
  fails(leafSpec({ subject: { commonName: "x".repeat(65) } }), "invalid_argument", /commonName/);
  fails(leafSpec({ subject: { serialNumber: "a@b" } }), "invalid_argument", /PrintableString/);
  fails(leafSpec({ kind: "ca" }), "invalid_argument", /needs subject.commonName/);
  fails(leafSpec({ kind: "ca", subject: { commonName: "c" }, spiffeId: undefined, dnsNames: ["a"] }), "invalid_argument", /leaf certificates only/);
  fails(leafSpec({ kind: "ca", subject: { commonName: "c" }, spiffeId: undefined, pathLength: -1 }), "invalid_argument", /pathLength/);
  const other = generateKeyPair("ec-p256");
  fails(leafSpec(), "invalid_argument", /self-signed certificate must be a CA/, { self: root.keys.leaf });
  fails(leafSpec({ kind: "ca", subject: { commonName: "c" }, spiffeId: undefined }), "invalid_argument", /its own public key/, { self: other });
  fails(leafSpec(), "invalid_argument", /does not match its certificate/, { ...issuer, privateKey: other.privateKey });
  fails(leafSpec(), "invalid_argument", /keyType/, { ...issuer, keyType: "ec-p384" });
  fails(leafSpec({ publicKey: Buffer.from("3000", "hex") }), "invalid_key", /SubjectPublicKeyInfo/);
  fails(leafSpec(), "invalid_argument", /issuer certificate/, { ...issuer, certDer: Buffer.from("300100", "hex") });
});
