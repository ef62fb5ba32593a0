/**
 * Two sidecar processes in a row: the app's plain HTTP → frontend's outbound
 * listener → mTLS (secure naming) → backend's inbound listener → app.
 * Covers the XFCC the app sees, a cluster expecting another SPIFFE ID,
 * WebSocket tunnelling, identity rotation under load, and revocation of a
 * live peer.
 */
import test from "ava";
import { X509Certificate } from "node:crypto";
import { Agent } from "node:http";
import { connect as tlsConnect } from "node:tls";
import { readFileSync } from "node:fs";
import WebSocket, { WebSocketServer } from "ws";
import {
  adminGet,
  errorCode,
  httpCall,
  idOf,
  listenerOf,
  metricValue,
  principalOf,
  ProxyEnv,
  sleep,
  waitFor,
  type App,
  type RunningProxy,
  type Svid,
  type Target,
} from "../helpers/proxy-env.js";

interface Ctx {
  env: ProxyEnv;
  app: App;
  wsApp: App;
  backend: RunningProxy;
  frontend: RunningProxy;
  inbound: Target;
  outbound: Target;
}

let ctx: Ctx;

test.before(async () => {
  const env = ProxyEnv.create();
  try {
    const app = await env.startApp();
    const wsApp = await env.startApp();
    const wss = new WebSocketServer({ server: wsApp.server });
    wss.on("connection", (ws, req) => {
      ws.send(`hello ${String(req.headers["x-forwarded-client-cert"] ?? "")}`);
      ws.on("message", (data, isBinary) => ws.send(data, { binary: isBinary }));
    });
    await env.workload("backend");
    await env.workload("frontend");
    env.publish("backend");
    env.publish("frontend");
    const backend = await env.startProxy(
      env.proxyConfig(
        "backend",
        [
          {
            name: "inbound",
            kind: "inbound",
            filters: [{ authz: { policies: [{ name: "frontend-only", rules: [{ from: [{ source: { principals: [principalOf("frontend")] } }] }] }] } }],
            routes: [
              { name: "ws", match: { path: { prefix: "/ws" } }, cluster: "ws-app" },
              { name: "app", match: { path: { prefix: "/" } }, cluster: "app" },
            ],
          },
        ],
        [
          { name: "app", endpoints: [app.address] },
          { name: "ws-app", endpoints: [wsApp.address] },
        ],
      ),
    );
    const inbound = listenerOf(backend, "inbound");
    const backendAddress = `${inbound.host}:${inbound.port}`;
    const frontend = await env.startProxy(
      env.proxyConfig(
        "frontend",
        [
          {
            name: "outbound",
            kind: "outbound",
            routes: [
              { name: "ws", match: { path: { prefix: "/ws" } }, cluster: "backend" },
              { name: "impostor", match: { hosts: ["impostor"] }, cluster: "impostor" },
              { name: "backend", match: { hosts: ["backend"] }, cluster: "backend" },
            ],
          },
        ],
        [
          { name: "backend", endpoints: [backendAddress], spiffe_id: idOf("backend") },
          // the same sidecar, but this cluster expects another service's identity
          { name: "impostor", endpoints: [backendAddress], spiffe_id: idOf("payments") },
        ],
      ),
    );
    ctx = { env, app, wsApp, backend, frontend, inbound, outbound: listenerOf(frontend, "outbound") };
  } catch (err) {
    await env.close();
    throw err;
  }
});

test.after.always(async () => {
  await ctx?.env.close();
});

const toBackend = (path: string, agent?: Agent) => httpCall(ctx.outbound, { path, headers: { host: "backend" }, agent });
const hitsOn = (path: string): number => ctx.app.hits.filter((h) => h.url === path).length;
const certHash = (svid: Svid): string => new X509Certificate(svid.chainPem).fingerprint256.replaceAll(":", "").toLowerCase();
const certs = async (p: RunningProxy) => (JSON.parse((await adminGet(p, "/certs")).body) as { identity: { serial: string; spiffe_id: string } }).identity;

test.serial("outbound → mTLS → inbound → app: the app sees the frontend's SPIFFE ID, not one the local app forged", async (t) => {
  const r = await httpCall(ctx.outbound, { path: "/greet", headers: { host: "backend", "x-forwarded-client-cert": `URI=${idOf("admin")}` } });
  t.is(r.status, 200, r.body);
  const seen = JSON.parse(r.body) as { url: string; headers: Record<string, string> };
  t.is(seen.url, "/greet");
  const xfcc = seen.headers["x-forwarded-client-cert"]!;
  t.true(xfcc.split(";").includes(`URI=${idOf("frontend")}`), xfcc);
  t.false(xfcc.includes(idOf("admin")), xfcc);
});

test.serial("secure naming: a cluster expecting another SPIFFE ID is refused before any byte reaches the peer", async (t) => {
  const r = await httpCall(ctx.outbound, { path: "/impostor", headers: { host: "impostor" } });
  t.true(r.status === 503 || r.status === 502, `status ${r.status}: ${r.body}`);
  t.is(errorCode(r.body), "peer_identity_mismatch", r.body);
  t.is(hitsOn("/impostor"), 0);
  const metrics = (await adminGet(ctx.frontend, "/metrics")).body;
  t.true((metricValue(metrics, "mesh_proxy_handshake_failures_total", { reason: "peer_identity_mismatch" }) ?? 0) >= 1, metrics);
});

test.serial("WebSocket echo through both sidecars", async (t) => {
  const fe = await currentFrontend();
  const ws = new WebSocket(`ws://${ctx.outbound.host}:${ctx.outbound.port}/ws/echo`, { handshakeTimeout: 5000 });
  const received: Buffer[] = [];
  const opened = new Promise<void>((resolve, reject) => {
    ws.once("open", () => resolve());
    ws.once("error", reject);
    ws.once("unexpected-response", (_req, res) => reject(new Error(`upgrade refused: ${res.statusCode}`)));
  });
  ws.on("message", (d: Buffer) => received.push(d));
  t.teardown(() => ws.terminate());
  await opened;
  for (const m of ["one", "two", "three"]) ws.send(m);
  ws.send(Buffer.from([0, 1, 2, 255]), { binary: true });
  await waitFor(() => received.length >= 5, 5000, "five WebSocket messages");
  // the backend's sidecar told the app who is calling, on the upgrade request
  t.is(received[0]!.toString(), `hello By=${idOf("backend")};Hash=${certHash(fe)};URI=${idOf("frontend")}`);
  t.deepEqual(received.slice(1, 4).map((b) => b.toString()), ["one", "two", "three"]);
  t.deepEqual([...received[4]!], [0, 1, 2, 255]);
  const closed = new Promise<number>((r) => ws.once("close", (code) => r(code)));
  ws.close(1000, "done");
  t.is(await waitFor(() => Promise.race([closed, sleep(100).then(() => undefined)]), 5000, "the close handshake"), 1000);
});

/** The frontend's identity as published (read back from its /certs serial). */
async function currentFrontend(): Promise<Svid> {
  const serial = (await certs(ctx.frontend)).serial.toLowerCase();
  return ctx.env.svidOf(serial);
}

test.serial("rotation in place: new identities every 2 s under continuous traffic, no request fails", async (t) => {
  const agent = new Agent({ keepAlive: true, maxSockets: 4 });
  t.teardown(() => agent.destroy());
  const failures: string[] = [];
  let ok = 0;
  let running = true;
  const worker = async (): Promise<void> => {
    while (running) {
      try {
        const r = await toBackend("/rotate", agent);
        if (r.status === 200) ok++;
        else failures.push(`${r.status} ${r.body}`);
      } catch (err) {
        failures.push(String(err));
      }
    }
  };
  const workers = [worker(), worker(), worker()];
  let latest: { frontend: Svid; backend: Svid } | undefined;
  for (let i = 0; i < 3; i++) {
    await sleep(2000);
    latest = { frontend: ctx.env.publish("frontend"), backend: ctx.env.publish("backend") };
  }
  await sleep(1500);
  running = false;
  await Promise.all(workers);
  t.deepEqual(failures, []);
  t.true(ok > 100, `only ${ok} requests went through`);
  t.is((await certs(ctx.frontend)).serial.toLowerCase(), latest!.frontend.serial.toLowerCase());
  t.is((await certs(ctx.backend)).serial.toLowerCase(), latest!.backend.serial.toLowerCase());
  // the last requests travelled on connections made with the newest frontend certificate
  const last = ctx.app.hits.filter((h) => h.url === "/rotate").at(-1)!;
  t.true(String(last.headers["x-forwarded-client-cert"]).includes(`Hash=${certHash(latest!.frontend)}`), String(last.headers["x-forwarded-client-cert"]));
});

test.serial("revoking a live peer: its connections are closed and it is refused until it has a fresh identity", async (t) => {
  const victim = await currentFrontend();
  // a live connection of our own, made with the frontend's certificate
  const sock = tlsConnect({ host: ctx.inbound.host, port: ctx.inbound.port, cert: readFileSync(victim.certFile), key: readFileSync(victim.keyFile), rejectUnauthorized: false });
  t.teardown(() => sock.destroy());
  let reply = "";
  sock.on("data", (d: Buffer) => (reply += d.toString()));
  sock.on("error", () => undefined);
  const sockClosed = new Promise<void>((r) => sock.once("close", () => r()));
  await new Promise<void>((resolve, reject) => {
    sock.once("secureConnect", () => resolve());
    sock.once("error", reject);
  });
  sock.write("GET /live HTTP/1.1\r\nhost: backend\r\n\r\n");
  await waitFor(() => reply.startsWith("HTTP/1.1 200"), 5000, "the live connection's first response");
  // and the frontend's pooled connection
  t.is((await toBackend("/before")).status, 200);

  ctx.env.revoke(victim.serial);
  await waitFor(() => sockClosed.then(() => true), 5000, "the backend to close the revoked peer's connection");
  const metrics = (await adminGet(ctx.backend, "/metrics")).body;
  t.true((metricValue(metrics, "mesh_proxy_connections_closed_total", { reason: "revoked" }) ?? 0) >= 2, metrics);

  const hitsBefore = ctx.app.hits.length;
  for (let i = 0; i < 3; i++) {
    const r = await toBackend("/while-revoked");
    t.not(r.status, 200, r.body);
  }
  t.is(ctx.app.hits.length, hitsBefore, "nothing from the revoked peer reached the app");

  ctx.env.publish("frontend");
  const back = await waitFor(async () => {
    const r = await toBackend("/after");
    return r.status === 200 ? r : undefined;
  }, 10_000, "the frontend to get through with a fresh identity");
  t.is(back.status, 200);
});

test.serial("revoking the server side: the frontend drops its pooled connections and will not connect until the backend is re-issued", async (t) => {
  t.is((await toBackend("/pooled")).status, 200);
  const backendSvid = ctx.env.svidOf((await certs(ctx.backend)).serial);
  const closedBefore = metricValue((await adminGet(ctx.frontend, "/metrics")).body, "mesh_proxy_connections_closed_total", { reason: "revoked" }) ?? 0;
  ctx.env.revoke(backendSvid.serial);
  await waitFor(
    async () => (metricValue((await adminGet(ctx.frontend, "/metrics")).body, "mesh_proxy_connections_closed_total", { reason: "revoked" }) ?? 0) > closedBefore,
    5000,
    "the frontend to close its connection to the revoked backend",
  );
  const hitsBefore = ctx.app.hits.length;
  const r = await toBackend("/to-revoked");
  t.true(r.status === 502 || r.status === 503, `${r.status} ${r.body}`);
  t.is(errorCode(r.body), "peer_invalid", r.body);
  t.is(ctx.app.hits.length, hitsBefore);

  ctx.env.publish("backend");
  const back = await waitFor(async () => {
    const x = await toBackend("/after-reissue");
    return x.status === 200 ? x : undefined;
  }, 10_000, "the frontend to reach the re-issued backend");
  t.is(back.status, 200);
});
