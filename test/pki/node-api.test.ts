import test from "ava";
import { X509Certificate } from "node:crypto";
import { buildCsr } from "../../pki/csr.js";
import { PkiError } from "../../pki/errors.js";
import { generateKeyPair } from "../../pki/keys.js";
import { createEntry, createJoinToken, deleteEntry, hashToken, NodeApi } from "../../pki/node-api.js";
import { nodeSpiffeId, parseSpiffeId } from "../../pki/spiffe-id.js";
import { makeCa } from "./ca-fixture.js";

const code = (e: unknown) => (e as PkiError).code;

test("a join token attests a node once; reuse and expiry are refused", (t) => {
  const f = makeCa();
  t.teardown(f.cleanup);
  const api = new NodeApi(f.ca);
  const { token } = createJoinToken(f.ca, "node-a", 600);
  const csr = buildCsr(generateKeyPair());
  const svid = api.attest(token, csr, "127.0.0.1");
  t.is(svid.spiffeId, "spiffe://example.org/mesh/node/node-a");
  t.is(f.ca.store.getNode("node-a")?.lastSerial, svid.serial);
  const again = t.throws(() => api.attest(token, csr));
  t.is(code(again), "token_invalid");
  t.regex(again!.message, /already used/);
  const { token: t2 } = createJoinToken(f.ca, "node-b", 60);
  f.clock.advance(61);
  const expired = t.throws(() => api.attest(t2, csr));
  t.is(code(expired), "token_invalid");
  t.regex(expired!.message, /expired/);
  t.is(code(t.throws(() => api.attest("mjt_nonsense", csr))), "token_invalid");
});

test("tokens are stored hashed, never in clear", (t) => {
  const f = makeCa();
  t.teardown(f.cleanup);
  const { token } = createJoinToken(f.ca, "node-a");
  const rows = f.ca.store.db.prepare("SELECT * FROM join_tokens").all() as Record<string, unknown>[];
  t.is(rows.length, 1);
  t.is(rows[0]!.hash, hashToken(token));
  t.false(JSON.stringify(rows).includes(token));
  const audit = JSON.stringify([...f.audit.query()]);
  t.false(audit.includes(token), "the token never reaches the audit log");
});

test("a bad CSR does not burn the token", (t) => {
  const f = makeCa();
  t.teardown(f.cleanup);
  const api = new NodeApi(f.ca);
  const { token } = createJoinToken(f.ca, "node-a");
  t.is(code(t.throws(() => api.attest(token, "-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n"))), "invalid_csr");
  t.notThrows(() => api.attest(token, buildCsr(generateKeyPair())));
});

test("sign: the SPIFFE ID comes from the node's entry, never from the CSR", (t) => {
  const f = makeCa();
  t.teardown(f.cleanup);
  const api = new NodeApi(f.ca);
  createEntry(f.ca, { spiffeId: "spiffe://example.org/ns/demo/sa/backend", node: "node-a", workload: "backend" });
  const caller = nodeSpiffeId("example.org", "node-a");
  // the CSR asks for admin; the certificate is for the registered ID only
  const csr = buildCsr(generateKeyPair(), { spiffeId: "spiffe://example.org/ns/kube-system/sa/admin", commonName: "admin" });
  const svid = api.sign(caller, { spiffe_id: "spiffe://example.org/ns/demo/sa/backend", csr });
  const leaf = new X509Certificate(svid.chainDer[0]!);
  t.is(leaf.subjectAltName, "URI:spiffe://example.org/ns/demo/sa/backend");
  t.false(leaf.subject.includes("admin"));
  const denied = t.throws(() => api.sign(caller, { spiffe_id: "spiffe://example.org/ns/kube-system/sa/admin", csr }));
  t.is(code(denied), "forbidden");
});

test("sign: a node cannot get another node's workload ID, nor act without a node ID", (t) => {
  const f = makeCa();
  t.teardown(f.cleanup);
  const api = new NodeApi(f.ca);
  createEntry(f.ca, { spiffeId: "spiffe://example.org/ns/demo/sa/backend", node: "node-a", workload: "backend" });
  const csr = buildCsr(generateKeyPair());
  t.is(code(t.throws(() => api.sign(nodeSpiffeId("example.org", "node-b"), { spiffe_id: "spiffe://example.org/ns/demo/sa/backend", csr }))), "forbidden");
  t.is(code(t.throws(() => api.sign(parseSpiffeId("spiffe://example.org/ns/demo/sa/backend"), { spiffe_id: "spiffe://example.org/ns/demo/sa/backend", csr }))), "forbidden");
  t.is(code(t.throws(() => api.entries(parseSpiffeId("spiffe://other.org/mesh/node/node-a")))), "forbidden");
  const denials = [...f.audit.query({ action: "ca.sign", outcome: "deny" })];
  t.is(denials.length, 1);
});

test("sign: a node renews its own node SVID", (t) => {
  const f = makeCa();
  t.teardown(f.cleanup);
  const api = new NodeApi(f.ca);
  const me = nodeSpiffeId("example.org", "node-a");
  const svid = api.sign(me, { spiffe_id: me.toString(), csr: buildCsr(generateKeyPair()) });
  t.is(svid.spiffeId, me.toString());
  t.is(f.ca.store.getCertificate(svid.serial)?.kind, "node");
});

test("sign: the CSR rate limit answers rate_limited with a retry time, then recovers", (t) => {
  const f = makeCa();
  t.teardown(f.cleanup);
  const api = new NodeApi(f.ca, { signRatePerSecond: 2, signBurst: 3 });
  createEntry(f.ca, { spiffeId: "spiffe://example.org/w", node: "node-a", workload: "w" });
  const me = nodeSpiffeId("example.org", "node-a");
  const body = { spiffe_id: "spiffe://example.org/w", csr: buildCsr(generateKeyPair()) };
  for (let i = 0; i < 3; i++) api.sign(me, body);
  const err = t.throws(() => api.sign(me, body)) as PkiError;
  t.is(err.code, "rate_limited");
  t.is(err.retryAfter, 1);
  f.clock.advance(1);
  t.notThrows(() => api.sign(me, body));
  // another node has its own bucket
  createEntry(f.ca, { spiffeId: "spiffe://example.org/w", node: "node-b", workload: "w" });
  t.notThrows(() => api.sign(nodeSpiffeId("example.org", "node-b"), body));
});

test("entries: per node, unique, reserved paths refused, delete works", (t) => {
  const f = makeCa();
  t.teardown(f.cleanup);
  const api = new NodeApi(f.ca);
  const e = createEntry(f.ca, { spiffeId: "spiffe://example.org/ns/a/sa/b", node: "node-a", workload: "b" });
  createEntry(f.ca, { spiffeId: "spiffe://example.org/ns/a/sa/c", node: "node-b", workload: "c" });
  t.deepEqual(api.entries(nodeSpiffeId("example.org", "node-a")).map((x) => x.workload), ["b"]);
  t.is(code(t.throws(() => createEntry(f.ca, { spiffeId: "spiffe://example.org/ns/a/sa/x", node: "node-a", workload: "b" }))), "conflict");
  t.is(code(t.throws(() => createEntry(f.ca, { spiffeId: "spiffe://example.org/mesh/node/x", node: "node-a", workload: "x" }))), "invalid_argument");
  t.is(code(t.throws(() => createEntry(f.ca, { spiffeId: "spiffe://other.org/x", node: "node-a", workload: "x" }))), "invalid_argument");
  t.is(code(t.throws(() => createEntry(f.ca, { spiffeId: "spiffe://example.org/x", node: "Node A", workload: "x" }))), "invalid_argument");
  deleteEntry(f.ca, e.id);
  t.deepEqual(api.entries(nodeSpiffeId("example.org", "node-a")), []);
});
