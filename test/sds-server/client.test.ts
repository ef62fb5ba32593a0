/** SdsClient against the real server (and against a fake one for bad responses). */
import test from "ava";
import { createServer } from "node:http";
import { join } from "node:path";
import { WebSocketServer, type WebSocket } from "ws";
import { SdsClient, type DisconnectInfo } from "../../sds-server/client.js";
import { SdsError } from "../../sds-server/errors.js";
import { SdsServer } from "../../sds-server/server.js";
import type { DiscoveryRequest, WorkloadSecrets } from "../../sds-server/protocol.js";
import { SECRET_TYPE_URL, harness, scratch, secrets, sleep, waitFor } from "./helpers.js";

const FAST = { initialMs: 10, maxMs: 40 };

function collect(client: SdsClient): { updates: { secrets: WorkloadSecrets; version: string }[]; errors: Error[]; disconnects: DisconnectInfo[] } {
  const out = { updates: [] as { secrets: WorkloadSecrets; version: string }[], errors: [] as Error[], disconnects: [] as DisconnectInfo[] };
  client.on("update", (s, version) => out.updates.push({ secrets: s, version }));
  client.on("error", (e) => out.errors.push(e));
  client.on("disconnected", (d) => out.disconnects.push(d));
  return out;
}

test("receives, ACKs and exposes the secrets; updates only on new content", async (t) => {
  const h = harness();
  t.teardown(h.cleanup);
  await h.server.addWorkload("web");
  h.server.setSecrets("web", secrets("a", { crl: true }));
  const client = new SdsClient({ socketPath: h.path("web"), nodeId: "web", backoff: FAST });
  t.teardown(() => client.stop());
  const seen = collect(client);
  t.is(client.current(), undefined);
  client.start();
  await waitFor(() => seen.updates.length === 1);
  t.deepEqual(seen.updates[0], { secrets: secrets("a", { crl: true }), version: "1" });
  t.deepEqual(client.current(), seen.updates[0]);
  t.true(client.status().connected);
  t.truthy(client.status().lastUpdateAt);
  h.server.setSecrets("web", secrets("b"));
  await waitFor(() => seen.updates.length === 2);
  t.is(client.current()?.version, "2");
  t.deepEqual(client.current()?.secrets, secrets("b"));
  t.is(seen.errors.length, 0);
  t.false(h.events.some((e) => e.type === "nack"));
});

test("validate failures NACK: previous secrets kept, server records it, next good change applies", async (t) => {
  const h = harness();
  t.teardown(h.cleanup);
  await h.server.addWorkload("web");
  h.server.setSecrets("web", secrets("good1"));
  const client = new SdsClient({
    socketPath: h.path("web"),
    backoff: FAST,
    validate: (s) => {
      if (s.default?.certificateChainPem.includes("evil")) throw new Error("chain does not verify");
    },
  });
  t.teardown(() => client.stop());
  const seen = collect(client);
  client.start();
  await waitFor(() => seen.updates.length === 1);
  h.server.setSecrets("web", secrets("evil"));
  await waitFor(() => h.events.some((e) => e.type === "nack"));
  t.deepEqual(
    h.events.find((e) => e.type === "nack"),
    { type: "nack", workload: "web", version: "2", message: "chain does not verify" },
  );
  t.is(seen.updates.length, 1);
  t.deepEqual(client.current(), { secrets: secrets("good1"), version: "1" });
  t.regex(seen.errors[0]?.message ?? "", /chain does not verify/);
  await sleep(100);
  t.is(h.events.filter((e) => e.type === "nack").length, 1); // not resent
  h.server.setSecrets("web", secrets("good2"));
  await waitFor(() => seen.updates.length === 2);
  t.deepEqual(client.current(), { secrets: secrets("good2"), version: "3" });
});

test("subscribe() changes the set and the next update holds exactly it", async (t) => {
  const h = harness();
  t.teardown(h.cleanup);
  await h.server.addWorkload("web");
  h.server.setSecrets("web", secrets("a"));
  const client = new SdsClient({ socketPath: h.path("web"), resourceNames: ["ROOTCA"], backoff: FAST });
  t.teardown(() => client.stop());
  const seen = collect(client);
  client.start();
  await waitFor(() => seen.updates.length === 1);
  t.deepEqual(seen.updates[0]?.secrets, { ROOTCA: secrets("a").ROOTCA });
  client.subscribe(["default", "ROOTCA"]);
  await waitFor(() => seen.updates.length === 2);
  t.deepEqual(seen.updates[1]?.secrets, secrets("a"));
  t.throws(() => client.subscribe(["default", "admin"]), { instanceOf: SdsError });
  t.throws(() => new SdsClient({ socketPath: "x", resourceNames: [] }), { instanceOf: SdsError });
});

test("app token is sent; a wrong one keeps failing with back-off and never yields secrets", async (t) => {
  const h = harness();
  t.teardown(h.cleanup);
  await h.server.addWorkload("web", { appToken: "right-token-0123456789" });
  h.server.setSecrets("web", secrets("a"));
  const ok = new SdsClient({ socketPath: h.path("web"), appToken: "right-token-0123456789", backoff: FAST });
  const bad = new SdsClient({ socketPath: h.path("web"), appToken: "wrong-token-0123456789", backoff: FAST });
  t.teardown(() => Promise.all([ok.stop(), bad.stop()]).then(() => undefined));
  const okSeen = collect(ok);
  const badSeen = collect(bad);
  ok.start();
  bad.start();
  await waitFor(() => okSeen.updates.length === 1 && badSeen.disconnects.length >= 3);
  t.is(badSeen.updates.length, 0);
  t.is(bad.current(), undefined);
  t.regex(badSeen.errors[0]?.message ?? "", /401/);
  t.true(bad.status().failures >= 3);
  t.true(h.events.filter((e) => e.type === "connection_denied").length >= 3);
});

test("reconnects after the server restarts, keeping the old secrets meanwhile", async (t) => {
  const dir = scratch(t);
  const events: string[] = [];
  let server = new SdsServer({ dir, closeGraceMs: 200 });
  t.teardown(() => server.close());
  await server.addWorkload("web");
  server.setSecrets("web", secrets("before"));
  const client = new SdsClient({ socketPath: join(dir, "web.sock"), backoff: FAST });
  t.teardown(() => client.stop());
  const seen = collect(client);
  client.on("connected", () => events.push("connected"));
  client.start();
  await waitFor(() => seen.updates.length === 1);

  await server.close();
  await waitFor(() => seen.disconnects.length >= 2); // the close, then at least one failed attempt
  t.is(seen.disconnects[0]?.code, 1001);
  t.false(client.status().connected);
  t.deepEqual(client.current(), { secrets: secrets("before"), version: "1" });

  // Same content after the restart: reconnects and ACKs, but no update event.
  server = new SdsServer({ dir, closeGraceMs: 200 });
  await server.addWorkload("web");
  server.setSecrets("web", secrets("before"));
  await waitFor(() => server.subscriberCount("web") === 1);
  await sleep(50);
  t.is(seen.updates.length, 1);
  t.is(events.filter((e) => e === "connected").length, 2);
  t.is(client.status().failures, 0);

  await server.close();
  server = new SdsServer({ dir, closeGraceMs: 200 });
  await server.addWorkload("web");
  await sleep(60);
  t.deepEqual(client.current()?.secrets, secrets("before")); // connected, agent has nothing yet
  server.setSecrets("web", secrets("after"));
  await waitFor(() => seen.updates.length === 2);
  t.deepEqual(client.current(), { secrets: secrets("after"), version: "1" });
});

test("back-off grows exponentially and is capped (no real sleeping beyond tens of ms)", async (t) => {
  const dir = scratch(t);
  const client = new SdsClient({ socketPath: join(dir, "absent.sock"), backoff: { initialMs: 4, maxMs: 32 }, random: () => 0.999999 });
  const seen = collect(client);
  client.start();
  await waitFor(() => seen.disconnects.length >= 7);
  await client.stop();
  t.deepEqual(
    seen.disconnects.slice(0, 7).map((d) => d.retryInMs),
    [4, 8, 16, 32, 32, 32, 32],
  );
  t.deepEqual(
    seen.disconnects.slice(0, 3).map((d) => d.attempt),
    [1, 2, 3],
  );
  const n = seen.disconnects.length;
  await sleep(60);
  t.is(seen.disconnects.length, n); // stop() ends the retries
  t.regex(seen.errors[0]?.message ?? "", /ENOENT/);
});

test("an unhandled 'error' never throws: a client without an error listener survives failures", async (t) => {
  const client = new SdsClient({ socketPath: join(scratch(t), "absent.sock"), backoff: FAST });
  let disconnects = 0;
  client.on("disconnected", () => disconnects++);
  client.start();
  await waitFor(() => disconnects >= 2);
  await client.stop();
  t.regex(client.status().lastError ?? "", /ENOENT/);
});

/** A fake agent sending hand-written frames, to test the client's side of the wire. */
async function fakeServer(dir: string, onRequest: (ws: WebSocket, req: DiscoveryRequest, n: number) => void): Promise<() => Promise<void>> {
  const http = createServer();
  const wss = new WebSocketServer({ server: http });
  wss.on("connection", (ws) => {
    let n = 0;
    ws.on("message", (d) => onRequest(ws, JSON.parse(String(d)) as DiscoveryRequest, n++));
  });
  await new Promise<void>((resolve) => http.listen(join(dir, "fake.sock"), resolve));
  return async () => {
    for (const c of wss.clients) c.terminate();
    wss.close();
    await new Promise<void>((resolve) => http.close(() => resolve()));
  };
}

test("malformed or mismatched responses are NACKed with the reason; good ones ACKed", async (t) => {
  const dir = scratch(t);
  const requests: DiscoveryRequest[] = [];
  const good = { name: "default", tls_certificate: { certificate_chain: { inline_string: "C" }, private_key: { inline_string: "K" } } };
  const stop = await fakeServer(dir, (ws, req, n) => {
    requests.push(req);
    const frames = [
      { version_info: "1", nonce: "n1", type_url: SECRET_TYPE_URL, resources: [{ name: "default", tls_certificate: {} }] },
      { version_info: "2", nonce: "n2", type_url: SECRET_TYPE_URL, resources: [{ name: "ROOTCA", validation_context: { trusted_ca: { inline_string: "R" } } }] },
      { version_info: "3", nonce: "n3", type_url: SECRET_TYPE_URL, resources: [good] },
    ];
    if (frames[n]) ws.send(JSON.stringify(frames[n]));
  });
  t.teardown(stop);
  const client = new SdsClient({ socketPath: join(dir, "fake.sock"), resourceNames: ["default"], backoff: FAST });
  t.teardown(() => client.stop());
  const seen = collect(client);
  client.start();
  await waitFor(() => seen.updates.length === 1);
  await waitFor(() => requests.length === 4);
  t.like(requests[0], { version_info: "", response_nonce: "", resource_names: ["default"], type_url: SECRET_TYPE_URL });
  t.like(requests[1], { version_info: "", response_nonce: "n1" });
  t.regex(requests[1]?.error_detail?.message ?? "", /certificate_chain/);
  t.like(requests[2], { version_info: "", response_nonce: "n2" });
  t.regex(requests[2]?.error_detail?.message ?? "", /do not match the subscription/);
  t.deepEqual(requests[3], { type_url: SECRET_TYPE_URL, resource_names: ["default"], version_info: "3", response_nonce: "n3" });
  t.deepEqual(client.current(), { secrets: { default: { certificateChainPem: "C", privateKeyPem: "K" } }, version: "3" });
  t.is(seen.errors.length, 2);
});

test("a response without a usable nonce makes the client drop the stream and reconnect", async (t) => {
  const dir = scratch(t);
  let connections = 0;
  const stop = await fakeServer(dir, (ws, _req, n) => {
    if (n === 0) {
      connections++;
      ws.send(connections === 1 ? "not json" : JSON.stringify({ version_info: "1", nonce: "ok", type_url: SECRET_TYPE_URL, resources: [] }));
    }
  });
  t.teardown(stop);
  const client = new SdsClient({ socketPath: join(dir, "fake.sock"), resourceNames: ["default"], backoff: FAST });
  t.teardown(() => client.stop());
  const seen = collect(client);
  client.start();
  await waitFor(() => connections === 2);
  t.is(seen.disconnects[0]?.code, 1007);
  t.is(client.current(), undefined);
});
