import test from "ava";
import { X509Certificate } from "node:crypto";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { trustBundle } from "../../pki/bundle.js";
import { parseCrl } from "../../pki/crl.js";
import { PkiError } from "../../pki/errors.js";
import { generateKeyPair } from "../../pki/keys.js";
import { currentCrls, currentCrlsPem, revoke } from "../../pki/revocation.js";
import { activateCa, prepareCa } from "../../pki/rotation.js";
import { openssl } from "../helpers/env.js";
import { makeCa } from "./ca-fixture.js";

const key = generateKeyPair().publicKey;

test("revoke by serial puts the serial on a signed CRL that openssl reads", (t) => {
  const f = makeCa();
  t.teardown(f.cleanup);
  const a = f.ca.issue({ spiffeId: "spiffe://example.org/a", publicKey: key, kind: "manual" });
  const b = f.ca.issue({ spiffeId: "spiffe://example.org/b", publicKey: key, kind: "manual" });
  const r = revoke(f.ca, { serial: a.serial.toUpperCase() }, "keyCompromise");
  t.deepEqual(r.revoked.map((x) => x.serial), [a.serial]);
  const [crlDer] = currentCrls(f.ca);
  const root = new X509Certificate(trustBundle(f.ca).anchorsDer[0]!);
  const crl = parseCrl(crlDer!, root);
  t.true(crl.revoked.has(a.serial));
  t.false(crl.revoked.has(b.serial));
  t.is(crl.revoked.get(a.serial)!.reason, "keyCompromise");
  t.truthy(crl.nextUpdate);
  writeFileSync(join(f.dir, "crl.pem"), currentCrlsPem(f.ca));
  writeFileSync(join(f.dir, "root.pem"), trustBundle(f.ca).pem);
  const text = openssl(["crl", "-in", join(f.dir, "crl.pem"), "-noout", "-text", "-CAfile", join(f.dir, "root.pem")]);
  t.regex(text, new RegExp(a.serial.toUpperCase().replace(/^0+/, "")));
  t.regex(text, /Key Compromise/);
  t.regex(text, /Next Update/);
});

test("revoke by SPIFFE ID takes every unexpired certificate of it; repeats are reported", (t) => {
  const f = makeCa();
  t.teardown(f.cleanup);
  const s1 = f.ca.issue({ spiffeId: "spiffe://example.org/a", publicKey: key, kind: "manual" }).serial;
  const s2 = f.ca.issue({ spiffeId: "spiffe://example.org/a", publicKey: key, kind: "manual" }).serial;
  f.ca.issue({ spiffeId: "spiffe://example.org/b", publicKey: key, kind: "manual" });
  const r = revoke(f.ca, { spiffeId: "spiffe://example.org/a" }, "superseded");
  t.deepEqual(r.revoked.map((x) => x.serial).sort(), [s1, s2].sort());
  const again = revoke(f.ca, { serial: s1 });
  t.deepEqual(again.alreadyRevoked, [s1]);
  t.is(f.ca.store.getCertificate(s1)?.revocationReason, "superseded");
  t.is([...f.audit.query({ action: "ca.revoke" })].length, 2);
});

test("revoke refuses unknown serials, bad hex and unknown reasons", (t) => {
  const f = makeCa();
  t.teardown(f.cleanup);
  t.is((t.throws(() => revoke(f.ca, { serial: "abcdef" })) as PkiError).code, "not_found");
  t.is((t.throws(() => revoke(f.ca, { serial: "xyz" })) as PkiError).code, "invalid_argument");
  const s = f.ca.issue({ spiffeId: "spiffe://example.org/a", publicKey: key, kind: "manual" }).serial;
  t.is((t.throws(() => revoke(f.ca, { serial: s }, "because")) as PkiError).code, "invalid_argument");
});

test("a CRL is re-signed at half its life, with a higher number; expired revoked certs leave it", (t) => {
  const f = makeCa();
  t.teardown(f.cleanup);
  const s = f.ca.issue({ spiffeId: "spiffe://example.org/a", publicKey: key, kind: "manual", ttlSeconds: 3600 }).serial;
  revoke(f.ca, { serial: s });
  const first = parseCrl(currentCrls(f.ca)[0]!);
  t.true(currentCrls(f.ca)[0]!.equals(currentCrls(f.ca)[0]!), "stable while fresh");
  f.clock.advance(13 * 3600);
  const second = parseCrl(currentCrls(f.ca)[0]!);
  t.true(second.crlNumber! > first.crlNumber!);
  t.false(second.revoked.has(s), "the revoked leaf has expired and left the CRL");
});

test("each CA in the bundle has its own CRL; revoking a leaf of the previous CA updates that CRL", (t) => {
  const f = makeCa();
  t.teardown(f.cleanup);
  const old = f.ca.issue({ spiffeId: "spiffe://example.org/a", publicKey: key, kind: "manual" });
  prepareCa(f.ca);
  activateCa(f.ca);
  t.is(currentCrls(f.ca).length, 2);
  revoke(f.ca, { serial: old.serial });
  const crls = currentCrls(f.ca).map((d) => parseCrl(d));
  t.is(crls.filter((c) => c.revoked.has(old.serial)).length, 1);
});
