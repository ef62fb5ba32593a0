import test from "ava";
import { parseRequest } from "../../../../proxy/waf/request/parse.js";
import type { InspectionLimits, ParsedRequest, WafInput } from "../../../../proxy/waf/types.js";
import { DEFAULT_LIMITS } from "../../../../proxy/waf/types.js";
import { seededRandom } from "../../../helpers/seeded-random.js";

const TYPES = [
  "application/x-www-form-urlencoded",
  "application/json",
  "multipart/form-data; boundary=b",
  "text/xml",
  "text/plain",
];

const rng = seededRandom;

function timed(input: WafInput, lim: InspectionLimits = DEFAULT_LIMITS): { p: ParsedRequest; ms: number } {
  const t0 = performance.now();
  const p = parseRequest(input, lim);
  return { p, ms: performance.now() - t0 };
}

/** Best of three runs after a warm-up: the machine is shared, and the JIT and GC are not the parser. */
function best(input: WafInput, lim: InspectionLimits = DEFAULT_LIMITS): { p: ParsedRequest; ms: number } {
  parseRequest(input, lim);
  let r = timed(input, lim);
  for (let i = 0; i < 2; i++) {
    const again = timed(input, lim);
    if (again.ms < r.ms) r = again;
  }
  return r;
}

/** Collections holding request-supplied names and values, which valueBytes bounds. */
const CUT: ReadonlySet<string> = new Set([
  "query_args",
  "query_args_names",
  "body_args",
  "body_args_names",
  "args",
  "args_names",
  "headers",
  "headers_names",
  "cookies",
  "cookies_names",
  "files",
  "files_names",
  "multipart_headers",
  "xml",
]);

function postInput(ct: string, body: Buffer, uri = "/"): WafInput {
  return { method: "POST", uri, protocol: "HTTP/1.1", headers: [["content-type", ct]], body };
}

/** Every collection respects the limits it is subject to. */
function respectsLimits(p: ParsedRequest, lim: InspectionLimits): boolean {
  const args = (p.collections.get("args") ?? []).length;
  if (args > lim.args) return false;
  for (const [name, list] of p.collections) {
    if (list.length > lim.args && name !== "args") return false;
    if (name === "body" && list[0]!.value.length > lim.bodyBytes) return false;
    if (!CUT.has(name)) continue;
    for (const a of list) if (a.name.length > lim.valueBytes || a.value.length > lim.valueBytes) return false;
  }
  return true;
}

const PATHOLOGICAL: [string, string, string][] = [
  ["128 KiB of [", "application/json", "[".repeat(128 * 1024)],
  ["128 KiB of {", "application/json", "{".repeat(128 * 1024)],
  ['{"a": repeated', "application/json", '{"a":'.repeat(26000)],
  ["a long array", "application/json", "[" + "1,".repeat(60000) + "1]"],
  ["long escaped string", "application/json", '["' + "\\u0041".repeat(20000) + '"]'],
  ["<a> repeated", "text/xml", "<a>".repeat(40000)],
  ["<a/> siblings", "text/xml", "<r>" + "<a x='1'/>".repeat(12000) + "</r>"],
  ["many attributes", "text/xml", "<r " + Array.from({ length: 8000 }, (_, i) => `a${i}="v"`).join(" ") + "/>"],
  ["& repeated in xml", "text/xml", "<r>" + "&".repeat(120000) + "</r>"],
  ["unterminated doctype", "text/xml", "<!DOCTYPE r [" + "<!ENTITY ".repeat(12000)],
  ["% repeated", "application/x-www-form-urlencoded", "%".repeat(128 * 1024)],
  ["%41 repeated", "application/x-www-form-urlencoded", "a=" + "%41".repeat(40000)],
  ["+ repeated", "application/x-www-form-urlencoded", "a=" + "+".repeat(128000)],
  ["a million &", "application/x-www-form-urlencoded", "&".repeat(1_000_000)],
  ["a&a&a…", "application/x-www-form-urlencoded", "a&".repeat(60000)],
  ["boundary repeated", "multipart/form-data; boundary=b", "--b\r\n".repeat(25000)],
  ["boundary-like data", "multipart/form-data; boundary=bbbbbbbbbbbbbbbbbbbbbbbbbbbbbb", "--bbbbbbbbbbbbbbbbbbbbbbbbbbbbbb\r\nContent-Disposition: form-data; name=a\r\n\r\n" + "\n--bbbbbbbbbbbbbbbbbbbbbbbbbbbbb".repeat(4000)],
  ["header lines without blank line", "multipart/form-data; boundary=b", "--b\r\n" + "a: b\r\n".repeat(20000)],
  ["folded headers", "multipart/form-data; boundary=b", "--b\r\nContent-Disposition: form-data; name=a\r\n" + " x\r\n".repeat(30000)],
  ["many params", "multipart/form-data; boundary=b", "--b\r\nContent-Disposition: form-data" + "; a=b".repeat(20000) + "\r\n\r\nx\r\n--b--"],
];

for (const [label, ct, body] of PATHOLOGICAL) {
  test(`pathological body: ${label}`, (t) => {
    const { p, ms } = best(postInput(ct, Buffer.from(body, "latin1")));
    t.true(ms < 100, `${ms.toFixed(1)} ms`);
    t.true(respectsLimits(p, DEFAULT_LIMITS));
    t.true(p.collections.has("body"));
  });
}

test("pathological query strings and cookies", (t) => {
  const cases = ["/?" + "&".repeat(1_000_000), "/?" + "%".repeat(200000), "/?" + "a=".repeat(100000), "/?" + "a&".repeat(300000)];
  for (const uri of cases) {
    const input: WafInput = { method: "GET", uri, protocol: "HTTP/1.1", headers: [["cookie", "a;".repeat(30000)]] };
    const { p, ms } = best(input);
    t.true(ms < 100, `${uri.slice(0, 10)} ${ms.toFixed(1)} ms`);
    t.true(respectsLimits(p, DEFAULT_LIMITS));
  }
});

test("random bytes and truncated bodies never throw and respect small limits", (t) => {
  const r = rng(42);
  const lim: InspectionLimits = { bodyBytes: 2048, args: 20, depth: 4, valueBytes: 64, parts: 5 };
  const alphabet = Buffer.from('<>/="\'&;:-{}[],\\ \r\n\tabx01%+!?#-b', "latin1");
  const seeds = [
    '{"a":[1,{"b":"c\\u0041"}],"d":true}',
    '<?xml version="1.0"?><!DOCTYPE r [<!ENTITY e "x">]><r a="1"><b>t&amp;</b><![CDATA[x]]></r>',
    '--b\r\nContent-Disposition: form-data; name="a"; filename="f.txt"\r\nContent-Type: text/plain\r\n\r\ndata\r\n--b\r\nContent-Disposition: form-data; name="c"\r\n\r\nv\r\n--b--\r\n',
    "a=1&b=%41%zz&c+d=e+f",
  ];
  let worst = 0;
  for (let round = 0; round < 3000; round++) {
    const ct = TYPES[round % TYPES.length]!;
    let buf: Buffer;
    const mode = r();
    if (mode < 0.3) {
      buf = Buffer.alloc(Math.floor(r() * 3000));
      for (let i = 0; i < buf.length; i++) buf[i] = Math.floor(r() * 256);
    } else if (mode < 0.6) {
      buf = Buffer.alloc(Math.floor(r() * 600));
      for (let i = 0; i < buf.length; i++) buf[i] = alphabet[Math.floor(r() * alphabet.length)]!;
    } else {
      // A valid seed, cut and mutated.
      const seed = Buffer.from(seeds[Math.floor(r() * seeds.length)]!, "latin1");
      buf = Buffer.from(seed.subarray(0, Math.floor(r() * (seed.length + 1))));
      for (let k = 0; k < 3; k++) if (buf.length > 0 && r() < 0.5) buf[Math.floor(r() * buf.length)] = alphabet[Math.floor(r() * alphabet.length)]!;
    }
    const uri = "/p?" + buf.subarray(0, 50).toString("latin1").replace(/[\r\n ]/g, "");
    const { p, ms } = timed(postInput(ct, buf, uri), lim);
    worst = Math.max(worst, ms);
    if (!respectsLimits(p, lim)) {
      t.fail(`limits not respected: ${ct} ${JSON.stringify(buf.toString("latin1").slice(0, 200))}`);
      return;
    }
  }
  t.true(worst < 100, `worst ${worst.toFixed(1)} ms`);
});

test("a very large body is cut to the limit before any parser sees it", (t) => {
  const big = Buffer.alloc(4 * 1024 * 1024, "a=1&");
  const { p, ms } = best(postInput("application/x-www-form-urlencoded", big));
  t.deepEqual([...p.exceeded].sort(), ["args", "body_bytes"]);
  t.is(p.collections.get("body")![0]!.value.length, DEFAULT_LIMITS.bodyBytes);
  t.is(p.collections.get("body_size")![0]!.value, String(4 * 1024 * 1024));
  t.true(ms < 100, `${ms.toFixed(1)} ms`);
});
