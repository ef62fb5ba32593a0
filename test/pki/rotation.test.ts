import test from "ava";
import { X509Certificate } from "node:crypto";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { trustBundle } from "../../pki/bundle.js";
import { CertificateAuthority, chainPem } from "../../pki/ca.js";
import { buildCertificate } from "../../pki/certificate.js";
import { PkiError } from "../../pki/errors.js";
import { generateKeyPair, privateKeyToPem } from "../../pki/keys.js";
import { pemEncode } from "../../pki/pem.js";
import { activateCa, prepareCa, retireCa } from "../../pki/rotation.js";
import { randomSerial } from "../../pki/serial.js";
import { openssl, PASSPHRASE } from "../helpers/env.js";
import { makeCa } from "./ca-fixture.js";

const leafKey = generateKeyPair().publicKey;

test("prepare puts the new root in the bundle before it signs anything", (t) => {
  const f = makeCa();
  t.teardown(f.cleanup);
  const before = trustBundle(f.ca);
  const oldSerial = f.ca.activeCa().serial;
  const r = prepareCa(f.ca);
  const after = trustBundle(f.ca);
  t.is(after.anchorsDer.length, 2);
  t.true(after.sequence > before.sequence);
  t.is(after.spiffe.spiffe_sequence, after.sequence);
  t.is(after.spiffe.keys.length, 2);
  t.true(after.spiffe.keys.every((k) => k.use === "x509-svid" && k.x5c.length === 1));
  // still signed by the old CA
  const svid = f.ca.issue({ spiffeId: "spiffe://example.org/a", publicKey: leafKey, kind: "manual" });
  t.is(f.ca.store.getCertificate(svid.serial)?.caId, f.ca.activeCa().id);
  t.is(f.ca.activeCa().serial, oldSerial);
  t.not(r.ca.serial, oldSerial);
  t.is((t.throws(() => prepareCa(f.ca)) as PkiError).code, "conflict");
});

test("activate switches the signer; both roots stay trusted; retire waits for the old leaves", (t) => {
  const f = makeCa();
  t.teardown(f.cleanup);
  const oldRoot = new X509Certificate(f.ca.activeCa().certDer);
  const oldLeaf = f.ca.issue({ spiffeId: "spiffe://example.org/a", publicKey: leafKey, kind: "manual" });
  prepareCa(f.ca);
  activateCa(f.ca);
  const newRoot = new X509Certificate(f.ca.activeCa().certDer);
  const newLeaf = f.ca.issue({ spiffeId: "spiffe://example.org/a", publicKey: leafKey, kind: "manual" });
  t.true(new X509Certificate(newLeaf.chainDer[0]!).verify(newRoot.publicKey));
  t.false(new X509Certificate(newLeaf.chainDer[0]!).verify(oldRoot.publicKey));
  const bundle = trustBundle(f.ca).anchorsDer.map((d) => d.toString("base64"));
  t.true(bundle.includes(oldRoot.raw.toString("base64")) && bundle.includes(newRoot.raw.toString("base64")));
  // retire: the old root stays until the old leaf expires
  const r = retireCa(f.ca);
  t.is(r.leavesBundleAt, oldLeaf.notAfter.toISOString());
  t.is(trustBundle(f.ca).anchorsDer.length, 2);
  const seq = trustBundle(f.ca).sequence;
  f.clock.set(new Date(oldLeaf.notAfter.getTime() + 1000));
  const later = trustBundle(f.ca);
  t.deepEqual(later.anchorsDer.map((d) => d.toString("base64")), [newRoot.raw.toString("base64")]);
  t.true(later.sequence > seq, "the sequence moves when a retired root drops out");
});

test("retire --force drops the old root at once", (t) => {
  const f = makeCa();
  t.teardown(f.cleanup);
  f.ca.issue({ spiffeId: "spiffe://example.org/a", publicKey: leafKey, kind: "manual" });
  prepareCa(f.ca);
  activateCa(f.ca);
  retireCa(f.ca, { force: true });
  t.is(trustBundle(f.ca).anchorsDer.length, 1);
  t.is((t.throws(() => retireCa(f.ca)) as PkiError).code, "conflict");
});

test("rotation steps are audit events", (t) => {
  const f = makeCa();
  t.teardown(f.cleanup);
  prepareCa(f.ca);
  activateCa(f.ca);
  retireCa(f.ca);
  const actions = [...f.audit.query()].map((e) => e.action).filter((a) => a.startsWith("ca.rotate"));
  t.deepEqual(actions, ["ca.rotate.prepare", "ca.rotate.activate", "ca.rotate.retire"]);
});

test("activate with nothing prepared is a conflict", (t) => {
  const f = makeCa();
  t.teardown(f.cleanup);
  t.is((t.throws(() => activateCa(f.ca)) as PkiError).code, "conflict");
});

test("a rotated CA reopens with both keys usable", (t) => {
  const f = makeCa();
  t.teardown(f.cleanup);
  prepareCa(f.ca);
  activateCa(f.ca);
  f.ca.close();
  const again = CertificateAuthority.open(f.caDir, { passphrase: PASSPHRASE, clock: f.clock.now });
  t.teardown(() => again.close());
  t.is(again.store.listCas().length, 2);
  t.notThrows(() => again.issue({ spiffeId: "spiffe://example.org/a", publicKey: leafKey, kind: "manual" }));
  for (const rec of again.store.listCas()) t.notThrows(() => again.issuerFor(rec));
});

function corporateRoot(now: Date) {
  const keys = generateKeyPair("ec-p384");
  const der = buildCertificate(
    { serial: randomSerial(), publicKey: keys.publicKey, notBefore: new Date(now.getTime() - 86400_000), notAfter: new Date(now.getTime() + 5 * 365 * 86400_000), kind: "ca", subject: { commonName: "Corp Root", organization: "Corp" } },
    { self: keys },
  );
  return { keys, der, pem: pemEncode("CERTIFICATE", der) };
}

test("bring your own root: the CA signs as an intermediate; chain = leaf → intermediate; root only in the bundle", (t) => {
  const now = new Date(Date.UTC(2026, 10, 22, 12));
  const root = corporateRoot(now);
  const f = makeCa({ upstream: { rootCert: root.pem, rootKey: privateKeyToPem(root.keys.privateKey) } });
  t.teardown(f.cleanup);
  const svid = f.ca.issue({ spiffeId: "spiffe://example.org/a", publicKey: leafKey, kind: "manual" });
  t.is(svid.chainDer.length, 2);
  t.true(svid.chainDer[1]!.equals(f.ca.activeCa().certDer));
  const bundle = trustBundle(f.ca);
  t.is(bundle.anchorsDer.length, 1);
  t.true(bundle.anchorsDer[0]!.equals(root.der));
  writeFileSync(join(f.dir, "root.pem"), root.pem);
  writeFileSync(join(f.dir, "leaf.pem"), pemEncode("CERTIFICATE", svid.chainDer[0]!));
  writeFileSync(join(f.dir, "inter.pem"), chainPem(svid.chainDer.slice(1)));
  const at = String(Math.floor(f.clock.now().getTime() / 1000));
  t.regex(openssl(["verify", "-x509_strict", "-attime", at, "-CAfile", join(f.dir, "root.pem"), "-untrusted", join(f.dir, "inter.pem"), join(f.dir, "leaf.pem")]), /OK/);
  // the intermediate never outlives the corporate root
  t.true(f.ca.activeCa().notAfter <= new Date(new X509Certificate(root.der).validTo));
});

test("bring your own intermediate: used as is, the root key never seen", (t) => {
  const now = new Date(Date.UTC(2026, 10, 22, 12));
  const root = corporateRoot(now);
  const interKeys = generateKeyPair();
  const interDer = buildCertificate(
    { serial: randomSerial(), publicKey: interKeys.publicKey, notBefore: now, notAfter: new Date(now.getTime() + 365 * 86400_000), kind: "ca", subject: { commonName: "Corp Mesh Intermediate" }, spiffeId: "spiffe://example.org" },
    { certDer: root.der, privateKey: root.keys.privateKey, keyType: root.keys.type },
  );
  const f = makeCa({ upstream: { rootCert: root.pem, intermediateCert: pemEncode("CERTIFICATE", interDer), intermediateKey: privateKeyToPem(interKeys.privateKey) } });
  t.teardown(f.cleanup);
  t.true(f.ca.activeCa().certDer.equals(interDer));
  const svid = f.ca.issue({ spiffeId: "spiffe://example.org/a", publicKey: leafKey, kind: "manual" });
  t.true(new X509Certificate(svid.chainDer[0]!).verify(interKeys.publicKey));
  t.true(trustBundle(f.ca).anchorsDer[0]!.equals(root.der));
});

test("bring your own: a key that does not match its certificate is refused", (t) => {
  const now = new Date(Date.UTC(2026, 10, 22, 12));
  const root = corporateRoot(now);
  const other = generateKeyPair("ec-p384");
  const err = t.throws(() => makeCa({ upstream: { rootCert: root.pem, rootKey: privateKeyToPem(other.privateKey) } }));
  t.regex(err!.message, /does not belong/);
});
