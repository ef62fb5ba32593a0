/**
 * JSON lines and CSV exports of events full of awkward characters, read back
 * with a JSON parser and an RFC 4180 parser written here, field by field
 * against the events as the store returns them.
 */
import test from "ava";
import { Writable } from "node:stream";
import { computeEventHash } from "../../audit/canonical.js";
import type { AuditEvent } from "../../audit/event.js";
import { exportAuditLog, type ExportFormat } from "../../audit/export/export.js";
import { AuditLog } from "../../audit/store.js";
import { makeLog, tempAuditPath } from "./export-fixtures.js";

/** A Writable that keeps what it is given. */
function collector(): { out: Writable; text: () => string } {
  const chunks: Buffer[] = [];
  const out = new Writable({
    write(chunk: Buffer, _enc, cb) {
      chunks.push(chunk);
      cb();
    },
  });
  return { out, text: () => Buffer.concat(chunks).toString("utf8") };
}

async function exportText(path: string, format: ExportFormat, pageSize?: number): Promise<{ text: string; events: number }> {
  const c = collector();
  const r = await exportAuditLog({ db: path, format, out: c.out, pageSize });
  c.out.end();
  return { text: c.text(), events: r.events };
}

/** RFC 4180: records end in CRLF; a quoted field may hold commas, CR, LF and doubled quotes. Throws on malformed input. */
function parseCsv(text: string): string[][] {
  const records: string[][] = [];
  let i = 0;
  while (i < text.length) {
    const record: string[] = [];
    for (;;) {
      let field = "";
      if (text[i] === '"') {
        i++;
        for (;;) {
          if (i >= text.length) throw new Error("unterminated quoted field");
          if (text[i] === '"') {
            if (text[i + 1] === '"') {
              field += '"';
              i += 2;
              continue;
            }
            i++;
            break;
          }
          field += text[i++];
        }
      } else {
        while (i < text.length && text[i] !== "," && text[i] !== "\r" && text[i] !== "\n") {
          if (text[i] === '"') throw new Error(`a quote inside an unquoted field at ${i}`);
          field += text[i++];
        }
      }
      record.push(field);
      if (text[i] === ",") {
        i++;
        continue;
      }
      if (text.startsWith("\r\n", i)) {
        i += 2;
        break;
      }
      throw new Error(`expected , or CRLF at ${i}, got ${JSON.stringify(text.slice(i, i + 10))}`);
    }
    records.push(record);
  }
  return records;
}

test("JSON lines: one line per event, each the stored event; details keep their canonical text, so hashes recompute", async (t) => {
  const { path, events } = makeLog();
  const { text, events: n } = (await exportText(path, "jsonl"));
  t.is(n, events.length);
  t.true(text.endsWith("\n"));
  const lines = text.slice(0, -1).split("\n");
  t.is(lines.length, events.length);
  for (let k = 0; k < events.length; k++) {
    const parsed = JSON.parse(lines[k]) as AuditEvent;
    t.deepEqual(parsed, events[k]);
    t.deepEqual(Object.keys(parsed), ["seq", "ts", "component", "action", "outcome", "actor", "subject", "reason", "details", "prev_hash", "hash"]);
    const detailsJson = /,"details":(.*),"prev_hash":/.exec(lines[k])![1];
    t.is(computeEventHash({ ...parsed, detailsJson }), parsed.hash, `seq ${parsed.seq}: the exported details are not the hashed text`);
  }
  // Integer-like keys stay in canonical (string) order, not JavaScript's numeric order.
  t.true(lines[5].includes('"details":{"10":1,"9":2,"a":"\\r\\n"}'), lines[5]);
});

test("CSV: RFC 4180 with a header row; every field reads back exactly", async (t) => {
  const { path, events } = makeLog();
  const { text, events: n } = (await exportText(path, "csv", 2));
  t.is(n, events.length);
  const records = parseCsv(text);
  t.deepEqual(records[0], ["seq", "ts", "component", "action", "outcome", "actor", "subject", "reason", "details", "prev_hash", "hash"]);
  t.is(records.length, events.length + 1);
  for (let k = 0; k < events.length; k++) {
    const e = events[k];
    const [seq, ts, component, action, outcome, actor, subject, reason, details, prevHash, hash] = records[k + 1];
    t.is(records[k + 1].length, 11);
    t.is(Number(seq), e.seq);
    t.deepEqual(
      { ts, component, action, outcome, actor, subject, reason, prevHash, hash },
      { ts: e.ts, component: e.component, action: e.action, outcome: e.outcome, actor: e.actor, subject: e.subject, reason: e.reason, prevHash: e.prev_hash, hash: e.hash },
    );
    t.deepEqual(JSON.parse(details), e.details);
  }
  // Fields without special characters are not quoted; the others are.
  t.true(text.includes("\r\n1,2026-11-22T10:00:00.000Z,ca,ca.sign,deny,node:n1,"), text.slice(0, 200));
  t.true(text.includes(',"csv, ""quoted"", and, commas",'));
});

test("an empty log exports nothing (CSV: the header only)", async (t) => {
  const path = tempAuditPath("empty.db");
  AuditLog.open(path).close();
  t.deepEqual((await exportText(path, "jsonl")), { text: "", events: 0 });
  t.deepEqual(parseCsv((await exportText(path, "csv")).text).length, 1);
});

test("the CSV parser here rejects what RFC 4180 forbids (so the round trip above means something)", (t) => {
  t.throws(() => parseCsv('a,"b\r\n'), { message: /unterminated/ });
  t.throws(() => parseCsv('a,b"c\r\n'), { message: /quote inside/ });
  t.throws(() => parseCsv("a,b\n"), { message: /CRLF/ });
  t.deepEqual(parseCsv('"a,""b""\r\nc",\r\n'), [['a,"b"\r\nc', ""]]);
});
