/**
 * `mesh agent` end to end with real processes: a served CA, the agent, and
 * SDS clients in this process. Identity delivery, restart after SIGKILL,
 * revocation reaching the CRL, denials, and entries coming and going.
 * Each test has its own CA and agent so they run concurrently.
 */
import test, { type ExecutionContext } from "ava";
import { createPrivateKey } from "node:crypto";
import { existsSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { AuditLog } from "../../audit/store.js";
import { parseCrl } from "../../pki/crl.js";
import { normalizeSerial } from "../../pki/serial.js";
import { removeDir, tempDir } from "../helpers/env.js";
import { mesh, ok } from "../helpers/mesh-cli.js";
import { Children, TD, adminGet, createEntry, idOf, leafOf, metricValue, setUpCa, startAgent, waitFor, watchSds, type CaOptions } from "../helpers/agent-env.js";

const root = tempDir("mesh-agent-e2e-");
test.after.always(() => removeDir(root));
let n = 0;

/** A per-test directory and child list, cleaned up when the test ends. */
function scope(t: ExecutionContext, name: string): { dir: string; children: Children; clients: { stop(): Promise<void> }[] } {
  const dir = join(root, `${name}-${++n}`);
  const children = new Children();
  const clients: { stop(): Promise<void> }[] = [];
  t.teardown(async () => {
    await Promise.all(clients.map((c) => c.stop()));
    children.killAll();
  });
  return { dir, children, clients };
}

async function setUp(t: ExecutionContext, name: string, o: CaOptions) {
  const s = scope(t, name);
  const fx = await setUpCa(s.dir, s.children, o);
  return { ...s, fx };
}

test("the agent hands the registered identity to an SDS client; admin /ready and /metrics", async (t) => {
  const { fx, children, clients } = await setUp(t, "identity", { workloads: ["web"] });
  const agent = await startAgent(fx, children);
  const sock = join(agent.sdsDir, "web.sock");
  await waitFor(() => existsSync(sock), 15_000, "web.sock");
  t.is(statSync(sock).mode & 0o777, 0o600);

  const w = watchSds(sock);
  clients.push(w.client);
  const got = await waitFor(() => w.updates.find((u) => leafOf(u.secrets)), 15_000, "an identity");
  const leaf = leafOf(got.secrets)!;
  t.is(leaf.subjectAltName, `URI:${idOf("web")}`);
  t.true(leaf.checkPrivateKey(createPrivateKey(got.secrets.default!.privateKeyPem)), "the key matches the certificate");
  t.true(new Date(leaf.validTo).getTime() > Date.now());
  t.is(got.secrets.ROOTCA?.trustedCaPem, fx.bundlePem);

  await waitFor(async () => (await adminGet(agent.adminPort, "/ready")).status === 200, 10_000, "/ready 200");
  const metrics = await adminGet(agent.adminPort, "/metrics");
  t.is(metrics.status, 200);
  const expiry = metricValue(metrics.body, "mesh_agent_identity_expiry_timestamp_seconds", { spiffe_id: idOf("web"), kind: "workload" });
  t.truthy(expiry);
  t.true(expiry! * 1000 > Date.now());
  t.is(await adminGet(agent.adminPort, "/nope").then((r) => r.status), 404);
});

test("after SIGKILL the agent restarts without a token on its saved node identity; the client reconnects", async (t) => {
  const { fx, children, clients } = await setUp(t, "restart", { workloads: ["web"] });
  const first = await startAgent(fx, children);
  const sock = join(first.sdsDir, "web.sock");
  await waitFor(() => existsSync(sock), 15_000, "web.sock");
  const w = watchSds(sock);
  clients.push(w.client);
  const before = await waitFor(() => leafOf(w.client.current()?.secrets), 15_000, "a first identity");

  const nodeBefore = (JSON.parse((await adminGet(first.adminPort, "/status")).body) as { node: { serial: string } | null }).node?.serial;
  t.truthy(nodeBefore);
  first.child.kill("SIGKILL");
  await first.exited;
  await waitFor(() => w.disconnects.length > 0, 5_000, "the client to notice");
  t.is(leafOf(w.client.current()?.secrets)?.serialNumber, before.serialNumber, "the client keeps its last identity meanwhile");

  const second = await startAgent(fx, children, { token: false });
  const after = await waitFor(() => {
    const leaf = leafOf(w.client.current()?.secrets);
    return leaf && leaf.serialNumber !== before.serialNumber ? leaf : undefined;
  }, 20_000, "a new identity after the restart");
  t.is(after.subjectAltName, `URI:${idOf("web")}`);
  const again = JSON.parse((await adminGet(second.adminPort, "/status")).body) as { node: { spiffe_id: string; serial: string } | null };
  t.is(again.node?.spiffe_id, `spiffe://${TD}/mesh/node/n1`);
  // the 1 h node certificate saved before the kill, loaded from the data dir: no token was needed
  t.is(normalizeSerial(again.node?.serial ?? "0"), normalizeSerial(nodeBefore!));
  t.false(second.log().includes("node attestation failed"), second.log());
});

test("a revoked workload serial shows up in the CRL the client receives", async (t) => {
  const { fx, children, clients } = await setUp(t, "revoke", { workloads: ["web"] });
  const agent = await startAgent(fx, children);
  const sock = join(agent.sdsDir, "web.sock");
  await waitFor(() => existsSync(sock), 15_000, "web.sock");
  const w = watchSds(sock);
  clients.push(w.client);
  const leaf = await waitFor(() => leafOf(w.client.current()?.secrets), 15_000, "an identity");
  const serial = normalizeSerial(leaf.serialNumber);
  const crlHas = (pem: string | undefined): boolean => pem !== undefined && parseCrl(pem).revoked.has(serial);
  t.false(crlHas(w.client.current()?.secrets.ROOTCA?.crlPem), "not revoked yet");

  ok(await mesh(["ca", "revoke", "--dir", fx.caDir, "--spiffe-id", idOf("web"), "--reason", "keyCompromise"]), "ca revoke");
  const crl = await waitFor(() => {
    const pem = w.client.current()?.secrets.ROOTCA?.crlPem;
    return crlHas(pem) ? pem : undefined;
  }, 10_000, "the revoked serial in the client's CRL");
  t.is(parseCrl(crl!).revoked.get(serial)?.reason, "keyCompromise");
});

test("app tokens: a wrong token is refused and audited; a client on another socket only gets that workload's ID", async (t) => {
  const { fx, children, clients } = await setUp(t, "denied", { workloads: ["web", "backend"] });
  const tokenFile = join(fx.dir, "backend.token");
  writeFileSync(tokenFile, "right-token-0123456789\n", { mode: 0o600 });
  const agent = await startAgent(fx, children, { config: { workloads: { backend: { app_token_file: tokenFile } } } });
  const backendSock = join(agent.sdsDir, "backend.sock");
  const webSock = join(agent.sdsDir, "web.sock");
  await waitFor(() => existsSync(backendSock) && existsSync(webSock), 15_000, "both sockets").catch((e: Error) => {
    throw new Error(`${e.message}: ${agent.log()}`);
  });

  const wrong = watchSds(backendSock, "wrong-token-0123456789");
  const none = watchSds(backendSock);
  const right = watchSds(backendSock, "right-token-0123456789");
  const web = watchSds(webSock);
  clients.push(wrong.client, none.client, right.client, web.client);

  const good = await waitFor(() => leafOf(right.client.current()?.secrets), 15_000, "backend identity with the right token");
  t.is(good.subjectAltName, `URI:${idOf("backend")}`);
  const webLeaf = await waitFor(() => leafOf(web.client.current()?.secrets), 15_000, "web identity");
  t.is(webLeaf.subjectAltName, `URI:${idOf("web")}`);
  await waitFor(() => wrong.disconnects.length >= 2 && none.disconnects.length >= 2, 10_000, "refused clients to retry");
  t.is(wrong.updates.length, 0);
  t.is(none.updates.length, 0);
  for (const u of web.updates) {
    const l = leafOf(u.secrets);
    if (l) t.is(l.subjectAltName, `URI:${idOf("web")}`);
  }

  const audit = AuditLog.open(join(agent.dataDir, "audit.db"), { readonly: true });
  try {
    const denied = [...audit.query({ component: "sds" })].filter((e) => e.action === "sds.connection_denied");
    t.true(denied.length >= 2, JSON.stringify(denied));
    t.true(denied.every((e) => e.subject === "backend" && e.outcome === "deny"));
    t.false(JSON.stringify(denied).includes("wrong-token-0123456789"), "the token is never logged");
  } finally {
    audit.close();
  }
});

test("entries created at the CA appear as sockets; a deleted entry's socket goes away", async (t) => {
  const { fx, children, clients } = await setUp(t, "entries", { workloads: ["web"] });
  const agent = await startAgent(fx, children);
  const apiSock = join(agent.sdsDir, "api.sock");
  await waitFor(() => existsSync(join(agent.sdsDir, "web.sock")), 15_000, "web.sock");
  t.false(existsSync(apiSock));

  const id = await createEntry(fx.caDir, "api");
  await waitFor(() => existsSync(apiSock), 8_000, "api.sock after the entry was created");
  const w = watchSds(apiSock);
  clients.push(w.client);
  const leaf = await waitFor(() => leafOf(w.client.current()?.secrets), 15_000, "api identity");
  t.is(leaf.subjectAltName, `URI:${idOf("api")}`);

  ok(await mesh(["ca", "entry", "delete", "--dir", fx.caDir, "--id", id]), "entry delete");
  await waitFor(() => !existsSync(apiSock), 8_000, "api.sock to disappear");
  t.true(existsSync(join(agent.sdsDir, "web.sock")), "the other workload is untouched");
  await waitFor(() => w.disconnects.length > 0, 5_000, "the api client to be disconnected");
  t.pass();
});
