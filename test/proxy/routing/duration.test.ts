import test from "ava";
import { z } from "zod";
import { durationMs, formatDurationMs, parseDurationMs } from "../../../proxy/duration.js";

test("durations parse to whole milliseconds", (t) => {
  t.is(parseDurationMs("250ms"), 250);
  t.is(parseDurationMs("5s"), 5000);
  t.is(parseDurationMs("1m"), 60_000);
  t.is(parseDurationMs("1h"), 3_600_000);
  t.is(parseDurationMs("1m30s"), 90_000);
  t.is(parseDurationMs("1.5s"), 1500);
  t.is(parseDurationMs("0.1s"), 100);
  t.is(parseDurationMs("0s"), 0);
});

test("junk, bare numbers, negatives, repeats and huge values are rejected", (t) => {
  for (const bad of ["", "5", "-5s", "5 s", " 5s", "5sec", "s", "1s1s", "5d", "0.5ms", "25h", "1e3ms", "5s ", "x".repeat(40), "NaNs"]) {
    t.is(parseDurationMs(bad), undefined, bad);
  }
});

test("formatDurationMs round-trips", (t) => {
  for (const ms of [0, 1, 250, 1000, 1500, 60_000, 90_000, 3_600_000]) t.is(parseDurationMs(formatDurationMs(ms)), ms);
  t.is(formatDurationMs(90_000), "90s");
  t.is(formatDurationMs(60_000), "1m");
});

test("the zod schema bounds values and says what was expected", (t) => {
  const s = z.object({ d: durationMs({ min: 100, max: 10_000 }) });
  t.deepEqual(s.parse({ d: "2s" }), { d: 2000 });
  const low = s.safeParse({ d: "50ms" });
  t.false(low.success);
  t.regex(low.error!.issues[0]!.message, /from 100ms to 10s/);
  t.false(s.safeParse({ d: "11s" }).success);
  const junk = s.safeParse({ d: "soon" });
  t.regex(junk.error!.issues[0]!.message, /expected a duration/);
  t.false(s.safeParse({ d: 5 }).success);
  t.is(z.object({ d: durationMs() }).safeParse({ d: "0s" }).success, false, "0s is refused unless min is 0");
  t.deepEqual(z.object({ d: durationMs({ min: 0 }) }).parse({ d: "0s" }), { d: 0 });
});
