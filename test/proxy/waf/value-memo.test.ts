import test from "ava";
import { DEFAULT_SETTINGS, WafEngine } from "../../../proxy/waf/engine.js";
import { loadRules } from "../../../proxy/waf/rule-file.js";
import { bundledRulesDir } from "../../../proxy/waf/settings.js";
import type { WafInput } from "../../../proxy/waf/types.js";
import { valueHash } from "../../../proxy/waf/prefilter/value-scan.js";
import { DOORKEEPER_SLOTS, FILTER_BITS, filterBit, MEMO_ENTRIES, MEMO_VALUE_CHARS, ValueMemo, type Known } from "../../../proxy/waf/value-memo.js";

const known = (features: number): Known => ({ value: "", features });

test("a remembered value comes back; a long one is never kept", (t) => {
  const m = new ValueMemo();
  m.set("abc", known(1));
  t.is(m.get("abc")?.features, 1);
  m.set("x".repeat(MEMO_VALUE_CHARS + 1), known(2));
  t.is(m.get("x".repeat(MEMO_VALUE_CHARS + 1)), undefined);
  t.is(m.get("other"), undefined);
});

test("a flood of distinct values keeps at most two generations, and a value in use survives it", (t) => {
  const m = new ValueMemo();
  m.set("keep", known(7));
  for (let i = 0; i < MEMO_ENTRIES * 5; i++) {
    m.set(`v${i}`, known(0));
    // a value read now and then is promoted to the young generation and never dropped
    if (i % 1000 === 0) t.is(m.get("keep")?.features, 7);
  }
  t.true(m.size <= 2 * MEMO_ENTRIES, String(m.size));
  t.is(m.get("v0"), undefined);
  t.is(m.get(`v${MEMO_ENTRIES * 5 - 1}`)?.features, 0);
});

test("the presence filter never hides a held value, in either generation, and forgets a dropped one", (t) => {
  const m = new ValueMemo();
  // values that differ only where the filter does not look (second unit) and values that differ only in their last
  const values = [...Array.from({ length: 300 }, (_, i) => `a${i}z`), ...Array.from({ length: 300 }, (_, i) => `json.items.${i}.sku`), "", "x"];
  values.forEach((v, i) => m.set(v, known(i)));
  values.forEach((v, i) => t.is(m.get(v)?.features, i, JSON.stringify(v)));
  // fill the young generation: the values above move to the old one and are still found (and promoted)
  for (let i = 0; m.size < MEMO_ENTRIES + values.length; i++) m.set(`filler${i}`, known(-1));
  t.is(m.get("a7z")?.features, 7);
  t.is(m.get("json.items.299.sku")?.features, 599);
  // two more fillings drop the generation holding the values never read again
  for (let i = 0; i < MEMO_ENTRIES * 2; i++) m.set(`more${i}`, known(-1));
  t.is(m.get("a8z"), undefined);
  t.is(m.get("a7z"), undefined, "promoted once, then not read: dropped with its generation");
});

test("the filter's bits spread: distinct short values mostly take distinct bits", (t) => {
  const bits = new Set<number>();
  for (let i = 0; i < 1000; i++) bits.add(filterBit(`value-${i.toString(36)}`));
  for (const b of bits) t.true(b >= 0 && b < FILTER_BITS);
  t.true(bits.size > 900, String(bits.size));
});

/** Each sighting in a request of its own unless one is given. */
let request = 0;
const admit = (m: ValueMemo, v: string, r = ++request): boolean => m.admit(valueHash(v), r);

test("request numbers past 65,536 still tell one request from the next (the table keeps their low 16 bits)", (t) => {
  const m = new ValueMemo();
  t.false(admit(m, "late", 0x3fff_fffe));
  t.false(admit(m, "late", 0x3fff_fffe));
  t.true(admit(m, "late", 0x3fff_ffff));
  t.false(admit(m, "wraps", 65_535));
  t.true(admit(m, "wraps", 65_536));
});

test("a value is admitted when a second request has it, not for turning up twice in one", (t) => {
  const m = new ValueMemo();
  t.false(admit(m, "once", 1));
  t.false(admit(m, "once", 1));
  t.true(admit(m, "once", 2));
  t.false(admit(m, "twice"));
});

test("two values that share a doorkeeper slot and always come together are both kept from their second request on", (t) => {
  // two names whose hashes pick the same pair of slots
  const byPair = new Map<number, string>();
  let pair: [string, string] | undefined;
  for (let i = 0; pair === undefined; i++) {
    const v = `json.items.${i}.sku`;
    const slot = valueHash(v) & (DOORKEEPER_SLOTS - 2);
    const other = byPair.get(slot);
    if (other !== undefined) pair = [other, v];
    else byPair.set(slot, v);
  }
  const m = new ValueMemo();
  t.false(admit(m, pair[0], 1));
  t.false(admit(m, pair[1], 1));
  t.true(admit(m, pair[0], 2));
  t.true(admit(m, pair[1], 2));
});

test("the doorkeeper is a fixed table: recent first sightings are mostly remembered, a flood of one-off values pushes old ones out", (t) => {
  const m = new ValueMemo();
  let early = 0;
  for (let i = 0; i < 500; i++) if (admit(m, `r${i}`)) early++;
  t.is(early, 0);
  let again = 0;
  for (let i = 0; i < 500; i++) if (admit(m, `r${i}`)) again++;
  // a slot taken by another value only delays a memo entry to the third sighting
  t.true(again >= 450, String(again));
  for (let i = 0; i < DOORKEEPER_SLOTS * 8; i++) admit(m, `u${i}`);
  let remembered = 0;
  for (let i = 0; i < 1000; i++) if (admit(m, `u${i}`)) remembered++;
  t.true(remembered <= 10, String(remembered));
  // every unit is hashed: values that differ only in their middle are told apart
  const a = "a".repeat(100) + "x" + "b".repeat(100);
  t.false(admit(m, a));
  t.false(admit(m, "a".repeat(100) + "y" + "b".repeat(100)));
  t.true(admit(m, a));
});

test("a memo that is off keeps nothing", (t) => {
  const m = new ValueMemo(false);
  m.set("abc", known(1));
  t.is(m.get("abc"), undefined);
  t.is(m.size, 0);
  admit(m, "abc");
  t.false(admit(m, "abc"));
});

const rules = loadRules(bundledRulesDir());
const ctx = { route: "", path: "/" };

function get(uri: string, ua: string): WafInput {
  return { method: "GET", uri, protocol: "HTTP/1.1", headers: [["host", "shop.example"], ["user-agent", ua], ["accept", "text/html"]] };
}

test("the engine gives the same verdicts with and without its memory, in any order, an attack after a benign twin and back", (t) => {
  const warm = new WafEngine(rules, DEFAULT_SETTINGS);
  const cold = new WafEngine(rules, DEFAULT_SETTINGS, false);
  const ua = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0";
  const requests = [
    get("/search?q=running+shoes", ua),
    get("/search?q=1%27%20UNION%20SELECT%20password%20FROM%20users--", ua),
    get("/search?q=running+shoes", ua),
    get("/a?x=%3Cscript%3Ealert(1)%3C/script%3E", ua),
    get("/a?x=script", ua),
    get("/a?x=%3Cscript%3Ealert(1)%3C/script%3E", "sqlmap/1.7"),
    get("/search?q=running+shoes", ua),
  ];
  for (let round = 0; round < 3; round++) {
    for (const r of requests) {
      const a = warm.evaluate(r, ctx);
      const b = cold.evaluate(r, ctx);
      t.deepEqual(a.matches, b.matches, r.uri);
      t.is(a.action, b.action);
    }
  }
  t.is(warm.evaluate(requests[1]!, ctx).action, "block");
  t.is(warm.evaluate(requests[0]!, ctx).action, "pass");
});
