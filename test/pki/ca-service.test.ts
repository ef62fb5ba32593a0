import test from "ava";
import { X509Certificate } from "node:crypto";
import { writeFileSync } from "node:fs";
import { connect as netConnect } from "node:net";
import { join } from "node:path";
import { connect as tlsConnect } from "node:tls";
import { pino } from "pino";
import { trustBundle } from "../../pki/bundle.js";
import { buildCsr } from "../../pki/csr.js";
import { generateKeyPair, privateKeyToPem } from "../../pki/keys.js";
import { createEntry, createJoinToken, NodeApi } from "../../pki/node-api.js";
import { revoke } from "../../pki/revocation.js";
import { startCaServer, type CaServer } from "../../pki/service/server.js";
import { httpsRequest } from "../helpers/https.js";
import { makeCa, type CaFixture } from "./ca-fixture.js";
import { runAsync, TestClock } from "../helpers/env.js";

interface Ctx {
  f: CaFixture;
  srv: CaServer;
  bundle: string;
}

async function setup(opts: { rate?: number; burst?: number } = {}): Promise<Ctx> {
  // real time: TLS peers check validity against the wall clock
  const f = makeCa({ clock: new TestClock(Date.now()) });
  const api = new NodeApi(f.ca, { signRatePerSecond: opts.rate ?? 1000, signBurst: opts.burst ?? 1000 });
  const srv = await startCaServer({ ca: f.ca, api, host: "127.0.0.1", port: 0, logger: pino({ level: "silent" }) });
  const bundle = trustBundle(f.ca).pem;
  return { f, srv, bundle };
}

async function attestNode(c: Ctx, node = "node-a") {
  const keys = generateKeyPair();
  const { token } = createJoinToken(c.f.ca, node);
  const res = await httpsRequest(`${c.srv.url}/v1/attest`, { method: "POST", ca: c.bundle, body: JSON.stringify({ token, csr: buildCsr(keys) }) });
  const body = res.json() as { svid_chain: string; spiffe_id: string };
  return { res, token, cert: body.svid_chain, key: privateKeyToPem(keys.privateKey), spiffeId: body.spiffe_id };
}

test.serial("attest, then sign over mTLS with the node SVID; entries list the node's workloads", async (t) => {
  const c = await setup();
  t.teardown(async () => (await c.srv.close(), c.f.cleanup()));
  const node = await attestNode(c);
  t.is(node.res.status, 200);
  t.is(node.spiffeId, "spiffe://example.org/mesh/node/node-a");
  createEntry(c.f.ca, { spiffeId: "spiffe://example.org/ns/demo/sa/backend", node: "node-a", workload: "backend" });
  const entries = await httpsRequest(`${c.srv.url}/v1/entries`, { ca: c.bundle, cert: node.cert, key: node.key });
  t.is(entries.status, 200);
  t.deepEqual((entries.json() as { entries: { workload: string }[] }).entries.map((e) => e.workload), ["backend"]);
  const wk = generateKeyPair();
  const signed = await httpsRequest(`${c.srv.url}/v1/sign`, { method: "POST", ca: c.bundle, cert: node.cert, key: node.key, body: JSON.stringify({ spiffe_id: "spiffe://example.org/ns/demo/sa/backend", csr: buildCsr(wk), ttl_seconds: 600 }) });
  t.is(signed.status, 200);
  const body = signed.json() as { svid_chain: string; bundle: string; expires_at: string; serial: string };
  const leaf = new X509Certificate(body.svid_chain);
  t.is(leaf.subjectAltName, "URI:spiffe://example.org/ns/demo/sa/backend");
  t.true(leaf.checkPrivateKey(wk.privateKey));
  t.true(Math.abs(Date.parse(body.expires_at) - Date.now() - 600_000) < 5000);
  t.true(body.bundle.includes("BEGIN CERTIFICATE"));
});

test.serial("sign: an ID registered to another node → 403; no client certificate → 401", async (t) => {
  const c = await setup();
  t.teardown(async () => (await c.srv.close(), c.f.cleanup()));
  const a = await attestNode(c, "node-a");
  createEntry(c.f.ca, { spiffeId: "spiffe://example.org/ns/demo/sa/db", node: "node-b", workload: "db" });
  const body = JSON.stringify({ spiffe_id: "spiffe://example.org/ns/demo/sa/db", csr: buildCsr(generateKeyPair()) });
  const wrong = await httpsRequest(`${c.srv.url}/v1/sign`, { method: "POST", ca: c.bundle, cert: a.cert, key: a.key, body });
  t.is(wrong.status, 403);
  t.is((wrong.json() as { error: { code: string } }).error.code, "forbidden");
  const anon = await httpsRequest(`${c.srv.url}/v1/sign`, { method: "POST", ca: c.bundle, body });
  t.is(anon.status, 401);
  t.is((anon.json() as { error: { code: string } }).error.code, "unauthenticated");
});

test.serial("a revoked node certificate is refused", async (t) => {
  const c = await setup();
  t.teardown(async () => (await c.srv.close(), c.f.cleanup()));
  const a = await attestNode(c);
  revoke(c.f.ca, { spiffeId: a.spiffeId }, "keyCompromise");
  const res = await httpsRequest(`${c.srv.url}/v1/entries`, { ca: c.bundle, cert: a.cert, key: a.key });
  t.is(res.status, 401);
  t.regex(res.body, /revoked/);
});

test.serial("a certificate from another CA is refused", async (t) => {
  const c = await setup();
  const other = makeCa({ trustDomain: "example.org", clock: new TestClock(Date.now()) });
  t.teardown(async () => (await c.srv.close(), c.f.cleanup(), other.cleanup()));
  const keys = generateKeyPair();
  const svid = other.ca.issue({ spiffeId: "spiffe://example.org/mesh/node/node-a", publicKey: keys.publicKey, kind: "node" });
  const cert = new X509Certificate(svid.chainDer[0]!).toString();
  const res = await httpsRequest(`${c.srv.url}/v1/entries`, { ca: c.bundle, cert, key: privateKeyToPem(keys.privateKey) });
  t.is(res.status, 401);
});

test.serial("reused token → 401; malformed JSON → 400; oversized body → 413; wrong type → 415; unknown route → 404", async (t) => {
  const c = await setup();
  t.teardown(async () => (await c.srv.close(), c.f.cleanup()));
  const a = await attestNode(c);
  const reuse = await httpsRequest(`${c.srv.url}/v1/attest`, { method: "POST", ca: c.bundle, body: JSON.stringify({ token: a.token, csr: buildCsr(generateKeyPair()) }) });
  t.is(reuse.status, 401);
  t.deepEqual((reuse.json() as { error: { code: string } }).error.code, "token_invalid");
  const bad = await httpsRequest(`${c.srv.url}/v1/attest`, { method: "POST", ca: c.bundle, body: "{not json" });
  t.is(bad.status, 400);
  t.is((bad.json() as { error: { code: string } }).error.code, "bad_json");
  const arr = await httpsRequest(`${c.srv.url}/v1/attest`, { method: "POST", ca: c.bundle, body: "[1,2]" });
  t.is(arr.status, 400);
  const huge = await httpsRequest(`${c.srv.url}/v1/attest`, { method: "POST", ca: c.bundle, body: JSON.stringify({ token: "x".repeat(100_000) }) });
  t.is(huge.status, 413);
  const type = await httpsRequest(`${c.srv.url}/v1/attest`, { method: "POST", ca: c.bundle, body: "{}", headers: { "content-type": "text/plain" } });
  t.is(type.status, 415);
  const badCsr = await httpsRequest(`${c.srv.url}/v1/attest`, { method: "POST", ca: c.bundle, body: JSON.stringify({ token: "mjt_x", csr: "garbage" }) });
  t.is(badCsr.status, 400);
  t.is((await httpsRequest(`${c.srv.url}/v1/nope`, { ca: c.bundle })).status, 404);
  t.is((await httpsRequest(`${c.srv.url}/v1/attest`, { ca: c.bundle })).status, 405);
  // and it still serves
  t.is((await httpsRequest(`${c.srv.url}/v1/bundle`, { ca: c.bundle })).status, 200);
});

test.serial("the CSR rate limit answers 429 with Retry-After", async (t) => {
  const c = await setup({ rate: 1, burst: 2 });
  t.teardown(async () => (await c.srv.close(), c.f.cleanup()));
  const a = await attestNode(c);
  createEntry(c.f.ca, { spiffeId: "spiffe://example.org/w", node: "node-a", workload: "w" });
  const body = JSON.stringify({ spiffe_id: "spiffe://example.org/w", csr: buildCsr(generateKeyPair()) });
  const statuses: number[] = [];
  let retry: string | string[] | undefined;
  for (let i = 0; i < 4; i++) {
    const r = await httpsRequest(`${c.srv.url}/v1/sign`, { method: "POST", ca: c.bundle, cert: a.cert, key: a.key, body });
    statuses.push(r.status);
    if (r.status === 429) retry = r.headers["retry-after"];
  }
  t.deepEqual(statuses.slice(0, 2), [200, 200]);
  t.true(statuses.includes(429));
  t.truthy(retry);
  t.true(Number(retry) >= 1);
});

test.serial("bundle in three forms, CRL as PEM; curl and openssl s_client talk to it over TLS 1.3", async (t) => {
  const c = await setup();
  t.teardown(async () => (await c.srv.close(), c.f.cleanup()));
  const json = (await httpsRequest(`${c.srv.url}/v1/bundle`, { ca: c.bundle })).json() as { trust_domain: string; sequence: number; pem: string; spiffe_bundle: { keys: { use: string; kty: string }[]; spiffe_sequence: number; spiffe_refresh_hint: number } };
  t.is(json.trust_domain, "example.org");
  t.is(json.spiffe_bundle.keys[0]!.use, "x509-svid");
  t.is(json.spiffe_bundle.keys[0]!.kty, "EC");
  t.is(json.spiffe_bundle.spiffe_sequence, json.sequence);
  t.true(json.spiffe_bundle.spiffe_refresh_hint > 0);
  const crl = await httpsRequest(`${c.srv.url}/v1/crl`, { ca: c.bundle });
  t.regex(crl.body, /BEGIN X509 CRL/);
  writeFileSync(join(c.f.dir, "bundle.pem"), c.bundle);
  const viaCurl = await runAsync("curl", ["-sS", "--max-time", "10", "--cacert", join(c.f.dir, "bundle.pem"), `https://localhost:${c.srv.port}/v1/bundle?format=spiffe`]);
  t.is((JSON.parse(viaCurl.stdout) as { spiffe_sequence: number }).spiffe_sequence, json.sequence);
  // TLS 1.2 is refused; TLS 1.3 verifies against the bundle (Q asks s_client to quit)
  const tls12 = await runAsync("openssl", ["s_client", "-connect", `127.0.0.1:${c.srv.port}`, "-tls1_2", "-CAfile", join(c.f.dir, "bundle.pem")], "Q\n");
  t.not(tls12.status, 0);
  const tls13 = (await runAsync("openssl", ["s_client", "-connect", `127.0.0.1:${c.srv.port}`, "-CAfile", join(c.f.dir, "bundle.pem")], "Q\n")).stdout;
  t.regex(tls13, /TLSv1\.3/);
  t.regex(tls13, /Verify return code: 0/);
});

test.serial("garbage on the socket does not stop the server", async (t) => {
  const c = await setup();
  t.teardown(async () => (await c.srv.close(), c.f.cleanup()));
  await new Promise<void>((resolve) => {
    const s = netConnect(c.srv.port, "127.0.0.1", () => s.end(Buffer.from("GET / HTTP/1.1\r\n\r\n\x00\x01\x02garbage")));
    s.on("close", () => resolve());
    s.on("error", () => resolve());
  });
  await new Promise<void>((resolve) => {
    const s = tlsConnect({ port: c.srv.port, host: "127.0.0.1", rejectUnauthorized: false }, () => s.end("NOT HTTP AT ALL\r\n\r\n"));
    let answer = "";
    s.on("data", (d: Buffer) => (answer += d.toString()));
    s.on("end", () => t.regex(answer, /^HTTP\/1\.1 400/));
    s.on("close", () => resolve());
    s.on("error", () => resolve());
  });
  t.is((await httpsRequest(`${c.srv.url}/healthz`, { ca: c.bundle })).status, 200);
});
