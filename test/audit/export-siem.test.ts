/**
 * CEF and RFC 5424 syslog exports of events full of awkward characters, read
 * back with a CEF parser and an RFC 5424 parser written here (unescaping per
 * the specs) and compared field by field with the stored events.
 */
import test from "ava";
import { isIP } from "node:net";
import { hostname } from "node:os";
import { Writable } from "node:stream";
import { cefHeaderEscape, cefValueEscape } from "../../audit/export/cef.js";
import { exportAuditLog, type ExportOptions } from "../../audit/export/export.js";
import { sdParamEscape } from "../../audit/export/syslog.js";
import { makeLog } from "./export-fixtures.js";

async function exportLines(o: Omit<ExportOptions, "out">): Promise<string[]> {
  const chunks: Buffer[] = [];
  const out = new Writable({
    write(chunk: Buffer, _enc, cb) {
      chunks.push(chunk);
      cb();
    },
  });
  await exportAuditLog({ ...o, out });
  const text = Buffer.concat(chunks).toString("utf8");
  if (!text.endsWith("\n")) throw new Error("the export does not end with a newline");
  return text.slice(0, -1).split("\n");
}

// ---- CEF -------------------------------------------------------------------

interface Cef {
  header: string[];
  ext: Map<string, string>;
}

/** Extension values: \\ \= \n \r are the only escapes the spec defines. */
function cefUnescapeValue(raw: string): string {
  let out = "";
  for (let i = 0; i < raw.length; i++) {
    if (raw[i] !== "\\") {
      out += raw[i];
      continue;
    }
    const n = raw[++i];
    if (n === "\\" || n === "=") out += n;
    else if (n === "n") out += "\n";
    else if (n === "r") out += "\r";
    else throw new Error(`undefined escape \\${n} in an extension value`);
  }
  return out;
}

function parseCef(line: string): Cef {
  if (/[\r\n]/.test(line)) throw new Error("a raw CR or LF in a CEF record");
  if (!line.startsWith("CEF:")) throw new Error("no CEF: prefix");
  const header: string[] = [];
  let cur = "";
  let i = 4;
  while (header.length < 7) {
    const c = line[i];
    if (c === undefined) throw new Error("the header has fewer than 7 fields");
    if (c === "\\") {
      const n = line[i + 1];
      if (n !== "\\" && n !== "|") throw new Error(`undefined escape \\${n} in the header`);
      cur += n;
      i += 2;
    } else if (c === "|") {
      header.push(cur);
      cur = "";
      i++;
    } else {
      cur += c;
      i++;
    }
  }
  const ext = line.slice(i);
  // Every unescaped "=" ends a key; the key starts after the last space before it.
  const eqs: number[] = [];
  for (let j = 0; j < ext.length; j++) {
    if (ext[j] === "\\") j++;
    else if (ext[j] === "=") eqs.push(j);
  }
  const pairs = new Map<string, string>();
  for (let k = 0; k < eqs.length; k++) {
    const keyStart = ext.lastIndexOf(" ", eqs[k]) + 1;
    const key = ext.slice(keyStart, eqs[k]);
    if (!/^[A-Za-z][A-Za-z0-9_]*$/.test(key)) throw new Error(`bad extension key ${JSON.stringify(key)}`);
    if (pairs.has(key)) throw new Error(`duplicate key ${key}`);
    const valueEnd = k + 1 < eqs.length ? ext.lastIndexOf(" ", eqs[k + 1]) : ext.length;
    pairs.set(key, cefUnescapeValue(ext.slice(eqs[k] + 1, valueEnd)));
  }
  return { header, ext: pairs };
}

test("CEF: header and extension fields unescape per the spec to the stored values", async (t) => {
  const { path, events } = makeLog();
  const version = "9.9.9|beta\\1";
  const lines = await exportLines({ db: path, format: "cef", productVersion: version, pageSize: 3 });
  t.is(lines.length, events.length);
  const severity: Record<string, string> = { deny: "7", failure: "5", success: "1" };
  for (let k = 0; k < events.length; k++) {
    const e = events[k];
    const cef = parseCef(lines[k]);
    t.deepEqual(cef.header, ["0", "mesh", "mesh", version, e.action, `${e.action} ${e.outcome}`, severity[e.outcome]]);
    const expected = new Map<string, string>([
      ["rt", String(Date.parse(e.ts))],
      ["act", e.action],
      ["outcome", e.outcome],
    ]);
    if (e.actor !== "") expected.set(isIP(e.actor) ? "src" : "suser", e.actor);
    if (e.reason !== "") expected.set("msg", e.reason);
    const custom: [string, string][] = [["seq", String(e.seq)], ["hash", e.hash], ["component", e.component], ["subject", e.subject], ["details", JSON.stringify(e.details)], ["prev_hash", e.prev_hash]];
    custom.forEach(([label, value], n) => {
      if (value === "") return;
      expected.set(`cs${n + 1}Label`, label);
      expected.set(`cs${n + 1}`, value);
    });
    // details travel as their canonical text; compare them parsed.
    t.deepEqual(JSON.parse(cef.ext.get("cs5") ?? "null"), e.details);
    expected.set("cs5", cef.ext.get("cs5") ?? "");
    t.deepEqual(Object.fromEntries(cef.ext), Object.fromEntries(expected), `seq ${e.seq}: ${lines[k]}`);
  }
  // IP actors go to src, others to suser; an empty subject leaves cs4 out.
  t.is(parseCef(lines[1]).ext.get("src"), "10.0.0.7");
  t.is(parseCef(lines[2]).ext.get("src"), "2001:db8::1");
  t.false(parseCef(lines[3]).ext.has("cs4"));
});

test("CEF escaping, literally", (t) => {
  t.is(cefHeaderEscape("a|b\\c"), "a\\|b\\\\c");
  t.is(cefValueEscape("a=b\\c\nd\re|f"), "a\\=b\\\\c\\nd\\re|f");
  t.is(cefValueEscape("plain value"), "plain value");
});

// ---- RFC 5424 ----------------------------------------------------------------

interface Syslog {
  pri: number;
  version: string;
  timestamp: string;
  hostname: string;
  appName: string;
  procId: string;
  msgId: string;
  /** SD-ID → PARAM-NAME → the PARAM-VALUE as written (still escaped). */
  sd: Map<string, Map<string, string>>;
  msg: string | undefined;
}

/** RFC 5424 §6.3.3: only \" \\ \] are escapes; any other backslash stays. Unescaped ] is invalid. */
function rfcDecode(raw: string): string {
  let out = "";
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i];
    if (c === "]") throw new Error("an unescaped ] in a PARAM-VALUE");
    if (c === "\\" && (raw[i + 1] === '"' || raw[i + 1] === "\\" || raw[i + 1] === "]")) out += raw[++i];
    else out += c;
  }
  return out;
}

/** The mesh's documented extension: also \n \r \t \uXXXX for control characters, decoded in the same pass. */
function meshDecode(raw: string): string {
  let out = "";
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i];
    if (c !== "\\") {
      out += c;
      continue;
    }
    const n = raw[++i];
    if (n === '"' || n === "\\" || n === "]") out += n;
    else if (n === "n") out += "\n";
    else if (n === "r") out += "\r";
    else if (n === "t") out += "\t";
    else if (n === "u") {
      out += String.fromCharCode(parseInt(raw.slice(i + 1, i + 5), 16));
      i += 4;
    } else throw new Error(`unexpected escape \\${n}`);
  }
  return out;
}

function parseSyslog(line: string): Syslog {
  const m = /^<(\d{1,3})>([1-9]\d{0,2}) ([\x21-\x7e]+) ([\x21-\x7e]{1,255}) ([\x21-\x7e]{1,48}) ([\x21-\x7e]{1,128}) ([\x21-\x7e]{1,32}) /.exec(line);
  if (!m) throw new Error(`bad RFC 5424 header: ${line.slice(0, 120)}`);
  const pri = Number(m[1]);
  if (pri > 191) throw new Error("PRI out of range");
  let i = m[0].length;
  const sd = new Map<string, Map<string, string>>();
  if (line[i] === "-") i++;
  else {
    while (line[i] === "[") {
      i++;
      const id = /^[^ =\]"]{1,32}/.exec(line.slice(i));
      if (!id) throw new Error("bad SD-ID");
      i += id[0].length;
      const params = new Map<string, string>();
      while (line[i] === " ") {
        i++;
        const name = /^([^ =\]"]{1,32})="/.exec(line.slice(i));
        if (!name) throw new Error(`bad SD-PARAM at ${i}`);
        i += name[0].length;
        let raw = "";
        while (line[i] !== '"') {
          if (i >= line.length) throw new Error("unterminated PARAM-VALUE");
          if (line[i] === "\\" && i + 1 < line.length) raw += line[i++];
          raw += line[i++];
        }
        i++;
        params.set(name[1], raw);
      }
      if (line[i] !== "]") throw new Error(`SD element not closed at ${i}`);
      i++;
      sd.set(id[0], params);
    }
    if (sd.size === 0) throw new Error("no STRUCTURED-DATA");
  }
  let msg: string | undefined;
  if (i < line.length) {
    if (line[i] !== " ") throw new Error("no space before MSG");
    msg = line.slice(i + 1);
  }
  return { pri, version: m[2], timestamp: m[3], hostname: m[4], appName: m[5], procId: m[6], msgId: m[7], sd, msg };
}

test("syslog: RFC 5424 header, SD-PARAMs and the BOM-prefixed JSON MSG match the stored events", async (t) => {
  const { path, events } = makeLog();
  const lines = await exportLines({ db: path, format: "syslog", hostname: "audit-host.example", pageSize: 2 });
  t.is(lines.length, events.length, "every record is exactly one line");
  const severity: Record<string, number> = { deny: 4, failure: 5, success: 6 };
  for (let k = 0; k < events.length; k++) {
    const e = events[k];
    const s = parseSyslog(lines[k]);
    t.deepEqual(
      { pri: s.pri, version: s.version, timestamp: s.timestamp, hostname: s.hostname, appName: s.appName, procId: s.procId, msgId: s.msgId },
      { pri: 20 * 8 + severity[e.outcome], version: "1", timestamp: e.ts, hostname: "audit-host.example", appName: "mesh", procId: "-", msgId: e.action.slice(0, 32) },
    );
    t.deepEqual([...s.sd.keys()], ["mesh@32473"]);
    const params = s.sd.get("mesh@32473")!;
    const expected: Record<string, string> = { seq: String(e.seq), action: e.action, component: e.component, outcome: e.outcome, actor: e.actor, subject: e.subject, hash: e.hash };
    t.deepEqual([...params.keys()], Object.keys(expected));
    for (const [name, value] of Object.entries(expected)) {
      t.is(meshDecode(params.get(name)!), value, `seq ${e.seq} ${name}`);
      // Without control characters a plain RFC 5424 decoder already gets the exact value.
      if (!/\p{Cc}/u.test(value)) t.is(rfcDecode(params.get(name)!), value, `seq ${e.seq} ${name} (RFC decode)`);
    }
    t.true(s.msg !== undefined && s.msg.startsWith("\uFEFF"), "MSG starts with a BOM");
    t.deepEqual(JSON.parse(s.msg!.slice(1)), e);
  }
  t.is(parseSyslog(lines[4]).msgId, "agent.rotate.with.a.much.longer.");
  t.true(Buffer.from(lines[0]).includes(Buffer.from([0x5d, 0x20, 0xef, 0xbb, 0xbf, 0x7b])), "] SP BOM { as bytes");
});

test("syslog: facility option, and the host name cut to printable ASCII (default: this host)", async (t) => {
  const { path, events } = makeLog();
  const lines = await exportLines({ db: path, format: "syslog", facility: 10, hostname: "bad host\té" });
  t.deepEqual(lines.map((l) => parseSyslog(l).pri), events.map((e) => 80 + { deny: 4, failure: 5, success: 6 }[e.outcome]));
  t.is(parseSyslog(lines[0]).hostname, "badhost");
  const dflt = await exportLines({ db: path, format: "syslog" });
  t.is(parseSyslog(dflt[0]).hostname, hostname().replace(/[^\x21-\x7e]/g, "").slice(0, 255) || "-");
});

test("SD-PARAM escaping, literally", (t) => {
  t.is(sdParamEscape('a"b\\c]d'), 'a\\"b\\\\c\\]d');
  t.is(sdParamEscape("x\ny\rz\tw\u0000\u0085"), "x\\ny\\rz\\tw\\u0000\\u0085");
  t.is(sdParamEscape("日本 [ok="), "日本 [ok=");
});

test("the parsers here reject malformed records (so the round trips above mean something)", (t) => {
  t.throws(() => parseCef("CEF:0|a|b|c|d|e|f|k=v\\x"), { message: /undefined escape/ });
  t.throws(() => parseCef("CEF:0|a|b|c|d|e|f|a=1 a=2"), { message: /duplicate/ });
  t.throws(() => parseCef("CEF:0|a|b|c|d|e"), { message: /fewer than 7/ });
  t.throws(() => rfcDecode("a]b"), { message: /unescaped \]/ });
  t.throws(() => parseSyslog('<13>1 - h app - id [x@1 a="b"'), { message: /not closed/ });
  t.throws(() => parseSyslog("<13>1 - h app - id"), { message: /header/ });
  t.is(rfcDecode("a\\nb\\\\c"), "a\\nb\\c");
});
