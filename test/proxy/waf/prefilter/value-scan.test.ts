import test, { type ExecutionContext } from "ava";
import { featuresOf } from "../../../../proxy/waf/prefilter/features.js";
import { TriggerMatcher } from "../../../../proxy/waf/prefilter/trigger-matcher.js";
import { ValueScanner, valueHash } from "../../../../proxy/waf/prefilter/value-scan.js";
import { seededRandom } from "../../../helpers/seeded-random.js";

/** Slots with overlapping literals, one above U+00FF, one found in upper case too. */
const LITERALS = [["select", "union"], ["<script", "script"], ["../", "..\\"], ["\uff1cscript"], ["%2e", "e"], ["--", "/*"]];

/** Pieces of the literals, the units features react to, and plain text. */
const POOL = ["sel", "ect", "SELECT", "uni", "on", "<", "scr", "ipt", "..", "/", "\\", "\uff1c", "%2", "e", "-", "*", " ", "  ", "\t", "\0", "é", "\u0130", "a", "Z", "0", "'", "&", "+", "#"];

function sample(next: () => number): string {
  const n = Math.floor(next() * 12);
  let s = "";
  for (let i = 0; i < n; i++) s += POOL[Math.floor(next() * POOL.length)]!;
  return s;
}

/** Scans many sampled values with a scanner over `literals` and checks them against the three passes alone. */
function onePass(t: ExecutionContext, literals: readonly (readonly string[])[]): void {
  const matcher = new TriggerMatcher(literals);
  const scanner = new ValueScanner(matcher);
  const seen = new Uint8Array(matcher.slots);
  const next = seededRandom(7);
  let hits = 0;
  scanner.scan("");
  const none = scanner.hits;
  for (let i = 0; i < 20_000; i++) {
    const s = i === 0 ? "" : sample(next);
    const alone: number[] = [];
    matcher.slotsIn(s, alone, seen);
    const f = scanner.scan(s);
    const together = scanner.hits;
    if (f !== featuresOf(s) || scanner.hash !== valueHash(s) || together.join() !== alone.join()) {
      t.fail(`${JSON.stringify(s)}: features ${f} / ${featuresOf(s)}, slots ${together.join()} / ${alone.join()}`);
      return;
    }
    if (together.length > 0) hits++;
    t.true(seen.every((x) => x === 0));
    if (together.length === 0 && together !== none) t.fail(`${JSON.stringify(s)}: a value without hits got an array of its own`);
  }
  // the pool makes literals often enough that the hit path is exercised
  t.true(hits > 2000, String(hits));
}

test("one pass gives what featuresOf, the automaton and valueHash give on their own", (t) => onePass(t, LITERALS));

test("the same with more than 255 classes of byte units (which the scanner cannot pack with the features)", (t) => {
  // classes are numbered as characters are first met: 40 above U+00FF first push the byte units' classes past 255
  const wide = Array.from({ length: 40 }, (_, i) => String.fromCharCode(0x400 + i));
  const bytes = Array.from({ length: 256 }, (_, c) => String.fromCharCode(c) + "~");
  t.false(scannerPacks([[...wide, ...bytes]]));
  t.true(scannerPacks(LITERALS));
  onePass(t, [[...wide, ...bytes], ...LITERALS]);
});

function scannerPacks(literals: readonly (readonly string[])[]): boolean {
  return new ValueScanner(new TriggerMatcher(literals)).packed;
}

test("the hash tells apart values that differ anywhere, and their length", (t) => {
  const hashes = new Set(["abc", "abd", "bbc", "abcd", "ab", "a".repeat(300) + "x" + "a".repeat(300), "a".repeat(601)].map(valueHash));
  t.is(hashes.size, 7);
});
