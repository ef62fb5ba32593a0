/**
 * waf-corpus: the CRS regression corpus (4,832 requests with the verdicts of
 * nginx + ModSecurity + CRS 4.28 and 3.3.4 at paranoia 1) replayed byte for
 * byte through a running `mesh proxy` whose ingress listener has the `waf`
 * filter in blocking mode, at paranoia 1 and at paranoia 2, in front of an
 * app that answers 200 to everything. Block rates per attack family and
 * rule paranoia level beside the reference columns; goals at paranoia 1:
 * ≥ 97.5 % of the `detect` requests of PL1 rules blocked, ≤ 23 % of the PL1
 * `quiet` requests blocked. The proxy's verdicts are compared with the
 * in-process engine's on the same rule snapshot.
 */
import { SdsIdentities } from "./lib/identities.js";
import { splitCpus } from "./lib/process.js";
import { fmt } from "./lib/stats.js";
import type { Benchmark, BenchContext, Row, Section } from "./lib/types.js";
import { headline, isBlockedStatus, loadCorpus, pct, tally, type CorpusEntry } from "./lib/waf-corpus.js";
import { evaluateCorpus } from "./waf-corpus-inproc.js";
import { differenceMarkdown, differences, familyTable, goalRows, goalTable, headlineTable, noResponse, noResponseList, referenceOddities, replayTable, type LevelRun } from "./waf-corpus-report.js";
import { outcomeBlocked, replayAll, replayOne } from "./waf-corpus-replay.js";
import { describeRules, snapshotRules, startWafApp, startWafProxy, type WafProxy } from "./waf-corpus-setup.js";

const LEVELS = [1, 2] as const;
/** Corpus requests replayed once, untimed, before each replay. */
const WARMUP_REQUESTS = 200;

interface Plan {
  concurrency: number;
  timeoutMs: number;
  /** Every `stride`-th corpus entry (1: all). */
  stride: number;
}

const planFor = (quick: boolean): Plan => (quick ? { concurrency: 16, timeoutMs: 2000, stride: 5 } : { concurrency: 16, timeoutMs: 5000, stride: 1 });

export const wafCorpus: Benchmark = {
  name: "waf-corpus",
  description: "CRS regression corpus replayed through the proxy's WAF (blocking, paranoia 1 and 2) beside nginx + ModSecurity + CRS",
  budgetMs: 10 * 60_000,
  async unavailable(): Promise<string | undefined> {
    try {
      loadCorpus();
      return undefined;
    } catch (err) {
      return (err as Error).message;
    }
  },
  async run(ctx: BenchContext): Promise<Section> {
    const plan = planFor(ctx.quick);
    const all = loadCorpus();
    const entries: CorpusEntry[] = all.filter((_, i) => i % plan.stride === 0);
    const snap = await snapshotRules(ctx);
    ctx.log(`${entries.length} requests; rules ${snap.files.join(", ")} (${snap.rules.length} rules, ${snap.digest})`);

    // the proxies get the last CPU, the app the others; the replay client (this process) is not pinned
    const split = splitCpus();
    const proxyCpu = split?.target;
    const appCpus = split?.clients;
    const app = await startWafApp(ctx, appCpus);
    const ids = new SdsIdentities(ctx, ctx.tempDir("waf-corpus-ids-"));
    const proxies: WafProxy[] = [];
    for (const pl of LEVELS) {
      ctx.log(`starting mesh proxy with waf {mode: block, paranoia: ${pl}}`);
      proxies.push(await startWafProxy(ctx, ids, { name: `waf-corpus-pl${pl}`, appPort: app.port, waf: { mode: "block", paranoia: pl, rules: snap.dir }, cpuList: proxyCpu }));
    }
    await probe(proxies);

    const levels: LevelRun[] = [];
    for (const [k, pl] of LEVELS.entries()) {
      ctx.log(`replaying at paranoia ${pl}`);
      // a short untimed pass first, so the replay rate is not that of a cold process
      await replayAll(
        entries.slice(0, WARMUP_REQUESTS).map((e) => e.raw),
        { port: proxies[k]!.port, concurrency: plan.concurrency, timeoutMs: plan.timeoutMs },
      );
      const before = await app.counts();
      const r = await replayAll(
        entries.map((e) => e.raw),
        { port: proxies[k]!.port, concurrency: plan.concurrency, timeoutMs: plan.timeoutMs },
      );
      const after = await app.counts();
      const blocked = r.outcomes.map((o) => outcomeBlocked(o, isBlockedStatus));
      const passed = blocked.filter((b) => !b).length;
      // every request the proxy answered 200 must have reached the app (a 404 or a 200 made up by the proxy would be a bug)
      const reached = after.requests - before.requests;
      if (reached < passed) throw new Error(`paranoia ${pl}: ${passed} requests passed but the app saw only ${reached}`);
      const inproc = evaluateCorpus(entries, snap.rules, pl);
      levels.push({ paranoia: pl, outcomes: r.outcomes, blocked, rows: tally(entries, blocked), seconds: r.seconds, inproc });
      ctx.log(`paranoia ${pl}: ${fmt(entries.length / r.seconds)} requests/s, ${blocked.length - passed} blocked, ${differences(levels[levels.length - 1]!).length} differ from in-process`);
    }
    return report(ctx, entries, all.length, levels, plan, describeRules(snap), snap.rules.length, snap.digest, proxies[0]!.listenerYaml, split ? `proxies pinned to CPU ${proxyCpu}, app to CPU ${appCpus}` : "nothing pinned");
  },
};

/** Before replaying: a plain GET passes both proxies and an obvious SQL injection is refused with 403. */
async function probe(proxies: readonly WafProxy[]): Promise<void> {
  const req = (target: string) => Buffer.from(`GET ${target} HTTP/1.1\r\nHost: localhost\r\nUser-Agent: waf-corpus probe\r\nAccept: */*\r\nConnection: close\r\n\r\n`, "latin1");
  for (const p of proxies) {
    const ok = await replayOne(req("/index.html?page=2"), "127.0.0.1", p.port, 5000);
    if (ok.kind !== "status" || ok.status !== 200) throw new Error(`${p.name}: a plain GET got ${JSON.stringify(ok)}, expected 200 (proxy: ${p.peer.stderrTail().slice(-300)})`);
    const bad = await replayOne(req("/?id=1%27%20UNION%20SELECT%20password%20FROM%20users--"), "127.0.0.1", p.port, 5000);
    if (bad.kind !== "status" || bad.status !== 403) throw new Error(`${p.name}: an obvious SQL injection got ${JSON.stringify(bad)}, expected 403: is the WAF on?`);
  }
}

function report(
  ctx: BenchContext,
  entries: readonly CorpusEntry[],
  corpusSize: number,
  levels: readonly LevelRun[],
  plan: Plan,
  files: string,
  ruleCount: number,
  digest: string,
  listenerYaml: string,
  placement: string,
): Section {
  const pl1 = levels[0]!;
  const pl2 = levels[1]!;
  const rows: Row[] = [...goalRows(pl1)];
  for (const l of levels) {
    const nr = noResponse(l);
    rows.push({ metric: `  paranoia ${l.paranoia}: replay requests/s; closed / reset / timed out without a response`, value: `${fmt(l.outcomes.length / l.seconds)}; ${nr.closed} / ${nr.reset} / ${nr.timeout}`, status: "info" });
    rows.push({ metric: `  paranoia ${l.paranoia}: requests where the proxy and the in-process engine differ`, value: fmt(differences(l).length, 0), status: "info" });
  }
  const d2 = headline(pl2.rows)[1]!;
  rows.push({ metric: "  paranoia 2: detect requests of PL2 rules blocked (CRS 4.28 at PL1)", value: `${pct(d2.ours, d2.n)} (${pct(d2.crs4, d2.n)})`, status: "info" });

  const sample = entries.length === corpusSize ? `all ${fmt(corpusSize, 0)} requests` : `every ${plan.stride}th request (${fmt(entries.length, 0)} of ${fmt(corpusSize, 0)})`;
  const nrText = levels
    .map((l) => {
      const nr = noResponse(l);
      return `paranoia ${l.paranoia}: ${nr.closed} closed and ${nr.reset} reset without a response, ${nr.timeout} timed out`;
    })
    .join("; ");
  const markdown = [
    goalTable(pl1),
    "",
    `Each request's \`raw\` bytes were sent as they are over a new TCP connection to a \`mesh proxy\` ingress listener (${sample}); blocked = any status but 200 and 404 (the corpus README's rule, the same one its reference columns use). **A connection closed or reset without a response, or no response within ${plan.timeoutMs / 1000} s, also counts as blocked** (${nrText}). The reference columns are the corpus's own: nginx + ModSecurity 3.0.9 with CRS 4.28.0 and with Debian's CRS 3.3.4, both at paranoia 1 in blocking mode; there is no reference at paranoia 2.`,
    "",
    "### Headline sets",
    "",
    headlineTable(levels),
    "",
    "### Per attack family, rule paranoia level and expectation",
    "",
    "`detect`: an attack the CRS rule must catch; `quiet`: a near miss it must not fire on (it may still be an attack for another rule). Rule PL is the paranoia level of the CRS rule the test is about; at paranoia 1 only PL1 rules are expected to fire.",
    "",
    familyTable(levels),
    "",
    "### The replay",
    "",
    replayTable(levels, plan.concurrency),
    "",
    `Requests without a status (counted as blocked): ${levels.map((l) => noResponseList(entries, l)).join("; ")}. Outcomes the reference peers themselves gave besides 200 and 403: ${referenceOddities(entries) || "none"}.`,
    "",
    "### Proxy against the in-process engine",
    "",
    "The in-process verdict is bench/waf-eval.ts's: the raw bytes parsed with `parseRawHttp`, the path normalised as the proxy does (a refused path counts as blocked), then `WafEngine.evaluate` with the same rule snapshot and settings. A difference shows where the proxy's HTTP server or request handling decides before the WAF does (Node's HTTP parser refusing a malformed request, header-count and body limits), or where the proxy hands the WAF something else than the raw bytes say. The proxy's own refusals carry a JSON body with an error code (shown after the status); a 400 with an empty body comes from its `clientError` handler, i.e. Node's HTTP parser refused the bytes before any proxy code saw a request.",
    "",
    ...levels.flatMap((l) => [differenceMarkdown(entries, l), ""]),
    "### Set-up",
    "",
    `- Rules: a snapshot of waf-rules/ taken at the start (${files}; ${ruleCount} rules in all, SHA-256 ${digest}…), loaded by both proxies (\`rules:\` pointing at the snapshot) and by the in-process engine; active rules: ${levels.map((l) => `${l.inproc.activeRules} at paranoia ${l.paranoia}`).join(", ")}.`,
    `- Two \`mesh proxy\` processes (one per paranoia level, plain HTTP ingress listener, \`access_log: off\`, no audit database), identities from an in-process CA over an in-process SdsServer; the app (node:http, own process) answers 200 with 100 bytes to any method and path after reading the body. ${placement}.`,
    `- Replay: ${plan.concurrency} requests in flight, one connection each, ${plan.timeoutMs / 1000} s timeout, 1xx interim responses skipped; the first ${WARMUP_REQUESTS} requests were sent once, untimed, before each replay. Before replaying, each proxy answered a plain GET with 200 and \`/?id=1' UNION SELECT password FROM users--\` with 403; after each replay the app had seen at least as many requests as passed.`,
    "",
    "The listener as configured (paranoia 1; the paranoia 2 proxy differs only in `paranoia`):",
    "",
    "```yaml",
    listenerYaml.replace(snapshotPathPattern(), "<snapshot of waf-rules/>"),
    "```",
    ctx.quick ? "\nQuick run: a fifth of the corpus; smoke figures only." : "",
  ].join("\n");
  return { markdown: markdown.replace(/\n{3,}/g, "\n\n"), rows };
}

const snapshotPathPattern = (): RegExp => /\/\S*mesh-bench-waf-rules-\S*/g;
