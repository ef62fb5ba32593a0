/**
 * Graceful drain of a `mesh proxy` process: SIGTERM while a slow request is
 * in flight lets that request finish, refuses new connections, and exits 0.
 */
import test from "ava";
import { Agent } from "node:http";
import { connect } from "node:net";
import { delayedEcho, httpCall, type HttpResult, listenerOf, ProxyEnv, terminate, waitFor, type App, type RunningProxy, type Target } from "../helpers/proxy-env.js";

let env: ProxyEnv;
let app: App;

test.before(async () => {
  env = ProxyEnv.create();
  app = await env.startApp(delayedEcho(1000));
  await env.workload("drainer");
  env.publish("drainer");
});

test.after.always(async () => {
  await env?.close();
});

const startDrainer = (): Promise<RunningProxy> =>
  env.startProxy(env.proxyConfig("drainer", [{ name: "outbound", kind: "outbound", routes: [{ name: "app", cluster: "app" }] }], [{ name: "app", endpoints: [app.address] }]));

function connectError(to: Target): Promise<string | undefined> {
  return new Promise((resolve) => {
    const s = connect({ host: to.host, port: to.port });
    s.once("connect", () => {
      s.destroy();
      resolve(undefined);
    });
    s.once("error", (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
  });
}

/** Starts a slow request, waits until the app has it, then sends SIGTERM. */
async function drainWithRequestInFlight(path: string, agent: Agent) {
  const proxy = await startDrainer();
  const out = listenerOf(proxy, "outbound");
  const started = Date.now();
  // settled either way, so a failure shows up as an assertion rather than an unhandled rejection
  const inFlight = httpCall(out, { path, agent }).then(
    (r) => r,
    (err: Error) => ({ status: 0, headers: {}, body: `request failed: ${err.message}` }) as HttpResult,
  );
  await waitFor(() => app.hits.some((h) => h.url === path), 5000, "the app to receive the slow request");
  const exit = terminate(proxy, 10_000);
  return { proxy, out, started, inFlight, exit };
}

test.serial("SIGTERM drains: the request in flight completes with 200, new connections are refused, exit 0", async (t) => {
  const agent = new Agent({ keepAlive: true });
  t.teardown(() => agent.destroy());
  const d = await drainWithRequestInFlight("/slow", agent);
  const refused = await waitFor(async () => (await connectError(d.out)) ?? false, 5000, "the listener to stop accepting").catch((err: Error) => err.message);
  // a connection that raced the close may be accepted by the kernel and reset rather than refused: either way it is not served
  t.true(refused === "ECONNREFUSED" || refused === "ECONNRESET", String(refused));
  const r = await d.inFlight;
  t.is(r.status, 200, r.body);
  t.is((JSON.parse(r.body) as { url: string }).url, "/slow");
  t.true(Date.now() - d.started >= 950);
  t.deepEqual(await d.exit, { code: 0, signal: null }, d.proxy.log());
});

test.serial("a response written while draining tells a kept-alive client to close the connection", async (t) => {
  const agent = new Agent({ keepAlive: true });
  t.teardown(() => agent.destroy());
  const d = await drainWithRequestInFlight("/slow-keepalive", agent);
  const r = await d.inFlight;
  t.is(r.status, 200, r.body);
  t.deepEqual(await d.exit, { code: 0, signal: null }, d.proxy.log());
  // otherwise the client may reuse a connection the proxy is about to close
  t.is(r.headers.connection, "close");
});
