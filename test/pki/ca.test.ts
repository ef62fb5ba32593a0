import test from "ava";
import { X509Certificate } from "node:crypto";
import { readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { AuditLog } from "../../audit/store.js";
import { verifyAuditLog } from "../../audit/verify.js";
import { trustBundle } from "../../pki/bundle.js";
import { CertificateAuthority, chainPem } from "../../pki/ca.js";
import { generateKeyPair } from "../../pki/keys.js";
import { pemEncode } from "../../pki/pem.js";
import { checkLeafShape } from "../../pki/svid-validate.js";
import { PkiError } from "../../pki/errors.js";
import { openssl, PASSPHRASE, removeDir, tempDir, TestClock } from "../helpers/env.js";

function newCa(opts: { keyType?: string; clock?: TestClock } = {}) {
  const dir = tempDir();
  const clock = opts.clock ?? new TestClock();
  const audit = AuditLog.open(join(dir, "audit.db"), { clock: clock.now });
  const ca = CertificateAuthority.init(join(dir, "ca"), { trustDomain: "example.org", passphrase: PASSPHRASE, clock: clock.now, audit, keyType: opts.keyType });
  return { dir, clock, audit, ca, cleanup: () => (ca.close(), audit.close(), removeDir(dir)) };
}

test("init keeps the CA key encrypted at rest, files and directory private", (t) => {
  const { dir, ca, cleanup } = newCa();
  t.teardown(cleanup);
  const caDir = join(dir, "ca");
  t.is(statSync(caDir).mode & 0o777, 0o700);
  t.is(statSync(join(caDir, "ca.db")).mode & 0o777, 0o600);
  const keyFiles = readdirSync(join(caDir, "keys"));
  t.is(keyFiles.length, 1);
  const keyPath = join(caDir, "keys", keyFiles[0]!);
  t.is(statSync(keyPath).mode & 0o777, 0o600);
  const pem = readFileSync(keyPath, "utf8");
  t.true(pem.startsWith("-----BEGIN ENCRYPTED PRIVATE KEY-----"));
  // no unencrypted private key anywhere in the CA directory
  for (const f of readdirSync(caDir, { recursive: true }) as string[]) {
    const p = join(caDir, f);
    if (statSync(p).isFile()) t.false(readFileSync(p).includes("BEGIN PRIVATE KEY"), f);
  }
  t.is(ca.activeCa().state, "active");
});

test("opening with a wrong passphrase fails with bad_passphrase", (t) => {
  const { dir, ca, cleanup } = newCa();
  t.teardown(cleanup);
  ca.close();
  const err = t.throws(() => CertificateAuthority.open(join(dir, "ca"), { passphrase: "wrong-passphrase" }));
  t.is((err as PkiError).code, "bad_passphrase");
});

test("issued leaves meet the X509-SVID rules and openssl -x509_strict verifies them", (t) => {
  const { dir, clock, ca, cleanup } = newCa();
  t.teardown(cleanup);
  const keys = generateKeyPair();
  const svid = ca.issue({ spiffeId: "spiffe://example.org/ns/demo/sa/backend", publicKey: keys.publicKey, kind: "manual" });
  t.is(checkLeafShape(svid.chainDer[0]!).toString(), "spiffe://example.org/ns/demo/sa/backend");
  t.is(svid.notBefore.getTime(), clock.now().getTime() - 60_000, "NotBefore back-dated 60 s");
  t.is(svid.notAfter.getTime() - clock.now().getTime(), 3600_000, "default TTL 1h");
  t.is(svid.serial.length >= 30 && svid.serial.length <= 32, true, "128-bit serial");
  t.truthy(ca.store.getCertificate(svid.serial));
  writeFileSync(join(dir, "leaf.pem"), chainPem(svid.chainDer));
  writeFileSync(join(dir, "bundle.pem"), trustBundle(ca).pem);
  const at = Math.floor(clock.now().getTime() / 1000);
  t.regex(openssl(["verify", "-x509_strict", "-attime", String(at), "-CAfile", join(dir, "bundle.pem"), join(dir, "leaf.pem")]), /OK/);
});

test("TTL is clamped to the maximum and to the CA's remaining life", (t) => {
  const { clock, ca, cleanup } = newCa();
  t.teardown(cleanup);
  const keys = generateKeyPair();
  const long = ca.issue({ spiffeId: "spiffe://example.org/a", publicKey: keys.publicKey, kind: "manual", ttlSeconds: 7 * 86400 });
  t.is(long.notAfter.getTime() - clock.now().getTime(), 86400_000);
  clock.set(new Date(ca.activeCa().notAfter.getTime() - 600_000));
  const late = ca.issue({ spiffeId: "spiffe://example.org/a", publicKey: keys.publicKey, kind: "manual" });
  t.is(late.notAfter.getTime(), ca.activeCa().notAfter.getTime());
});

test("serials are unique across many issuances", (t) => {
  const { ca, cleanup } = newCa();
  t.teardown(cleanup);
  const keys = generateKeyPair();
  const seen = new Set<string>();
  for (let i = 0; i < 300; i++) seen.add(ca.issue({ spiffeId: "spiffe://example.org/a", publicKey: keys.publicKey, kind: "manual" }).serial);
  t.is(seen.size, 300);
});

test("an ID outside the trust domain or without a path is refused", (t) => {
  const { ca, cleanup } = newCa();
  t.teardown(cleanup);
  const keys = generateKeyPair();
  t.is((t.throws(() => ca.issue({ spiffeId: "spiffe://other.org/a", publicKey: keys.publicKey, kind: "manual" })) as PkiError).code, "forbidden");
  t.is((t.throws(() => ca.issue({ spiffeId: "spiffe://example.org", publicKey: keys.publicKey, kind: "manual" })) as PkiError).code, "invalid_argument");
  t.is((t.throws(() => ca.issue({ spiffeId: "spiffe://example.org/a/../b", publicKey: keys.publicKey, kind: "manual" })) as PkiError).code, "invalid_spiffe_id");
});

for (const keyType of ["ec-p384", "rsa-2048"]) {
  test(`a ${keyType} CA issues verifiable leaves`, (t) => {
    const { dir, clock, ca, cleanup } = newCa({ keyType });
    t.teardown(cleanup);
    t.is(ca.activeCa().keyType, keyType);
    const svid = ca.issue({ spiffeId: "spiffe://example.org/x", publicKey: generateKeyPair().publicKey, kind: "manual" });
    const root = new X509Certificate(trustBundle(ca).anchorsDer[0]!);
    t.true(new X509Certificate(svid.chainDer[0]!).verify(root.publicKey));
    writeFileSync(join(dir, "leaf.pem"), chainPem(svid.chainDer));
    writeFileSync(join(dir, "root.pem"), pemEncode("CERTIFICATE", root.raw));
    t.regex(openssl(["verify", "-x509_strict", "-attime", String(Math.floor(clock.now().getTime() / 1000)), "-CAfile", join(dir, "root.pem"), join(dir, "leaf.pem")]), /OK/);
  });
}

test("data survives closing and reopening the CA", (t) => {
  const { dir, clock, ca, audit, cleanup } = newCa();
  t.teardown(cleanup);
  const svid = ca.issue({ spiffeId: "spiffe://example.org/a", publicKey: generateKeyPair().publicKey, kind: "manual" });
  const serial = ca.activeCa().serial;
  ca.close();
  const again = CertificateAuthority.open(join(dir, "ca"), { passphrase: PASSPHRASE, clock: clock.now, audit });
  t.teardown(() => again.close());
  t.is(again.activeCa().serial, serial);
  t.is(again.store.getCertificate(svid.serial)?.spiffeId, "spiffe://example.org/a");
  t.is(again.trustDomain, "example.org");
});

test("every issuance is an audit event and the chain verifies", (t) => {
  const { dir, ca, audit, cleanup } = newCa();
  t.teardown(cleanup);
  for (let i = 0; i < 5; i++) ca.issue({ spiffeId: `spiffe://example.org/w${i}`, publicKey: generateKeyPair().publicKey, kind: "manual" });
  const events = [...audit.query({ component: "ca" })];
  t.is(events.filter((e) => e.action === "ca.sign").length, 5);
  t.is(events[0]!.action, "ca.init");
  t.true(verifyAuditLog(join(dir, "audit.db")).ok);
});
