/**
 * Child process of SdsFleet (sds-fleet.ts): many SDS subscribers, each an
 * SdsClient that validates every response the way a sidecar must before it
 * ACKs (chain verifies against the bundle, key matches the leaf), plus plain
 * `ws` clients for the transport baseline. Reports, per armed expectation,
 * when each client met it. Driven over the IPC channel only.
 */
import { createPrivateKey } from "node:crypto";
import WebSocket, { type RawData } from "ws";
import { pemDecodeLabel } from "../../pki/pem.js";
import { validateX509Svid } from "../../pki/svid-validate.js";
import { SdsClient } from "../../sds-server/client.js";
import type { WorkloadSecrets } from "../../sds-server/protocol.js";
import type { Expectation, FromChild, SocketGroup, ToChild } from "./sds-fleet.js";

const nowUs = (): number => Number(process.hrtime.bigint() / 1000n);

interface Held {
  serial: string;
  bundle: string;
}

interface Slot extends Held {
  client: SdsClient;
  /** What validate() accepted last; it becomes the held state on the "update" that follows the ACK. */
  pending?: Held;
  ready: boolean;
}

interface Armed {
  id: number;
  expect: Expectation;
  atUs: number[];
  hits: number;
  /** Serial held by each SDS client when armed (for "newLeaf"). */
  before: string[];
  timer: NodeJS.Timeout;
}

const slots: Slot[] = [];
const raws: WebSocket[] = [];
let armed: Armed | undefined;
let stopping = false;
const stats = { validateFailures: 0, disconnects: 0, nacks: 0, validateUs: 0, validations: 0 };

function send(m: FromChild): void {
  process.send?.(m);
}

/** A sidecar's check of new secrets before it ACKs them. */
function check(s: WorkloadSecrets): Held {
  // CPU time (not wall time, which would count waiting for the CPU); only pushes during a measurement count
  const c0 = process.cpuUsage();
  try {
    const d = s.default;
    const r = s.ROOTCA;
    if (!d || !r) throw new Error("default and ROOTCA are both required");
    const v = validateX509Svid(pemDecodeLabel(d.certificateChainPem, "CERTIFICATE"), { now: new Date(), roots: pemDecodeLabel(r.trustedCaPem, "CERTIFICATE") });
    if (!v.leaf.checkPrivateKey(createPrivateKey(d.privateKeyPem))) throw new Error("the private key does not match the leaf");
    return { serial: v.serial, bundle: r.trustedCaPem };
  } catch (err) {
    stats.validateFailures++;
    throw err;
  } finally {
    if (armed && armed.expect.kind !== "raw") {
      const c = process.cpuUsage(c0);
      stats.validateUs += c.user + c.system;
      stats.validations++;
    }
  }
}

function met(i: number): boolean {
  const a = armed!;
  const s = slots[i]!;
  if (a.expect.kind === "bundle") return s.bundle === a.expect.pem;
  if (a.expect.kind === "newLeaf") return s.serial !== "" && s.serial !== a.before[i];
  return false;
}

function hit(i: number, at: number): void {
  const a = armed;
  if (!a || a.atUs[i]! >= 0) return;
  a.atUs[i] = at;
  if (++a.hits === a.atUs.length) finish(true);
}

function finish(complete: boolean): void {
  const a = armed;
  if (!a) return;
  armed = undefined;
  clearTimeout(a.timer);
  send({ type: "result", id: a.id, atUs: a.atUs, serials: slots.map((s) => s.serial), complete });
}

function startSds(group: SocketGroup, onReady: () => void): void {
  for (let c = 0; c < group.clients; c++) {
    const i = slots.length;
    const slot: Slot = { serial: "", bundle: "", ready: false } as Slot;
    slot.client = new SdsClient({
      socketPath: group.path,
      backoff: { initialMs: 100, maxMs: 2000 },
      validate: (s) => {
        slot.pending = check(s);
      },
    });
    slot.client.on("update", () => {
      const at = nowUs();
      if (slot.pending) Object.assign(slot, slot.pending);
      if (!slot.ready) {
        slot.ready = true;
        onReady();
      }
      if (armed && armed.expect.kind !== "raw" && met(i)) hit(i, at);
    });
    slot.client.on("error", (err) => {
      if (err.message.startsWith("rejected SDS response")) stats.nacks++;
    });
    slot.client.on("disconnected", () => {
      if (!stopping) stats.disconnects++;
    });
    slots.push(slot);
    slot.client.start();
  }
}

function startRaw(group: SocketGroup, onReady: () => void): void {
  for (let c = 0; c < group.clients; c++) {
    const j = raws.length;
    const ws = new WebSocket(`ws+unix://${group.path}:/`, { perMessageDeflate: false });
    ws.on("open", onReady);
    ws.on("error", () => undefined);
    ws.on("close", () => {
      if (!stopping) stats.disconnects++;
    });
    ws.on("message", (data: RawData) => {
      const a = armed;
      if (!a || a.expect.kind !== "raw") return;
      const at = nowUs();
      const buf = Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);
      if (buf.toString("utf8", 0, a.expect.tag.length) === a.expect.tag) hit(j, at);
    });
    raws.push(ws);
  }
}

function start(m: Extract<ToChild, { type: "start" }>): void {
  const t0 = nowUs();
  const want = m.sds.reduce((a, g) => a + g.clients, 0) + m.raw.reduce((a, g) => a + g.clients, 0);
  let ready = 0;
  const timer = setTimeout(() => send({ type: "error", message: `only ${ready} of ${want} clients connected and served within ${m.timeoutMs} ms` }), m.timeoutMs);
  const onReady = () => {
    if (++ready === want) {
      clearTimeout(timer);
      send({ type: "started", sds: slots.length, raw: raws.length, ms: (nowUs() - t0) / 1000 });
    }
  };
  for (const g of m.sds) startSds(g, onReady);
  for (const g of m.raw) startRaw(g, onReady);
}

function arm(m: Extract<ToChild, { type: "arm" }>): void {
  if (armed) finish(false);
  const n = m.expect.kind === "raw" ? raws.length : slots.length;
  armed = {
    id: m.id,
    expect: m.expect,
    atUs: new Array<number>(n).fill(-1),
    hits: 0,
    before: slots.map((s) => s.serial),
    timer: setTimeout(() => finish(false), m.timeoutMs),
  };
  send({ type: "armed", id: m.id });
}

async function stop(): Promise<void> {
  stopping = true;
  if (armed) finish(false);
  await Promise.all(slots.map((s) => s.client.stop()));
  for (const ws of raws) ws.terminate();
  process.exit(0);
}

process.on("message", (m: ToChild) => {
  try {
    if (m.type === "start") start(m);
    else if (m.type === "arm") arm(m);
    else if (m.type === "stats") send({ type: "stats", ...stats });
    else if (m.type === "stop") void stop();
  } catch (err) {
    send({ type: "error", message: err instanceof Error ? err.message : String(err) });
  }
});
// the parent went away: nothing left to report to
process.on("disconnect", () => process.exit(0));
