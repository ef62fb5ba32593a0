/**
 * The pieces of shipping on their own: RFC 5425 / RFC 6587 octet-counting
 * frames, --to parsing, the jittered back-off, and the state file (atomic,
 * 0600, strict on what it reads).
 */
import test from "ava";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AuditError } from "../../audit/errors.js";
import type { EventRow } from "../../audit/query.js";
import { defaultStatePath, readShipState, writeShipState } from "../../audit/export/ship-cursor.js";
import { ShipError } from "../../audit/export/ship-errors.js";
import { frameFormatter, octetFrame, stripLineEnd } from "../../audit/export/ship-framing.js";
import { Backoff, parseShipTarget } from "../../audit/export/ship-transport.js";
import { OctetDecoder } from "../helpers/syslog-collector.js";

const dirs: string[] = [];
test.after.always(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), "ship-units-"));
  dirs.push(d);
  return d;
}

test("octet counting: MSG-LEN is the UTF-8 octet count, one SP, the message; an empty message is refused", (t) => {
  t.is(octetFrame("<13>1 - - - - - -"), "17 <13>1 - - - - - -");
  // é is 2 octets, 😀 is 4, the BOM 3: 1 + 2 + 4 + 3 = 10
  t.is(octetFrame("aé😀\uFEFF"), "10 aé😀\uFEFF");
  t.is(Buffer.byteLength("aé😀\uFEFF"), 10);
  const big = "x".repeat(123_456);
  t.true(octetFrame(big).startsWith("123456 x"));
  const err = t.throws(() => octetFrame(""), { instanceOf: AuditError });
  t.is(err?.code, "invalid_argument");
  t.is(stripLineEnd("a\r\n"), "a");
  t.is(stripLineEnd("a\n"), "a");
  t.is(stripLineEnd("a\"\r\nb\"\r\n"), "a\"\r\nb\"", "only the record's own line end goes, not a CRLF inside a quoted CSV field");
});

test("frames of every format decode back to one record each, without the line end", (t) => {
  const row: EventRow = {
    seq: 7,
    ts: "2026-11-22T10:00:00.000Z",
    component: "ca",
    action: "ca.sign",
    outcome: "deny",
    actor: "node:n1",
    subject: 'sp "q" ]',
    reason: "line1\nline2",
    details: '{"a":"é"}',
    prev_hash: "0".repeat(64),
    hash: "a".repeat(64),
  };
  for (const format of ["jsonl", "csv", "cef", "syslog"] as const) {
    const frame = frameFormatter(format, { hostname: "h1", productVersion: "1.2.3" })(row);
    const dec = new OctetDecoder();
    // Fed in 3-byte pieces: the decoder must reassemble across reads.
    const bytes = Buffer.from(frame + frame);
    const got: string[] = [];
    for (let i = 0; i < bytes.length; i += 3) got.push(...dec.push(bytes.subarray(i, i + 3)));
    t.is(dec.error, undefined, format);
    t.is(got.length, 2, format);
    t.is(got[0], got[1]);
    t.false(got[0].endsWith("\n"), format);
    if (format === "jsonl") t.is((JSON.parse(got[0]) as { subject: string }).subject, row.subject);
    if (format === "csv") t.true(got[0].startsWith("7,2026-11-22T10:00:00.000Z,ca,"), "no header row in a frame");
    if (format === "cef") t.true(got[0].startsWith("CEF:0|mesh|mesh|1.2.3|ca.sign|"));
    if (format === "syslog") t.true(got[0].startsWith("<164>1 2026-11-22T10:00:00.000Z h1 mesh - ca.sign [mesh@32473 seq=\"7\""), got[0]);
  }
  const dec = new OctetDecoder();
  dec.push(Buffer.from("012 abc"));
  t.regex(dec.error ?? "", /bad MSG-LEN/, "a leading zero is not octet counting");
});

test("--to: tcp:// and tls:// with a host name, IPv4 or bracketed IPv6 and a port; anything else is refused", (t) => {
  t.deepEqual(parseShipTarget("tcp://127.0.0.1:514"), { protocol: "tcp", host: "127.0.0.1", port: 514, url: "tcp://127.0.0.1:514" });
  t.deepEqual(parseShipTarget("tls://logs.example.org:6514"), { protocol: "tls", host: "logs.example.org", port: 6514, url: "tls://logs.example.org:6514" });
  t.deepEqual(parseShipTarget("tls://[::1]:6514"), { protocol: "tls", host: "::1", port: 6514, url: "tls://[::1]:6514" });
  for (const bad of ["udp://h:514", "tcp://h", "tcp://h:0", "tcp://h:65536", "tcp://:514", "tcp://h:514/", "tcp://user@h:514", "tcp://[zz]:514", "tcp://a..b:1", "http://h:80", " tcp://h:1", "tcp://h:1\n"]) {
    const err = t.throws(() => parseShipTarget(bad), { instanceOf: ShipError }, bad);
    t.is(err?.code, "invalid_argument");
  }
});

test("back-off: equal jitter in [d/2, d), doubling from base to max, never zero, reset after a success", (t) => {
  const lows = new Backoff({ baseMs: 100, maxMs: 1000, random: () => 0 });
  t.deepEqual([1, 2, 3, 4, 5, 6].map(() => lows.next()), [50, 100, 200, 400, 500, 500]);
  const highs = new Backoff({ baseMs: 100, maxMs: 1000, random: () => 0.999999 });
  t.deepEqual([1, 2, 3, 4, 5, 6].map(() => highs.next()), [100, 200, 400, 800, 1000, 1000]);
  highs.reset();
  t.is(highs.next(), 100);
  // Defaults: 250 ms base, 10 s cap, even after very many failures (no overflow to Infinity/NaN).
  const d = new Backoff({ random: () => 0.5 });
  let last = 0;
  for (let i = 0; i < 2000; i++) last = d.next();
  t.is(last, 7500);
  t.throws(() => new Backoff({ baseMs: 0 }), { instanceOf: ShipError });
  t.throws(() => new Backoff({ baseMs: 100, maxMs: 50 }), { instanceOf: ShipError });
});

test("state file: default name beside the database, atomic 0600 writes, strict reads", (t) => {
  const dir = tempDir();
  t.is(defaultStatePath("/var/lib/mesh/audit.db", "logs.example.org", 6514), "/var/lib/mesh/audit.db.ship-logs.example.org-6514.state");
  t.is(defaultStatePath("/x/a.db", "::1", 514), "/x/a.db.ship-__1-514.state");

  const path = join(dir, "a.state");
  t.is(readShipState(path), undefined, "no file yet: start from the beginning");
  const state = { lastSeq: 42, lastHash: "b".repeat(64), to: "tcp://h:1", savedAt: "2026-11-22T10:00:00.000Z" };
  writeShipState(path, state);
  t.deepEqual(readShipState(path), state);
  t.is(statSync(path).mode & 0o777, 0o600);
  writeShipState(path, { ...state, lastSeq: 43 });
  t.is(readShipState(path)?.lastSeq, 43);
  t.deepEqual(readdirSync(dir), ["a.state"], "no temporary file left behind");

  const bad: [string, RegExp][] = [
    ["not json", /not JSON/],
    ["[]", /last_seq/],
    ['{"last_seq":-1,"last_hash":""}', /last_seq/],
    ['{"last_seq":1.5,"last_hash":""}', /last_seq/],
    ['{"last_seq":"3","last_hash":""}', /last_seq/],
    ['{"last_seq":3,"last_hash":"abc"}', /last_hash/],
    ['{"last_seq":0,"last_hash":"' + "a".repeat(64) + '"}', /last_hash/],
    [" ".repeat(70_000), /larger than/],
  ];
  for (const [text, re] of bad) {
    writeFileSync(path, text);
    const err = t.throws(() => readShipState(path), { instanceOf: ShipError }, text.slice(0, 30));
    t.is(err?.code, "state_error");
    t.regex(err?.message ?? "", re);
  }
  const fifo = join(dir, "fifo.state");
  execFileSync("mkfifo", [fifo]);
  t.is(t.throws(() => readShipState(fifo), { instanceOf: ShipError })?.code, "state_error", "a FIFO neither blocks nor passes");
  const err = t.throws(() => writeShipState(join(dir, "no", "such", "dir.state"), state), { instanceOf: ShipError });
  t.is(err?.code, "state_error");
});
