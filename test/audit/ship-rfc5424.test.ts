/**
 * What a collector on loopback receives from the shipper, read with an RFC
 * 5424 parser written here (strict: an unescaped '"' or ']' in a PARAM-VALUE
 * fails it): every field of every event round-trips, including '"', '\' and
 * ']' in SD-PARAM values; and TLS: the collector's certificate is verified
 * (CA, host name or --servername), a client certificate is presented.
 */
import test from "ava";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { AuditEvent } from "../../audit/event.js";
import { ShipError } from "../../audit/export/ship-errors.js";
import { parseShipTarget } from "../../audit/export/ship-transport.js";
import { shipAuditLog } from "../../audit/export/ship.js";
import { makeLog } from "./export-fixtures.js";
import { shipFixture } from "../helpers/syslog-collector.js";
import { makeTestPki, type TestPki } from "../helpers/rsyslog.js";

const fixture = shipFixture("ship-5424-");
const { tempDir, collector } = fixture;
test.after.always(fixture.cleanup);

interface Syslog5424 {
  pri: number;
  version: number;
  timestamp: string;
  hostname: string;
  appName: string;
  procId: string;
  msgId: string;
  /** SD-ID → params; null for the NILVALUE. */
  sd: Map<string, Record<string, string>> | null;
  bom: boolean;
  msg: string | undefined;
}

const PRINTUSASCII = /^[\x21-\x7e]+$/;
const SD_NAME = /^[\x21-\x7e]+$/;
const TIMESTAMP = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?(Z|[+-]\d{2}:\d{2})$/;

/** RFC 5424 §6, strictly. Throws on anything it does not allow. */
function parse5424(text: string): Syslog5424 {
  let i = 0;
  const fail = (why: string): never => {
    throw new Error(`${why} at ${i}: ${JSON.stringify(text.slice(i, i + 30))}`);
  };
  const token = (max: number, what: string): string => {
    const sp = text.indexOf(" ", i);
    if (sp === -1) fail(`no SP after ${what}`);
    const v = text.slice(i, sp);
    if (v.length < 1 || v.length > max || !PRINTUSASCII.test(v)) fail(`bad ${what}`);
    i = sp + 1;
    return v;
  };
  const pri = /^<(0|[1-9]\d{0,2})>/.exec(text) ?? fail("bad PRI");
  if (Number(pri[1]) > 191) fail("PRI > 191");
  i = pri[0].length;
  const version = /^[1-9]\d{0,2} /.exec(text.slice(i)) ?? fail("bad VERSION");
  i += version[0].length;
  const timestamp = token(64, "TIMESTAMP");
  if (timestamp !== "-" && !TIMESTAMP.test(timestamp)) fail("bad TIMESTAMP");
  const hostname = token(255, "HOSTNAME");
  const appName = token(48, "APP-NAME");
  const procId = token(128, "PROCID");
  const msgId = token(32, "MSGID");
  let sd: Map<string, Record<string, string>> | null = null;
  if (text[i] === "-") {
    i++;
  } else {
    sd = new Map();
    if (text[i] !== "[") fail("STRUCTURED-DATA must be - or [");
    while (text[i] === "[") {
      i++;
      const nameEnd = text.slice(i).search(/[ \]]/);
      if (nameEnd < 1) fail("bad SD-ID");
      const id = text.slice(i, i + nameEnd);
      if (id.length > 32 || !SD_NAME.test(id) || /[="]/.test(id)) fail("bad SD-ID");
      if (sd.has(id)) fail("repeated SD-ID");
      i += nameEnd;
      const params: Record<string, string> = {};
      while (text[i] === " ") {
        i++;
        const eq = text.indexOf("=", i);
        const name = text.slice(i, eq);
        if (eq === -1 || name.length < 1 || name.length > 32 || !SD_NAME.test(name) || /[ \]"]/.test(name)) fail("bad PARAM-NAME");
        i = eq + 1;
        if (text[i] !== '"') fail("PARAM-VALUE must be quoted");
        i++;
        let value = "";
        for (;;) {
          const c = text[i];
          if (c === undefined) fail("unterminated PARAM-VALUE");
          if (c === '"') break;
          if (c === "]") fail("unescaped ] in PARAM-VALUE");
          if (c === "\\") {
            const n = text[i + 1];
            // §6.3.3: only these three are escapes; a backslash before anything else is itself.
            if (n === '"' || n === "\\" || n === "]") {
              value += n;
              i += 2;
              continue;
            }
          }
          value += c;
          i++;
        }
        i++; // closing quote
        params[name] = value;
      }
      if (text[i] !== "]") fail("SD-ELEMENT must end with ]");
      i++;
      sd.set(id, params);
    }
  }
  let msg: string | undefined;
  let bom = false;
  if (i < text.length) {
    if (text[i] !== " ") fail("SP before MSG");
    msg = text.slice(i + 1);
    if (msg.startsWith("\uFEFF")) {
      bom = true;
      msg = msg.slice(1);
    }
  }
  return { pri: Number(pri[1]), version: Number(version[0]), timestamp, hostname, appName, procId, msgId, sd, bom, msg };
}

/** What a PARAM-VALUE decodes to: the value, with control characters as the JSON-style escapes the exporter writes. */
function sdExpected(value: string): string {
  const named: Record<string, string> = { "\n": "\\n", "\r": "\\r", "\t": "\\t" };
  return value.replace(/\p{Cc}/gu, (c) => named[c] ?? `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

test("the parser itself: escapes, several SD elements, the NILVALUE, refusals", (t) => {
  const m = parse5424('<34>1 2003-10-11T22:14:15.003Z mymachine.example.com su - ID47 [exampleSDID@32473 iut="3" eventSource="App\\"l\\]ic\\\\a\\tion"][examplePriority@32473 class="high"] \uFEFFmsg');
  t.is(m.pri, 34);
  t.is(m.sd?.get("exampleSDID@32473")?.eventSource, 'App"l]ic\\a\\tion');
  t.is(m.sd?.get("examplePriority@32473")?.class, "high");
  t.true(m.bom);
  t.is(m.msg, "msg");
  t.is(parse5424("<0>1 - - - - - -").sd, null);
  for (const bad of ["<192>1 - - - - - -", "<01>1 - - - - - -", "<1>1 - - - - -", '<1>1 - - - - - [a b="x]"]', '<1>1 - - - - - [a b="x"y"]', "<1>1 2026-13 - - - - -"]) {
    t.throws(() => parse5424(bad), undefined, bad);
  }
});

test("syslog over plain TCP: a loopback server gets one frame per event, and every field round-trips", async (t) => {
  const fx = makeLog();
  const dir = tempDir();
  const c = await collector();
  const r = await shipAuditLog({
    db: fx.path,
    format: "syslog",
    target: parseShipTarget(`tcp://127.0.0.1:${c.port}`),
    statePath: join(dir, "state"),
    hostname: "ship-test-host",
    facility: 20,
    timeoutMs: 10_000,
  });
  t.is(r.lastSeq, fx.events.length);
  t.is(r.delivered, fx.events.length);
  t.is(r.failures, 0);
  t.deepEqual(c.errors, [], "every frame was well formed and complete");
  t.is(c.frames.length, fx.events.length);
  const severity: Record<string, number> = { deny: 4, failure: 5, success: 6 };
  for (const [k, frame] of c.frames.entries()) {
    const ev: AuditEvent = fx.events[k];
    const m = parse5424(frame.text);
    t.is(m.pri, 20 * 8 + severity[ev.outcome], `seq ${ev.seq}`);
    t.is(m.version, 1);
    t.is(m.timestamp, ev.ts);
    t.is(m.hostname, "ship-test-host");
    t.is(m.appName, "mesh");
    t.is(m.procId, "-");
    t.is(m.msgId, ev.action.slice(0, 32));
    t.is(m.sd?.size, 1, `seq ${ev.seq}: exactly one SD element (no injection through values)`);
    t.deepEqual(m.sd?.get("mesh@32473"), {
      seq: String(ev.seq),
      action: sdExpected(ev.action),
      component: sdExpected(ev.component),
      outcome: ev.outcome,
      actor: sdExpected(ev.actor),
      subject: sdExpected(ev.subject),
      hash: ev.hash,
    });
    t.true(m.bom);
    t.deepEqual(JSON.parse(m.msg ?? "") as AuditEvent, ev, `seq ${ev.seq}: the MSG is the exact event`);
  }
  // The fixtures do hold the characters RFC 5424 makes us escape.
  const raw = c.frames.map((f) => f.text).join("\n");
  t.true(raw.includes('\\"') && raw.includes("\\]") && raw.includes("\\\\"));
});

let pki: Promise<TestPki> | undefined;
function testPki(): Promise<TestPki> {
  pki ??= makeTestPki(tempDir());
  return pki;
}

test("tls://: the collector's certificate is verified against --ca and its name, a client certificate is presented", async (t) => {
  const p = await testPki();
  const fx = makeLog();
  const dir = tempDir();
  const c = await collector({ tls: { key: readFileSync(p.serverKeyFile, "utf8"), cert: readFileSync(p.serverCertFile, "utf8"), ca: p.ca, requestCert: true } });
  const client = { ca: p.ca, cert: readFileSync(p.clientCertFile, "utf8"), key: readFileSync(p.clientKeyFile, "utf8") };
  // Runs meant to fail get a short timeout; the others a long one (the machine may be busy).
  const ship = (to: string, tls: Record<string, string | undefined>, state: string, timeoutMs = 20_000) =>
    shipAuditLog({ db: fx.path, format: "jsonl", target: parseShipTarget(to), tls, statePath: join(dir, state), timeoutMs, backoff: { baseMs: 50, maxMs: 200 } });

  // By host name (SNI + DNS SAN), and by IP address with --servername.
  const byName = await ship(`tls://localhost:${c.port}`, client, "a");
  t.is(byName.lastSeq, fx.events.length);
  const byIp = await ship(`tls://127.0.0.1:${c.port}`, { ...client, servername: "localhost" }, "b");
  t.is(byIp.lastSeq, fx.events.length);
  t.is(c.frames.length, 2 * fx.events.length);
  t.deepEqual(JSON.parse(c.frames[0].text) as AuditEvent, fx.events[0]);
  t.true(c.clientCerts.length >= 2 && c.clientCerts.every((cn) => cn === "ship-client"), c.clientCerts.join());

  // A collector we cannot verify gets nothing, and the run fails with the reason once the timeout is spent.
  const before = c.frames.length;
  const otherCa = (await makeTestPki(tempDir())).ca;
  const wrongCa = await t.throwsAsync(ship(`tls://localhost:${c.port}`, { ...client, ca: otherCa }, "c", 3000), { instanceOf: ShipError });
  t.is(wrongCa?.code, "delivery_timeout");
  t.regex(wrongCa?.message ?? "", /certificate/i);
  const wrongName = await t.throwsAsync(ship(`tls://127.0.0.1:${c.port}`, { ...client, servername: "collector.example.org" }, "d", 3000), { instanceOf: ShipError });
  t.is(wrongName?.code, "delivery_timeout");
  t.regex(wrongName?.message ?? "", /collector\.example\.org|altnames|Hostname/i);
  t.is(c.frames.length, before, "nothing was sent to an unverified collector");
});
