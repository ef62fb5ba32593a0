/**
 * A rule author's tool (not a benchmark): runs the CRS regression corpus
 * through the WAF engine in process, the way the proxy would see it, and
 * prints block rates per family beside ModSecurity + CRS, optionally with
 * the requests it missed or blocked wrongly.
 *
 *   node dist/bench/waf-eval.js [--rules DIR] [--paranoia N] [--family 942] [--misses] [--false-positives] [--limit N]
 */
import { loadRules } from "../proxy/waf/rule-file.js";
import { bundledRulesDir } from "../proxy/waf/settings.js";
import { blockingEngine, inprocVerdict, type InprocVerdict } from "./waf-corpus-inproc.js";
import { headline, loadCorpus, pct, tally, type CorpusEntry } from "./lib/waf-corpus.js";

interface Args {
  rules: string;
  paranoia: number;
  family?: string;
  misses: boolean;
  fps: boolean;
  limit: number;
}

function parse(argv: string[]): Args {
  const a: Args = { rules: bundledRulesDir(), paranoia: 1, misses: false, fps: false, limit: 40 };
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i];
    if (k === "--rules") a.rules = argv[++i]!;
    else if (k === "--paranoia") a.paranoia = Number(argv[++i]);
    else if (k === "--family") a.family = argv[++i];
    else if (k === "--misses") a.misses = true;
    else if (k === "--false-positives") a.fps = true;
    else if (k === "--limit") a.limit = Number(argv[++i]);
    else throw new Error(`unknown argument ${k}`);
  }
  return a;
}

function requestLine(raw: Buffer): string {
  const s = raw.toString("latin1");
  const end = s.indexOf("\r\n\r\n");
  const body = end < 0 ? "" : s.slice(end + 4, end + 204);
  return `${s.slice(0, s.indexOf("\n")).trim().slice(0, 200)}${body ? `  BODY ${JSON.stringify(body)}` : ""}`;
}

function main(): void {
  const a = parse(process.argv.slice(2));
  const engine = blockingEngine(loadRules(a.rules), a.paranoia);
  let entries = loadCorpus();
  if (a.family) entries = entries.filter((e) => e.family.includes(a.family!));
  const t0 = process.hrtime.bigint();
  const outcomes = entries.map((e) => inprocVerdict(engine, e));
  const us = Number(process.hrtime.bigint() - t0) / 1000 / entries.length;
  const rows = tally(
    entries,
    outcomes.map((o) => o.blocked),
  );
  console.log(`rules ${a.rules}: ${engine.rules.length} active at PL${a.paranoia}; ${entries.length} requests, ${us.toFixed(1)} µs each`);
  console.log("family | pl | expect | n | ours | crs4.28 | crs3.3");
  for (const r of rows) console.log(`${r.family.replace("REQUEST-", "")} | ${r.pl} | ${r.expect} | ${r.n} | ${pct(r.ours, r.n)} | ${pct(r.crs4, r.n)} | ${pct(r.crs3, r.n)}`);
  for (const h of headline(rows)) console.log(`${h.label}: ${h.n} requests, ours ${pct(h.ours, h.n)}, crs4 ${pct(h.crs4, h.n)}, crs3 ${pct(h.crs3, h.n)}`);
  const show = (label: string, pick: (e: CorpusEntry, o: InprocVerdict) => boolean): void => {
    const list = entries.map((e, i) => [e, outcomes[i]!] as const).filter(([e, o]) => pick(e, o));
    console.log(`\n${label}: ${list.length}`);
    for (const [e, o] of list.slice(0, a.limit)) console.log(`${e.id} pl${e.pl} crs4=${e.crs4} ${o.why} ${e.desc.slice(0, 80)}\n    ${requestLine(e.raw)}`);
  };
  if (a.misses) show("missed (detect, rule PL ≤ paranoia, not blocked)", (e, o) => e.expect === "detect" && e.pl <= a.paranoia && !o.blocked);
  if (a.fps) show("blocked quiet requests (rule PL ≤ paranoia)", (e, o) => e.expect === "quiet" && e.pl <= a.paranoia && o.blocked);
}

main();
