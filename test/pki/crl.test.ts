import test from "ava";
import { spawnSync } from "node:child_process";
import { X509Certificate } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { buildCertificate, type Issuer } from "../../pki/certificate.js";
import { buildCrl, parseCrl, REVOCATION_REASONS, type RevokedEntry } from "../../pki/crl.js";
import * as der from "../../pki/der.js";
import { PkiError } from "../../pki/errors.js";
import { generateKeyPair, type KeyType } from "../../pki/keys.js";
import { pemEncode } from "../../pki/pem.js";
import { randomSerial, serialHex } from "../../pki/serial.js";
import { x509 } from "../../pki/x509.js";

const NOW = new Date("2030-05-06T07:08:09Z");
const LATER = new Date("2030-05-07T07:08:09Z");

function makeCa(type: KeyType, commonName = "Mesh Root"): Issuer {
  const keys = generateKeyPair(type);
  const certDer = buildCertificate(
    { serial: randomSerial(), publicKey: keys.publicKey, notBefore: new Date("2030-01-01T00:00:00Z"), notAfter: new Date("2031-01-01T00:00:00Z"), kind: "ca", subject: { commonName } },
    { self: keys },
  );
  return { certDer, privateKey: keys.privateKey, keyType: type };
}

const ca = makeCa("ec-p256");
const entries: RevokedEntry[] = REVOCATION_REASONS.map((reason, i) => ({
  serial: i === 0 ? "f" + serialHex(randomSerial()).slice(0, 30) : serialHex(randomSerial()), // an odd-length serial too
  revokedAt: new Date(NOW.getTime() - (i + 1) * 60_000),
  reason,
}));

/** openssl crl with the CA as trust anchor; returns stdout+stderr and the exit status. */
function opensslCrl(issuer: Issuer, crl: Buffer): { status: number | null; out: string } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mesh-"));
  try {
    fs.writeFileSync(path.join(dir, "root.pem"), pemEncode("CERTIFICATE", issuer.certDer));
    fs.writeFileSync(path.join(dir, "crl.der"), crl);
    const r = spawnSync("openssl", ["crl", "-inform", "DER", "-in", "crl.der", "-noout", "-text", "-CAfile", "root.pem"], { cwd: dir, encoding: "utf8" });
    return { status: r.status, out: r.stdout + r.stderr };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

test("openssl verifies the CRL and lists every serial and reason", (t) => {
  for (const issuer of [ca, makeCa("rsa-2048"), makeCa("ec-p384")]) {
    const crl = buildCrl({ issuer, thisUpdate: NOW, nextUpdate: LATER, crlNumber: 42n, revoked: entries });
    const { status, out } = opensslCrl(issuer, crl);
    t.is(status, 0, out);
    t.regex(out, /verify OK/);
    t.regex(out, /Version 2 \(0x1\)/);
    t.regex(out, /X509v3 CRL Number:\s+42/);
    t.regex(out, /X509v3 Authority Key Identifier/);
    // openssl prints whole bytes; our normal form drops a leading zero nibble.
    for (const e of entries) t.true(out.toLowerCase().includes(`serial number: ${e.serial.length % 2 ? "0" : ""}${e.serial}\n`), e.serial);
    for (const label of ["Key Compromise", "CA Compromise", "Affiliation Changed", "Superseded", "Cessation Of Operation", "Certificate Hold", "Privilege Withdrawn"]) {
      t.true(out.includes(label), label);
    }
    t.false(out.includes("Unspecified"), "reasonCode is omitted for unspecified");
  }
});

test("an empty CRL omits revokedCertificates and is still valid", (t) => {
  const crl = buildCrl({ issuer: ca, thisUpdate: NOW, nextUpdate: LATER, crlNumber: 1n, revoked: [] });
  const { status, out } = opensslCrl(ca, crl);
  t.is(status, 0, out);
  t.regex(out, /No Revoked Certificates/);
  const parsed = parseCrl(crl, new X509Certificate(ca.certDer));
  t.is(parsed.revoked.size, 0);
  t.is(parsed.crlNumber, 1n);
});

test("parseCrl round trip, PEM and DER, with and without the issuer", (t) => {
  const crl = buildCrl({ issuer: ca, thisUpdate: NOW, nextUpdate: LATER, crlNumber: 2n ** 70n, revoked: entries });
  for (const input of [crl, pemEncode("X509 CRL", crl), Buffer.from(pemEncode("X509 CRL", crl))]) {
    for (const issuerCert of [undefined, new X509Certificate(ca.certDer)]) {
      const p = parseCrl(input, issuerCert);
      t.is(p.thisUpdate.toISOString(), NOW.toISOString());
      t.is(p.nextUpdate?.toISOString(), LATER.toISOString());
      t.is(p.crlNumber, 2n ** 70n);
      t.is(p.revoked.size, entries.length);
      for (const e of entries) t.deepEqual(p.revoked.get(e.serial), { revokedAt: e.revokedAt, reason: e.reason });
      t.true(new X509Certificate(ca.certDer).subject.includes("Mesh Root"));
      t.true(p.issuerDer.includes(Buffer.from("Mesh Root")));
    }
  }
});

test("an independent parser agrees", async (t) => {
  const crl = new x509.X509Crl(buildCrl({ issuer: ca, thisUpdate: NOW, nextUpdate: LATER, crlNumber: 7n, revoked: entries }));
  t.is(crl.issuer, "CN=Mesh Root");
  t.true(await crl.verify({ publicKey: new x509.X509Certificate(ca.certDer) }));
  t.is(crl.entries.length, entries.length);
  for (const [i, e] of crl.entries.entries()) {
    t.is(serialHex(Buffer.from(e.serialNumber, "hex")), entries[i]!.serial);
    t.is(e.reason, entries[i]!.reason === "unspecified" ? undefined : ({ keyCompromise: 1, cACompromise: 2, affiliationChanged: 3, superseded: 4, cessationOfOperation: 5, certificateHold: 6, privilegeWithdrawn: 9 } as Record<string, number>)[entries[i]!.reason]);
  }
});

test("serials are normalised; bad serials, duplicates and bad times are refused", (t) => {
  const crl = buildCrl({ issuer: ca, thisUpdate: NOW, nextUpdate: LATER, crlNumber: 3n, revoked: [{ serial: "00:AB:cd:80", revokedAt: NOW, reason: "superseded" }] });
  t.deepEqual([...parseCrl(crl).revoked.keys()], ["abcd80"]);
  t.true(crl.includes(Buffer.from("020400abcd80", "hex")), "positive INTEGER with a sign byte");
  const fails = (opts: Partial<Parameters<typeof buildCrl>[0]>, msg: RegExp): void => {
    const err = t.throws(() => buildCrl({ issuer: ca, thisUpdate: NOW, nextUpdate: LATER, crlNumber: 1n, revoked: [], ...opts }), { instanceOf: PkiError });
    t.is(err.code, "invalid_argument");
    t.regex(err.message, msg);
  };
  fails({ revoked: [{ serial: "xyz", revokedAt: NOW, reason: "keyCompromise" }] }, /bad serial/);
  fails({ revoked: [{ serial: "0a", revokedAt: NOW, reason: "keyCompromise" }, { serial: "A", revokedAt: NOW, reason: "superseded" }] }, /listed twice/);
  fails({ revoked: [{ serial: "0a", revokedAt: NOW, reason: "removeFromCRL" as never }] }, /unknown revocation reason/);
  fails({ nextUpdate: NOW }, /nextUpdate must be later/);
  fails({ crlNumber: -1n }, /crlNumber/);
  fails({ crlNumber: 2n ** 160n }, /crlNumber/);
  fails({ issuer: { ...ca, keyType: "rsa-2048" } }, /keyType/);
});

test("a CRL with a wrong signature or from another issuer is refused when issuerCert is given", (t) => {
  const crl = buildCrl({ issuer: ca, thisUpdate: NOW, nextUpdate: LATER, crlNumber: 9n, revoked: entries });
  const issuerCert = new X509Certificate(ca.certDer);
  const refused = (input: Buffer, cert: X509Certificate, msg: RegExp): void => {
    const err = t.throws(() => parseCrl(input, cert), { instanceOf: PkiError });
    t.is(err.code, "invalid_argument");
    t.regex(err.message, msg);
  };
  const badSig = Buffer.from(crl);
  badSig[badSig.length - 1]! ^= 0x01;
  refused(badSig, issuerCert, /does not verify/);
  t.notThrows(() => parseCrl(badSig), "without issuerCert only the structure is checked");
  // Same name, different key: the name matches, the signature cannot.
  const impostor = makeCa("ec-p256");
  refused(crl, new X509Certificate(impostor.certDer), /does not verify/);
  const other = makeCa("ec-p256", "Other CA");
  refused(crl, new X509Certificate(other.certDer), /issuer name differs/);
  // A changed entry inside the signed part.
  const badBody = Buffer.from(crl);
  const s1 = entries[1]!.serial;
  const i = badBody.indexOf(Buffer.from(s1.length % 2 ? "0" + s1 : s1, "hex"));
  t.true(i > 0);
  badBody[i]! ^= 0x02; // bit 0 of a serial's first byte is always set, so it stays a minimal positive INTEGER
  refused(badBody, issuerCert, /does not verify/);
  const { out } = opensslCrl(ca, badBody);
  t.regex(out, /verify fail/i, "openssl agrees");
  t.notRegex(out, /verify OK/);
});

test("garbage, oversized, truncated and unsupported CRLs are refused", (t) => {
  const crl = buildCrl({ issuer: ca, thisUpdate: NOW, nextUpdate: LATER, crlNumber: 9n, revoked: entries });
  const refused = (input: string | Buffer, msg: RegExp, max?: number): void => {
    const err = t.throws(() => parseCrl(input, undefined, max), { instanceOf: PkiError });
    t.is(err.code, "invalid_argument");
    t.regex(err.message, msg);
  };
  refused("", /empty/);
  refused("garbage", /no X509 CRL PEM block/);
  refused(Buffer.from("30030201", "hex"), /malformed CRL/);
  refused(crl.subarray(0, crl.length - 3), /malformed CRL/);
  refused(Buffer.concat([crl, Buffer.from([0, 0])]), /trailing bytes/);
  refused(crl, /larger than 100 bytes/, 100);
  refused(Buffer.alloc(4 * 1024 * 1024 + 1), /larger than 4194304 bytes/);
  // Rebuild the TBS with an unknown critical extension: it must not be silently ignored.
  const [tbs, alg, sig] = der.decode(crl).children();
  const f = tbs!.children();
  const exts = f[f.length - 1]!.children()[0]!.children().map((n) => n.encoded);
  const critical = der.sequence(der.oid("2.5.29.28"), der.boolean(true), der.octetString(der.sequence()));
  const tbs2 = der.sequence(...f.slice(0, -1).map((n) => n.encoded), der.explicit(0, der.sequence(...exts, critical)));
  refused(der.sequence(tbs2, alg!.encoded, sig!.encoded), /unsupported critical CRL extension 2\.5\.29\.28/);
  const v3 = der.sequence(der.integer(2), ...f.slice(1).map((n) => n.encoded));
  refused(der.sequence(v3, alg!.encoded, sig!.encoded), /version must be v2/);
  const otherAlg = der.sequence(der.oid("1.2.840.10045.4.3.3"));
  refused(der.sequence(tbs!.encoded, otherAlg, sig!.encoded), /signature algorithm fields differ/);
});
