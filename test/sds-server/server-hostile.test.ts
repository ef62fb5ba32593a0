/** Socket permissions, the app token, and hostile or broken clients: each is closed or dropped, nobody else is disturbed. */
import test, { type ExecutionContext } from "ava";
import { spawnSync } from "node:child_process";
import { existsSync, lstatSync, mkdirSync, statSync, writeFileSync, readFileSync } from "node:fs";
import { connect } from "node:net";
import { join } from "node:path";
import { SdsError } from "../../sds-server/errors.js";
import { SdsServer } from "../../sds-server/server.js";
import { RawClient, SECRET_TYPE_URL, harness, scratch, secrets, sleep, waitFor, type Harness } from "./helpers.js";

const TOKEN = "app-token-0123456789abcdef";

/** A served workload plus one well-behaved client already holding version 1. */
async function servedWith(t: ExecutionContext, opts: Parameters<typeof harness>[0] = {}): Promise<{ h: Harness; good: RawClient }> {
  const h = harness(opts);
  t.teardown(h.cleanup);
  await h.server.addWorkload("web");
  h.server.setSecrets("web", secrets("a"));
  const good = await RawClient.connect(h.path("web"));
  good.request();
  good.ack(await good.next());
  return { h, good };
}

/** The well-behaved client still gets pushes. */
async function stillServed(h: Harness, good: RawClient, tag: string): Promise<boolean> {
  h.server.setSecrets("web", secrets(tag));
  const r = await good.next();
  good.ack(r);
  return JSON.stringify(r).includes(`leaf-${tag}`);
}

test("the socket is created 0600 in a 0700 directory, replacing a stale socket but nothing else", async (t) => {
  const base = scratch(t);
  const dir = join(base, "sds");
  const h = harness({}, dir);
  t.teardown(h.cleanup);
  const umask = process.umask();
  await h.server.addWorkload("web");
  t.is(process.umask(), umask); // the tightened umask was only around bind
  const st = statSync(h.path("web"));
  t.true(st.isSocket());
  t.is(st.mode & 0o777, 0o600);
  t.is(statSync(dir).mode & 0o777, 0o700);

  // A socket left by a crashed process (process.exit skips the unlink).
  const stale = h.path("stale");
  const r = spawnSync(process.execPath, ["-e", `require("net").createServer().listen(${JSON.stringify(stale)}, () => process.exit(0))`]);
  t.is(r.status, 0);
  t.true(lstatSync(stale).isSocket());
  await h.server.addWorkload("stale");
  t.is(statSync(stale).mode & 0o777, 0o600);
  const c = await RawClient.connect(stale);
  h.server.setSecrets("stale", secrets("s"));
  c.request();
  t.true(JSON.stringify(await c.next()).includes("leaf-s"));

  writeFileSync(h.path("file"), "keep me");
  await t.throwsAsync(h.server.addWorkload("file"), { instanceOf: SdsError, message: /not a socket/ });
  t.is(readFileSync(h.path("file"), "utf8"), "keep me");
  mkdirSync(h.path("adir"));
  await t.throwsAsync(h.server.addWorkload("adir"), { instanceOf: SdsError });
  t.deepEqual(h.server.workloads(), ["stale", "web"]);
});

test("the socket is chowned to the workload's uid/gid when running as root, left alone otherwise", async (t) => {
  const h = harness();
  t.teardown(h.cleanup);
  await h.server.addWorkload("owned", { uid: 4321, gid: 4322 });
  const st = statSync(h.path("owned"));
  const root = process.getuid?.() === 0;
  t.is(st.uid, root ? 4321 : (process.getuid?.() ?? -1));
  t.is(st.gid, root ? 4322 : (process.getgid?.() ?? -1));
  t.is(st.mode & 0o777, 0o600);
});

test("app token: missing or wrong is refused with 401 and an event that never holds the token; right is served", async (t) => {
  const h = harness();
  t.teardown(h.cleanup);
  await h.server.addWorkload("web", { appToken: TOKEN });
  h.server.setSecrets("web", secrets("a"));
  t.is(await RawClient.open(h.path("web")), 401);
  t.is(await RawClient.open(h.path("web"), { headers: { Authorization: `Bearer ${TOKEN}x` } }), 401);
  t.is(await RawClient.open(h.path("web"), { headers: { Authorization: `Basic ${TOKEN}` } }), 401);
  t.is(await RawClient.open(h.path("web"), { headers: { Authorization: `Bearer ${TOKEN.slice(0, -1)}` } }), 401);
  t.deepEqual(
    h.events.map((e) => (e.type === "connection_denied" ? e.reason : e.type)),
    ["missing app token", "invalid app token", "missing app token", "invalid app token"],
  );
  const c = await RawClient.connect(h.path("web"), { headers: { Authorization: `Bearer ${TOKEN}` } });
  c.request();
  t.is((await c.next()).version_info, "1");
  t.false(JSON.stringify(h.events).includes(TOKEN.slice(4, 20)));
  t.is(h.server.subscriberCount("web"), 1);
});

test("malformed frames each get their close code and reason; other clients keep being served", async (t) => {
  const { h, good } = await servedWith(t);
  const cases: { name: string; send: (c: RawClient) => void; code: number; reason?: RegExp }[] = [
    { name: "oversized", send: (c) => c.send(JSON.stringify({ type_url: SECRET_TYPE_URL, pad: "x".repeat(70 * 1024) })), code: 1009 },
    { name: "bad JSON", send: (c) => c.send('{"type_url": '), code: 1007, reason: /not valid JSON/ },
    { name: "bad UTF-8", send: (c) => c.ws.send(Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), { binary: false }), code: 1007 },
    { name: "binary", send: (c) => c.ws.send(Buffer.from("{}"), { binary: true }), code: 1003, reason: /binary/ },
    { name: "wrong type_url", send: (c) => c.send({ type_url: "type.googleapis.com/envoy.config.listener.v3.Listener", resource_names: ["default"] }), code: 1008, reason: /type_url/ },
    { name: "unknown resource", send: (c) => c.request({ resource_names: ["default", "admin-key"] }), code: 1008, reason: /not a known resource/ },
    { name: "wrong shape", send: (c) => c.send({ type_url: SECRET_TYPE_URL, resource_names: "default" }), code: 1008, reason: /array/ },
  ];
  let n = 0;
  for (const k of cases) {
    const c = await RawClient.connect(h.path("web"));
    k.send(c);
    const closed = await c.closed;
    t.is(closed.code, k.code, k.name);
    if (k.reason) t.regex(closed.reason, k.reason, k.name);
    t.true(await stillServed(h, good, `after${n++}`), k.name);
  }
  t.is(h.events.filter((e) => e.type === "protocol_error").length >= cases.length - 1, true);
  t.is(h.server.subscriberCount("web"), 1);
});

test("a client that never sends a request, or never finishes the handshake, is dropped", async (t) => {
  const { h, good } = await servedWith(t, { firstRequestTimeoutMs: 300, handshakeTimeoutMs: 300 });
  const silent = await RawClient.connect(h.path("web"));
  const closed = await silent.closed;
  t.is(closed.code, 1008);
  t.regex(closed.reason, /no DiscoveryRequest/);

  const raw = connect(h.path("web"));
  raw.on("error", () => undefined);
  raw.write("GET / HTTP/1.1\r\nHost: x\r\n"); // headers never end
  const start = Date.now();
  await new Promise<void>((resolve) => raw.on("close", () => resolve()));
  t.true(Date.now() - start < 2000);
  t.true(await stillServed(h, good, "b"));
});

test("a closed client that never answers the close frame is cut after the grace period", async (t) => {
  const { h, good } = await servedWith(t);
  const rude = await RawClient.connect(h.path("web"));
  rude.send("not json");
  rude.ws.pause(); // never reads the server's close frame, so never answers it
  const start = Date.now();
  await waitFor(() => h.events.some((e) => e.type === "disconnected"), 5000);
  t.true(Date.now() - start < 5000);
  t.true(await stillServed(h, good, "g"));
});

test("a client that never reads is dropped once its send buffer passes the bound", async (t) => {
  const { h, good } = await servedWith(t, { maxBufferedBytes: 64 * 1024, heartbeatMs: 60_000 });
  const stuck = await RawClient.connect(h.path("web"));
  stuck.request();
  await stuck.next();
  stuck.ws.pause();
  await waitFor(() => h.server.subscriberCount("web") === 2);
  let i = 0;
  while (!h.events.some((e) => e.type === "protocol_error" && /not reading/.test(e.reason))) {
    if (i > 400) throw new Error("slow reader never dropped");
    h.server.setSecrets("web", secrets(`big${i++}`, { padding: 200 * 1024 }));
    await good.next();
    await sleep(1);
  }
  await waitFor(() => h.server.subscriberCount("web") === 1);
  t.true(await stillServed(h, good, "c"));
});

test("heartbeat: a peer that stops answering pings is dropped, a live one is not", async (t) => {
  const { h, good } = await servedWith(t, { heartbeatMs: 100 });
  const deaf = await RawClient.connect(h.path("web"), { autoPong: false });
  deaf.request();
  await deaf.next();
  const closed = await deaf.closed;
  t.is(closed.code, 1006); // terminated, no close frame
  t.true(h.events.some((e) => e.type === "protocol_error" && e.reason === "heartbeat timeout"));
  await sleep(150);
  t.is(good.closeInfo, undefined);
  t.true(await stillServed(h, good, "d"));
});

test("too many clients on one workload are refused with 503 and an event", async (t) => {
  const { h, good } = await servedWith(t, { maxClientsPerWorkload: 2 });
  const second = await RawClient.connect(h.path("web"));
  t.is(await RawClient.open(h.path("web")), 503);
  t.true(h.events.some((e) => e.type === "connection_denied" && /too many clients/.test(e.reason)));
  second.close();
  await waitFor(() => h.events.filter((e) => e.type === "disconnected").length === 1);
  const third = await RawClient.connect(h.path("web"));
  third.request();
  t.is((await third.next()).version_info, "1");
  t.true(await stillServed(h, good, "e"));
});

test("plain HTTP gets 426 and nothing breaks", async (t) => {
  const { h, good } = await servedWith(t);
  const res = await new Promise<string>((resolve) => {
    const s = connect(h.path("web"));
    let data = "";
    s.on("data", (d) => (data += d.toString()));
    s.on("close", () => resolve(data));
    s.end("GET /secrets HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  });
  t.regex(res, /^HTTP\/1\.1 426/);
  const garbage = connect(h.path("web"));
  garbage.on("error", () => undefined);
  garbage.end("\x00\x01 not http at all\r\n\r\n");
  await new Promise<void>((resolve) => garbage.on("close", () => resolve()));
  t.true(await stillServed(h, good, "f"));
});

test("removeWorkload closes its clients with 1001 and unlinks the socket; other workloads are untouched", async (t) => {
  const { h, good } = await servedWith(t);
  await h.server.addWorkload("other");
  h.server.setSecrets("other", secrets("o"));
  const o = await RawClient.connect(h.path("other"));
  o.request();
  await o.next();
  const second = await RawClient.connect(h.path("web"));
  await h.server.removeWorkload("web");
  t.deepEqual(await good.closed, { code: 1001, reason: "workload removed" });
  t.is((await second.closed).code, 1001);
  t.false(existsSync(h.path("web")));
  t.deepEqual(h.server.workloads(), ["other"]);
  t.is(h.server.subscriberCount("web"), 0);
  await t.throwsAsync(RawClient.open(h.path("web")));
  t.throws(() => h.server.setSecrets("web", secrets("x")), { instanceOf: SdsError });
  h.server.setSecrets("other", secrets("o2"));
  t.true(JSON.stringify(await o.next()).includes("leaf-o2"));
  // The name can be reused at once.
  await h.server.addWorkload("web");
  t.true(existsSync(h.path("web")));
});

test("a throwing onEvent callback does not disturb the server", async (t) => {
  const dir = scratch(t);
  const server = new SdsServer({
    dir,
    onEvent: () => {
      throw new Error("callback bug");
    },
  });
  t.teardown(() => server.close());
  await server.addWorkload("web");
  server.setSecrets("web", secrets("a"));
  const c = await RawClient.connect(join(dir, "web.sock"));
  c.request();
  t.is((await c.next()).version_info, "1");
});
