import test, { type ExecutionContext } from "ava";
import { X509Certificate } from "node:crypto";
import { PkiError } from "../../pki/errors.js";
import { x509 } from "../../pki/x509.js";
import {
  checkLeafShape,
  checkSigningCertShape,
  validateX509Svid,
  type SvidValidationOptions,
} from "../../pki/svid-validate.js";
import { DAY, EKU, HOUR, KU, LEAF_ID, T0, makeIntermediate, makeLeaf, makeRoot, type TestCert } from "./fixtures.js";

// One trusted hierarchy shared by the tests; each test builds the certificate it breaks.
const root = await makeRoot();
const inter = await makeIntermediate(root);
const goodLeaf = await makeLeaf(inter);
const opts: SvidValidationOptions = { now: T0, roots: [root.der] };

function rejects(t: ExecutionContext, fn: () => unknown, reason: RegExp): void {
  const err = t.throws(fn, { instanceOf: PkiError });
  t.is(err?.code, "invalid_svid");
  t.regex(err?.message ?? "", reason);
}

function rejectsChain(t: ExecutionContext, chain: TestCert[], reason: RegExp, o: Partial<SvidValidationOptions> = {}): void {
  rejects(t, () => validateX509Svid(chain.map((c) => c.der), { ...opts, ...o }), reason);
}

// ---------------------------------------------------------------- accepted

test("accepts root → intermediate → leaf", (t) => {
  const v = validateX509Svid([goodLeaf.der, inter.der], opts);
  t.is(v.spiffeId.toString(), LEAF_ID);
  t.is(v.serial, goodLeaf.serial);
  t.true(v.leaf.raw.equals(goodLeaf.der));
  t.is(v.notAfter.getTime(), T0.getTime() + DAY);
  t.deepEqual(
    v.chain.map((c) => c.fingerprint256),
    [goodLeaf, inter, root].map((c) => c.node.fingerprint256),
  );
});

test("accepts root → leaf", async (t) => {
  const leaf = await makeLeaf(root, { uris: ["spiffe://example.org/mesh/node/n1"] });
  const v = validateX509Svid([leaf.der], opts);
  t.is(v.spiffeId.toString(), "spiffe://example.org/mesh/node/n1");
  t.is(v.chain.length, 2);
});

test("accepts PEM, X509Certificate objects, a chain that includes the root, and several roots", async (t) => {
  const other = await makeRoot({ subject: "CN=Other Root" });
  const roots = [other.pem, root.pem];
  t.is(validateX509Svid([goodLeaf.pem + inter.pem], { now: T0, roots }).spiffeId.toString(), LEAF_ID);
  t.is(validateX509Svid([goodLeaf.node, inter.node], { now: T0, roots: [root.node] }).chain.length, 3);
  const withRoot = validateX509Svid([goodLeaf.der, inter.der, root.der], opts);
  t.is(withRoot.chain.length, 3, "the sent root is not counted twice");
  t.is(validateX509Svid([Buffer.from(goodLeaf.pem), Buffer.from(inter.pem)], opts).serial, goodLeaf.serial);
});

test("accepts a leaf without EKU, with extra DNS SANs, and an intermediate without URI SAN", async (t) => {
  const plainInter = await makeIntermediate(root, { uris: [] });
  const leaf = await makeLeaf(plainInter, { eku: null, dnsNames: ["web.default.svc"] });
  t.is(validateX509Svid([leaf.der, plainInter.der], opts).spiffeId.toString(), LEAF_ID);
});

test("accepts an empty subject when the SAN extension is critical", async (t) => {
  const leaf = await makeLeaf(inter, { subject: "", sanCritical: true });
  t.is(validateX509Svid([leaf.der, inter.der], opts).spiffeId.toString(), LEAF_ID);
});

test("validity bounds are inclusive, to the millisecond", (t) => {
  const nb = new Date(T0.getTime() - HOUR);
  const na = new Date(T0.getTime() + DAY);
  t.notThrows(() => validateX509Svid([goodLeaf.der, inter.der], { ...opts, now: nb }));
  t.notThrows(() => validateX509Svid([goodLeaf.der, inter.der], { ...opts, now: na }));
  rejectsChain(t, [goodLeaf, inter], /^leaf is not yet valid/, { now: new Date(nb.getTime() - 1) });
  rejectsChain(t, [goodLeaf, inter], /^leaf has expired/, { now: new Date(na.getTime() + 1) });
});

// ---------------------------------------------------------------- URI SAN

test("rejects a leaf with no URI SAN", async (t) => {
  rejectsChain(t, [await makeLeaf(inter, { uris: [], dnsNames: ["web"] }), inter], /^leaf has no URI SAN$/);
  rejectsChain(t, [await makeLeaf(inter, { uris: [] }), inter], /^leaf has no URI SAN$/);
});

test("rejects a leaf with two URI SANs", async (t) => {
  const leaf = await makeLeaf(inter, { uris: [LEAF_ID, "spiffe://example.org/ns/x/sa/admin"] });
  rejectsChain(t, [leaf, inter], /^leaf has 2 URI SANs, exactly one is allowed$/);
});

test("rejects a second SAN extension smuggling another URI", async (t) => {
  const second = new x509.SubjectAlternativeNameExtension([{ type: "url", value: "spiffe://example.org/ns/x/sa/admin" }]);
  const leaf = await makeLeaf(inter, { extraExtensions: [second] });
  rejectsChain(t, [leaf, inter], /^duplicate extension 2\.5\.29\.17$/);
});

test("rejects a URI SAN that is not a valid SPIFFE ID, or a trust-domain ID", async (t) => {
  rejectsChain(t, [await makeLeaf(inter, { uris: ["spiffe://Example.org/ns/a/sa/b"] }), inter], /^leaf URI SAN is not a valid SPIFFE ID: trust domain contains an uppercase letter$/);
  rejectsChain(t, [await makeLeaf(inter, { uris: ["https://example.org/ns/a"] }), inter], /^leaf URI SAN is not a valid SPIFFE ID: scheme must be 'spiffe'$/);
  rejectsChain(t, [await makeLeaf(inter, { uris: ["spiffe://example.org/a/../b"] }), inter], /not a valid SPIFFE ID: path segment '\.\.'/);
  rejectsChain(t, [await makeLeaf(inter, { uris: ["spiffe://example.org"] }), inter], /^leaf SPIFFE ID has no path/);
});

test("rejects an empty subject with a non-critical SAN extension", async (t) => {
  rejectsChain(t, [await makeLeaf(inter, { subject: "" }), inter], /^leaf subject is empty but the SAN extension is not critical$/);
});

// ---------------------------------------------------------------- leaf constraints

test("rejects a leaf with cA=true", async (t) => {
  rejectsChain(t, [await makeLeaf(inter, { ca: true }), inter], /^leaf has basicConstraints cA=true$/);
});

test("accepts a leaf with no basicConstraints or cA=false non-critical", async (t) => {
  t.notThrows(() => validateX509Svid([goodLeaf.der, inter.der], opts));
  const noBc = await makeLeaf(inter, { ca: null });
  const nonCrit = await makeLeaf(inter, { bcCritical: false });
  t.notThrows(() => validateX509Svid([noBc.der, inter.der], opts));
  t.notThrows(() => validateX509Svid([nonCrit.der, inter.der], opts));
});

test("rejects a leaf without keyUsage", async (t) => {
  rejectsChain(t, [await makeLeaf(inter, { keyUsage: null }), inter], /^leaf has no keyUsage extension$/);
});

test("rejects a leaf whose keyUsage is not critical", async (t) => {
  rejectsChain(t, [await makeLeaf(inter, { keyUsageCritical: false }), inter], /^leaf keyUsage extension is not critical$/);
});

test("rejects a leaf without digitalSignature", async (t) => {
  rejectsChain(t, [await makeLeaf(inter, { keyUsage: KU.keyEncipherment }), inter], /^leaf keyUsage lacks digitalSignature$/);
});

test("rejects a leaf with keyCertSign or cRLSign", async (t) => {
  rejectsChain(t, [await makeLeaf(inter, { keyUsage: KU.digitalSignature | KU.keyCertSign }), inter], /^leaf keyUsage has keyCertSign$/);
  rejectsChain(t, [await makeLeaf(inter, { keyUsage: KU.digitalSignature | KU.cRLSign }), inter], /^leaf keyUsage has cRLSign$/);
});

test("accepts keyEncipherment and keyAgreement beside digitalSignature", async (t) => {
  const leaf = await makeLeaf(inter, { keyUsage: KU.digitalSignature | KU.keyEncipherment | KU.keyAgreement });
  t.notThrows(() => validateX509Svid([leaf.der, inter.der], opts));
});

test("rejects an EKU without serverAuth and clientAuth", async (t) => {
  rejectsChain(t, [await makeLeaf(inter, { eku: [EKU.codeSigning] }), inter], /^leaf extendedKeyUsage lacks serverAuth and clientAuth$/);
  rejectsChain(t, [await makeLeaf(inter, { eku: [EKU.serverAuth] }), inter], /^leaf extendedKeyUsage lacks clientAuth$/);
  rejectsChain(t, [await makeLeaf(inter, { eku: [EKU.clientAuth] }), inter], /^leaf extendedKeyUsage lacks serverAuth$/);
});

test("rejects an unknown critical extension, ignores an unknown non-critical one", async (t) => {
  const ext = (critical: boolean): x509.Extension => new x509.Extension("1.2.3.4.5", critical, new Uint8Array([0x05, 0x00]));
  rejectsChain(t, [await makeLeaf(inter, { extraExtensions: [ext(true)] }), inter], /^unsupported critical extension 1\.2\.3\.4\.5$/);
  const ok = await makeLeaf(inter, { extraExtensions: [ext(false)] });
  t.notThrows(() => validateX509Svid([ok.der, inter.der], opts));
});

// ---------------------------------------------------------------- signing certificates

test("rejects an intermediate that is not a CA", async (t) => {
  const bad = await makeIntermediate(root, { ca: false });
  rejectsChain(t, [await makeLeaf(bad), bad], /^intermediate 1 is not a CA/);
  const noBc = await makeIntermediate(root, { ca: null });
  rejectsChain(t, [await makeLeaf(noBc), noBc], /^intermediate 1 is not a CA/);
});

test("rejects an intermediate without keyCertSign", async (t) => {
  const bad = await makeIntermediate(root, { keyUsage: KU.cRLSign | KU.digitalSignature });
  rejectsChain(t, [await makeLeaf(bad), bad], /^intermediate 1 keyUsage lacks keyCertSign$/);
});

test("rejects an intermediate with missing or non-critical keyUsage", async (t) => {
  const none = await makeIntermediate(root, { keyUsage: null });
  rejectsChain(t, [await makeLeaf(none), none], /^intermediate 1 has no keyUsage extension$/);
  const soft = await makeIntermediate(root, { keyUsageCritical: false });
  rejectsChain(t, [await makeLeaf(soft), soft], /^intermediate 1 keyUsage extension is not critical$/);
});

test("rejects a signing certificate whose SPIFFE ID has a path", async (t) => {
  const bad = await makeIntermediate(root, { uris: ["spiffe://example.org/ca"] });
  rejectsChain(t, [await makeLeaf(bad), bad], /^intermediate 1 SPIFFE ID must be a trust-domain ID without a path$/);
  const junk = await makeIntermediate(root, { uris: ["spiffe://example.org:1"] });
  rejectsChain(t, [await makeLeaf(junk), junk], /^intermediate 1 URI SAN is not a valid SPIFFE ID: port is not allowed$/);
});

test("rejects a root that is not a CA", async (t) => {
  const badRoot = await makeRoot({ ca: false });
  const leaf = await makeLeaf(badRoot);
  rejects(t, () => validateX509Svid([leaf.der], { now: T0, roots: [badRoot.der] }), /^root is not a CA/);
});

test("enforces pathLenConstraint", async (t) => {
  const r0 = await makeRoot({ pathLength: 0 });
  const i0 = await makeIntermediate(r0);
  const l0 = await makeLeaf(i0);
  rejects(t, () => validateX509Svid([l0.der, i0.der], { now: T0, roots: [r0.der] }), /^root pathLenConstraint 0 exceeded$/);
  const direct = await makeLeaf(r0);
  t.notThrows(() => validateX509Svid([direct.der], { now: T0, roots: [r0.der] }), "pathLen 0 still allows a leaf");

  const top = await makeIntermediate(root, { pathLength: 0 });
  const below = await makeIntermediate(top);
  rejectsChain(t, [await makeLeaf(below), below, top], /^intermediate 2 pathLenConstraint 0 exceeded$/);
  const top1 = await makeIntermediate(root, { pathLength: 1 });
  const below1 = await makeIntermediate(top1);
  const l1 = await makeLeaf(below1);
  t.notThrows(() => validateX509Svid([l1.der, below1.der, top1.der], opts));
});

test("checkLeafShape and checkSigningCertShape", (t) => {
  t.is(checkLeafShape(goodLeaf.der).toString(), LEAF_ID);
  t.notThrows(() => checkSigningCertShape(root.der));
  t.notThrows(() => checkSigningCertShape(inter.der));
  rejects(t, () => checkLeafShape(inter.der), /^leaf SPIFFE ID has no path/);
  rejects(t, () => checkLeafShape(root.der), /^leaf SPIFFE ID has no path/);
  rejects(t, () => checkSigningCertShape(goodLeaf.der), /^signing certificate is not a CA/);
  rejects(t, () => checkLeafShape(Buffer.from([0x30, 0x03, 0x02, 0x01, 0x00])), /^malformed certificate/);
  rejects(t, () => checkLeafShape(Buffer.concat([goodLeaf.der, Buffer.from([0])])), /^malformed certificate: .*trailing/);
});

// ---------------------------------------------------------------- chain and signatures

test("rejects a leaf signed by an untrusted CA", async (t) => {
  const stranger = await makeRoot({ subject: "CN=Stranger" });
  rejectsChain(t, [await makeLeaf(stranger)], /^leaf is not signed by any trusted root$/);
  const strangerInter = await makeIntermediate(stranger);
  rejectsChain(t, [await makeLeaf(strangerInter), strangerInter], /^intermediate 1 is not signed by any trusted root$/);
  // Sending the untrusted root along changes nothing.
  rejectsChain(t, [await makeLeaf(stranger), stranger], /^intermediate 1 is not signed by any trusted root$/);
});

test("rejects a forged signature under a trusted issuer's name", async (t) => {
  // Same subject DN as the trusted CAs, different keys, no AKI to tell them apart: only the signature can.
  const fakeRoot = await makeRoot({ subject: root.cert.subject });
  rejectsChain(t, [await makeLeaf(fakeRoot, { authorityKeyId: false })], /^leaf is not signed by any trusted root$/);
  const fakeInter = await makeIntermediate(root, { subject: inter.cert.subject });
  const forged = await makeLeaf(fakeInter, { authorityKeyId: false });
  rejectsChain(t, [forged, inter], /^leaf is not signed by intermediate 1$/);
});

test("rejects a chain out of order", async (t) => {
  rejectsChain(t, [inter, goodLeaf], /^leaf SPIFFE ID has no path/);
  const below = await makeIntermediate(inter);
  const leaf = await makeLeaf(below);
  t.notThrows(() => validateX509Svid([leaf.der, below.der, inter.der], opts));
  rejectsChain(t, [leaf, inter, below], /^leaf is not signed by intermediate 1$/);
  // A trusted root part-way up ends the path there, so the leaf must chain to it.
  rejectsChain(t, [goodLeaf, root, inter], /^leaf is not signed by any trusted root$/);
});

// ---------------------------------------------------------------- time

test("rejects expired and not-yet-valid certificates anywhere in the chain", async (t) => {
  const past = { notBefore: new Date(T0.getTime() - 2 * DAY), notAfter: new Date(T0.getTime() - 1000) };
  const future = { notBefore: new Date(T0.getTime() + 1000), notAfter: new Date(T0.getTime() + 2 * DAY) };
  rejectsChain(t, [await makeLeaf(inter, past), inter], /^leaf has expired \(notAfter /);
  rejectsChain(t, [await makeLeaf(inter, future), inter], /^leaf is not yet valid \(notBefore /);
  const oldInter = await makeIntermediate(root, past);
  rejectsChain(t, [await makeLeaf(oldInter), oldInter], /^intermediate 1 has expired/);
  const newInter = await makeIntermediate(root, future);
  rejectsChain(t, [await makeLeaf(newInter), newInter], /^intermediate 1 is not yet valid/);
  const oldRoot = await makeRoot(past);
  const leaf = await makeLeaf(oldRoot);
  rejects(t, () => validateX509Svid([leaf.der], { now: T0, roots: [oldRoot.der] }), /^root has expired/);
});

// ---------------------------------------------------------------- revocation

test("rejects a revoked leaf, matching the normalized serial and passing its issuer", async (t) => {
  const leaf = await makeLeaf(inter, { serial: "00ab01" });
  t.is(leaf.serial, "ab01");
  const seen: Array<[string, string]> = [];
  const isRevoked = (s: string, issuer: X509Certificate): boolean => {
    seen.push([s, issuer.fingerprint256]);
    return s === "ab01";
  };
  rejectsChain(t, [leaf, inter], /^leaf serial ab01 is revoked$/, { isRevoked });
  t.deepEqual(seen[0], ["ab01", inter.node.fingerprint256]);
  t.notThrows(() => validateX509Svid([goodLeaf.der, inter.der], { ...opts, isRevoked }));
});

test("rejects a chain through a revoked intermediate", async (t) => {
  const isRevoked = (s: string, issuer: X509Certificate): boolean => s === inter.serial && issuer.fingerprint256 === root.node.fingerprint256;
  rejectsChain(t, [goodLeaf, inter], new RegExp(`^intermediate 1 serial ${inter.serial} is revoked$`), { isRevoked });
});

// ---------------------------------------------------------------- trust domains

test("rejects a leaf outside the requested trust domain", (t) => {
  t.notThrows(() => validateX509Svid([goodLeaf.der, inter.der], { ...opts, trustDomain: "example.org" }));
  rejectsChain(t, [goodLeaf, inter], /^leaf trust domain 'example\.org' is not the expected 'other\.org'$/, { trustDomain: "other.org" });
});

test("rejects a leaf whose trust domain differs from the signing root's or intermediate's", async (t) => {
  rejectsChain(t, [await makeLeaf(root, { uris: ["spiffe://other.org/ns/a/sa/b"] })], /^leaf trust domain 'other\.org' does not match root trust domain 'example\.org'$/);
  const otherInter = await makeIntermediate(root, { uris: ["spiffe://other.org"] });
  rejectsChain(t, [await makeLeaf(otherInter), otherInter], /does not match intermediate 1 trust domain 'other\.org'$/);
});

// ---------------------------------------------------------------- bounded input

test("rejects chains longer than maxChainLength (default 5)", (t) => {
  rejectsChain(t, [goodLeaf, inter, inter, inter, inter, inter], /^chain longer than 5 certificates$/);
  rejectsChain(t, [goodLeaf, inter, root], /^chain longer than 2 certificates$/, { maxChainLength: 2 });
  // PEM bundles are counted after expansion.
  rejects(t, () => validateX509Svid([goodLeaf.pem + inter.pem + root.pem], { ...opts, maxChainLength: 2 }), /^chain longer than 2 certificates$/);
});

test("rejects oversized PEM, garbage and empty inputs", (t) => {
  const big = goodLeaf.pem + "x".repeat(64 * 1024);
  rejects(t, () => validateX509Svid([big], opts), /^chain PEM larger than 65536 bytes$/);
  rejects(t, () => validateX509Svid(["no pem here"], opts), /^chain PEM has no CERTIFICATE block$/);
  rejects(t, () => validateX509Svid([Buffer.from([0x30, 0x03, 0x02, 0x01, 0x00])], opts), /^chain certificate 0 cannot be parsed$/);
  rejects(t, () => validateX509Svid([], opts), /^chain is empty$/);
  rejects(t, () => validateX509Svid([goodLeaf.der], { now: T0, roots: [] }), /^trust bundle has no roots$/);
  rejects(t, () => validateX509Svid([42 as unknown as Buffer], opts), /is not a Buffer, string or X509Certificate$/);
  const err = t.throws(() => validateX509Svid([goodLeaf.der], { now: new Date(Number.NaN), roots: [root.der] }), { instanceOf: PkiError });
  t.is(err?.code, "invalid_argument");
});
