/**
 * `mesh ca serve` as a child process, driven with curl: readiness on an
 * ephemeral port, the public calls, node attestation and CSR signing with
 * client certificates and every refusal, and data surviving a restart.
 */
import test from "ava";
import { X509Certificate } from "node:crypto";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { removeDir, tempDir } from "../helpers/env.js";
import { attestNode, curl, exitWithin, makeCsr, mesh, ok, okJson, pemBlocks, run, startCaServe, type ServedCa } from "../helpers/mesh-cli.js";

const root = tempDir("mesh-serve-");
const servers: ServedCa[] = [];
test.after.always(() => {
  for (const s of servers) s.child.kill("SIGKILL");
  removeDir(root);
});
let n = 0;
const fresh = (name: string): string => join(root, `${name}-${++n}`);
const TD = "example.org";
const WEB = `spiffe://${TD}/ns/serve/sa/web`;

interface Fixture {
  dir: string;
  bundle: string;
  server: ServedCa;
  base: string;
  token: string;
  node: { certFile: string; keyFile: string; serial: string; chain: string };
  csr: string;
}

/** A CA with an entry for node n1, served, and n1 attested. */
async function setUp(name: string): Promise<Fixture> {
  const dir = fresh(name);
  ok(await mesh(["ca", "init", "--dir", dir, "--trust-domain", TD]), "ca init");
  ok(await mesh(["ca", "entry", "create", "--dir", dir, "--spiffe-id", WEB, "--node", "n1", "--workload", "web"]), "entry create");
  const token = okJson<{ token: string }>(await mesh(["ca", "token", "create", "--dir", dir, "--node", "n1", "--json"]), "token create").token;
  const bundle = join(dir, "bundle.pem");
  writeFileSync(bundle, ok(await mesh(["ca", "bundle", "--dir", dir]), "ca bundle").stdout);
  const server = await startCaServe(dir, join(dir, "ready.json"));
  servers.push(server);
  const base = `https://localhost:${server.port}`;
  const node = await attestNode(base, bundle, token, dir, "node");
  const { csr } = await makeCsr(dir, "workload");
  return { dir, bundle, server, base, token, node: { certFile: node.certFile, keyFile: node.keyFile, serial: node.svid.serial, chain: node.svid.svid_chain }, csr };
}

let fx: Fixture;
test.before(async () => {
  fx = await setUp("main");
});

const errorCode = (body: string): string | undefined => (JSON.parse(body) as { error?: { code?: string } }).error?.code;

test("--listen 127.0.0.1:0 writes the real port to the ready file", async (t) => {
  const { server } = fx;
  t.true(server.port > 0 && server.port < 65536);
  t.is(server.url, `https://127.0.0.1:${server.port}`);
  const health = await curl(`${fx.base}/healthz`, { cacert: fx.bundle });
  t.is(health.status, 200, health.stderr);
  t.deepEqual(JSON.parse(health.body), { status: "ok" });
});

test("GET /v1/bundle and /v1/crl over HTTPS, checked against the bundle", async (t) => {
  const bundlePem = ok(await mesh(["ca", "bundle", "--dir", fx.dir])).stdout;
  const json = await curl(`${fx.base}/v1/bundle`, { cacert: fx.bundle });
  t.is(json.status, 200, json.stderr);
  const b = JSON.parse(json.body) as { trust_domain: string; pem: string; spiffe_bundle: { keys: unknown[] } };
  t.is(b.trust_domain, TD);
  t.is(b.pem, bundlePem);
  t.is(b.spiffe_bundle.keys.length, 1);
  const pem = await curl(`${fx.base}/v1/bundle?format=pem`, { cacert: fx.bundle });
  t.is(pem.body, bundlePem);

  // a certificate revoked with the CLI shows up in the served CRL
  const issued = okJson<{ serial: string }>(await mesh(["ca", "issue", "--dir", fx.dir, "--spiffe-id", `spiffe://${TD}/ns/serve/sa/revoked`, "--out-dir", fresh("out"), "--json"]));
  ok(await mesh(["ca", "revoke", "--dir", fx.dir, "--serial", issued.serial, "--reason", "superseded"]));
  const crl = await curl(`${fx.base}/v1/crl`, { cacert: fx.bundle });
  t.is(crl.status, 200);
  const text = await run("openssl", ["crl", "-noout", "-text", "-CAfile", fx.bundle], { input: crl.body });
  t.is(text.status, 0, text.stderr);
  t.regex(text.stdout + text.stderr, /verify OK/);
  t.regex(text.stdout, new RegExp(`Serial Number: 0*${issued.serial.replace(/^0+/, "").toUpperCase()}\\b`));
  t.regex(text.stdout, /Superseded/);

  // the server's certificate is checked: a different trust anchor fails the handshake
  const other = join(fx.dir, "other-root.pem");
  ok(await run("openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", join(fx.dir, "other.key"), "-out", other, "-days", "1", "-subj", "/CN=other"]));
  const untrusted = await curl(`${fx.base}/v1/bundle`, { cacert: other });
  t.is(untrusted.status, 0);
  t.not(untrusted.exit, 0);
});

test("POST /v1/attest gave node n1 its SVID; the token cannot be used again", async (t) => {
  const chain = pemBlocks(fx.node.chain);
  t.is(chain.length, 1);
  t.is(new X509Certificate(chain[0]!).subjectAltName, `URI:spiffe://${TD}/mesh/node/n1`);
  const verify = await run("openssl", ["verify", "-x509_strict", "-CAfile", fx.bundle, fx.node.certFile]);
  t.is(verify.status, 0, verify.stderr);

  const { csr } = await makeCsr(fx.dir, "replay");
  const reused = await curl(`${fx.base}/v1/attest`, { cacert: fx.bundle, body: JSON.stringify({ token: fx.token, csr }) });
  t.is(reused.status, 401);
  t.is(errorCode(reused.body), "token_invalid");
  const unknown = await curl(`${fx.base}/v1/attest`, { cacert: fx.bundle, body: JSON.stringify({ token: "mjt_not-a-real-token", csr }) });
  t.is(unknown.status, 401);
});

test("POST /v1/sign: 200 for a registered ID with the node's client certificate", async (t) => {
  const r = await curl(`${fx.base}/v1/sign`, { cacert: fx.bundle, cert: fx.node.certFile, key: fx.node.keyFile, body: JSON.stringify({ spiffe_id: WEB, csr: fx.csr }) });
  t.is(r.status, 200, r.body + r.stderr);
  const svid = JSON.parse(r.body) as { spiffe_id: string; serial: string; svid_chain: string };
  t.is(svid.spiffe_id, WEB);
  const leafFile = join(fx.dir, "web.pem");
  writeFileSync(leafFile, svid.svid_chain);
  t.is(new X509Certificate(pemBlocks(svid.svid_chain)[0]!).subjectAltName, `URI:${WEB}`);
  const verify = await run("openssl", ["verify", "-x509_strict", "-CAfile", fx.bundle, leafFile]);
  t.is(verify.status, 0, verify.stderr);
  const list = okJson<{ certificates: { serial: string; kind: string; spiffe_id: string }[] }>(await mesh(["ca", "list", "--dir", fx.dir, "--json"]));
  t.like(list.certificates.find((c) => c.serial === svid.serial), { kind: "workload", spiffe_id: WEB });
});

test("POST /v1/sign refusals: 403 unregistered, 401 without a client cert, 400 bad JSON, 413 too large", async (t) => {
  const mtls = { cacert: fx.bundle, cert: fx.node.certFile, key: fx.node.keyFile };
  const unregistered = await curl(`${fx.base}/v1/sign`, { ...mtls, body: JSON.stringify({ spiffe_id: `spiffe://${TD}/ns/serve/sa/other`, csr: fx.csr }) });
  t.is(unregistered.status, 403);
  t.is(errorCode(unregistered.body), "forbidden");

  const anonymous = await curl(`${fx.base}/v1/sign`, { cacert: fx.bundle, body: JSON.stringify({ spiffe_id: WEB, csr: fx.csr }) });
  t.is(anonymous.status, 401);
  t.is(errorCode(anonymous.body), "unauthenticated");

  const badJson = await curl(`${fx.base}/v1/sign`, { ...mtls, body: '{"spiffe_id": ' });
  t.is(badJson.status, 400);
  t.is(errorCode(badJson.body), "bad_json");

  const huge = await curl(`${fx.base}/v1/sign`, { ...mtls, body: JSON.stringify({ spiffe_id: WEB, csr: "A".repeat(100 * 1024) }) });
  t.is(huge.status, 413);
  t.is(errorCode(huge.body), "body_too_large");

  // a workload certificate is not a node identity
  const out = fresh("wl");
  ok(await mesh(["ca", "issue", "--dir", fx.dir, "--spiffe-id", WEB, "--out-dir", out]));
  const notNode = await curl(`${fx.base}/v1/sign`, { cacert: fx.bundle, cert: join(out, "svid.pem"), key: join(out, "svid.key"), body: JSON.stringify({ spiffe_id: WEB, csr: fx.csr }) });
  t.is(notNode.status, 403);

  // the server is still up and serving
  const health = await curl(`${fx.base}/healthz`, { cacert: fx.bundle });
  t.is(health.status, 200);
});

test("SIGTERM stops the server with exit 0; after a restart the issued certificates and the node are still known", async (t) => {
  const s = await setUp("restart");
  const mtls = { cacert: s.bundle, cert: s.node.certFile, key: s.node.keyFile };
  const signed = await curl(`${s.base}/v1/sign`, { ...mtls, body: JSON.stringify({ spiffe_id: WEB, csr: s.csr }) });
  t.is(signed.status, 200, signed.body);
  const serial = (JSON.parse(signed.body) as { serial: string }).serial;

  s.server.child.kill("SIGTERM");
  const exit = await exitWithin(s.server.exited, 5_000);
  t.deepEqual(exit, { code: 0, signal: null }, s.server.stderr());
  const down = await curl(`${s.base}/healthz`, { cacert: s.bundle });
  t.is(down.status, 0, "nothing listens any more");

  const again = await startCaServe(s.dir, join(s.dir, "ready-2.json"));
  servers.push(again);
  const base = `https://localhost:${again.port}`;
  const list = okJson<{ certificates: { serial: string }[] }>(await mesh(["ca", "list", "--dir", s.dir, "--json"]));
  const serials = list.certificates.map((c) => c.serial);
  t.true(serials.includes(serial), "the workload certificate issued before the restart");
  t.true(serials.includes(s.node.serial), "the node certificate issued before the restart");

  // the node certificate is still accepted, and the spent token still refused
  const renewed = await curl(`${base}/v1/sign`, { ...mtls, body: JSON.stringify({ spiffe_id: WEB, csr: s.csr }) });
  t.is(renewed.status, 200, renewed.body);
  const reused = await curl(`${base}/v1/attest`, { cacert: s.bundle, body: JSON.stringify({ token: s.token, csr: s.csr }) });
  t.is(reused.status, 401);

  again.child.kill("SIGTERM");
  t.deepEqual(await exitWithin(again.exited, 5_000), { code: 0, signal: null });
});
