/**
 * `mesh agent` over time with 20 s certificates: rotation delivered before
 * expiry, and a CA outage longer than a certificate's life (the agent keeps
 * what is valid, never serves an expired identity, and recovers quickly once
 * the CA is back). The two tests run concurrently, ~25 s each.
 */
import test, { type ExecutionContext } from "ava";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { removeDir, tempDir } from "../helpers/env.js";
import { Children, adminGet, idOf, leafOf, metricSum, restartCa, setUpCa, startAgent, stopCa, waitFor, watchSds } from "../helpers/agent-env.js";

const root = tempDir("mesh-agent-life-");
test.after.always(() => removeDir(root));
let n = 0;

function scope(t: ExecutionContext, name: string) {
  const dir = join(root, `${name}-${++n}`);
  const children = new Children();
  const clients: { stop(): Promise<void> }[] = [];
  t.teardown(async () => {
    await Promise.all(clients.map((c) => c.stop()));
    children.killAll();
  });
  return { dir, children, clients };
}

const spki = (leaf: { publicKey: { export(o: { type: "spki"; format: "der" }): Buffer } }): string => leaf.publicKey.export({ type: "spki", format: "der" }).toString("hex");

test("20 s certificates are rotated, each with a new serial and key, before the previous one expires", async (t) => {
  const { dir, children, clients } = scope(t, "rotate");
  const fx = await setUpCa(dir, children, { workloads: ["web"], leafTtl: "20s", nodeTtl: "20s" });
  const agent = await startAgent(fx, children);
  const sock = join(agent.sdsDir, "web.sock");
  await waitFor(() => existsSync(sock), 15_000, "web.sock");
  const w = watchSds(sock);
  clients.push(w.client);

  // distinct leaves in arrival order
  const leaves = () => {
    const seen = new Map<string, { at: number; leaf: NonNullable<ReturnType<typeof leafOf>> }>();
    for (const u of w.updates) {
      const leaf = leafOf(u.secrets);
      if (leaf && !seen.has(leaf.serialNumber)) seen.set(leaf.serialNumber, { at: u.at, leaf });
    }
    return [...seen.values()];
  };
  const got = await waitFor(() => (leaves().length >= 3 ? leaves() : undefined), 40_000, "two rotations").catch((e: Error) => {
    throw new Error(`${e.message}; got ${leaves().length} identities: ${agent.log()}`);
  });
  for (let i = 1; i < got.length; i++) {
    const prev = got[i - 1]!;
    const next = got[i]!;
    t.not(next.leaf.serialNumber, prev.leaf.serialNumber);
    t.not(spki(next.leaf), spki(prev.leaf), "a new key at every renewal");
    // renewal near half of the 20 s life, not at once (back-dated NotBefore must not count)
    t.true(next.at - prev.at > 5000, `renewal ${i} came ${next.at - prev.at} ms after the previous one`);
    t.true(next.at < new Date(prev.leaf.validTo).getTime(), `renewal ${i} arrived before the previous certificate expired`);
    t.is(next.leaf.subjectAltName, `URI:${idOf("web")}`);
  }
  // the node identity (also 20 s) kept being renewed, so signing kept working
  t.false(agent.log().includes("node attestation failed"));
});

test("CA outage longer than a TTL: valid identity kept, expired one withdrawn, fresh one soon after the CA returns", async (t) => {
  const { dir, children, clients } = scope(t, "outage");
  const fx = await setUpCa(dir, children, { workloads: ["web"], leafTtl: "20s" });
  const agent = await startAgent(fx, children, { config: { backoff: { initial: "200ms", max: "2s" } } });
  const sock = join(agent.sdsDir, "web.sock");
  await waitFor(() => existsSync(sock), 15_000, "web.sock");
  const w = watchSds(sock);
  clients.push(w.client);
  const first = await waitFor(() => leafOf(w.client.current()?.secrets), 20_000, "a first identity");
  const expiresAt = new Date(first.validTo).getTime();

  const errorsBefore = metricSum((await adminGet(agent.adminPort, "/metrics")).body, "mesh_agent_ca_errors_total");
  await stopCa(fx);
  const seenAtStop = w.updates.length;

  // still valid: the client keeps the same identity, nothing new was pushed
  await waitFor(() => Date.now() > expiresAt - 4000 || undefined, 25_000, "close to expiry");
  t.is(leafOf(w.client.current()?.secrets)?.serialNumber, first.serialNumber);
  const during = (await adminGet(agent.adminPort, "/metrics")).body;
  t.true(metricSum(during, "mesh_agent_ca_errors_total") > errorsBefore, "failed CA calls are counted");

  // expired: the agent withdraws it and is not ready; the client was never sent anything else
  await waitFor(() => Date.now() > expiresAt + 1500 || undefined, 10_000, "expiry");
  const status = JSON.parse((await adminGet(agent.adminPort, "/status")).body) as { workloads: { serial: string | null }[] };
  t.is(status.workloads[0]?.serial, null, "the expired identity is withdrawn");
  t.is((await adminGet(agent.adminPort, "/ready")).status, 503);
  t.is(w.updates.length, seenAtStop, "no update while the CA was down");

  await restartCa(fx, children);
  const restartedAt = Date.now();
  const fresh = await waitFor(() => {
    const leaf = leafOf(w.client.current()?.secrets);
    return leaf && leaf.serialNumber !== first.serialNumber ? leaf : undefined;
  }, 10_000, "a fresh identity after the CA came back");
  t.true(new Date(fresh.validTo).getTime() > Date.now());
  t.true(Date.now() - restartedAt < 10_000);
  await waitFor(async () => (await adminGet(agent.adminPort, "/ready")).status === 200, 5_000, "/ready again");
});
