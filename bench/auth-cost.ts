/**
 * auth-cost: what request authentication adds per request, for each provider
 * (JWT ES256 and RS256, HMAC-SHA256, Basic with scrypt and bcrypt, API key),
 * against no authentication in the same run. In-process: µs per `authn`
 * filter decision. Through a real `mesh proxy` ingress: requests/s at 50
 * connections on a protected route against an unprotected one. Goals: a warm
 * JWT check and an API-key check each under 20 µs; no provider but a cold
 * bcrypt/scrypt check costs more than 10 % of throughput.
 */
import { runInProcess, inprocPlan, type InprocResult } from "./auth-cost-inproc.js";
import { BASELINE_OF, LoadDriver, PROTECTED, type LoadGen, type LoadPlan, type LoadRun } from "./auth-cost-load.js";
import { PROXY_ROUTES, startAuthProxy, type AuthTopology } from "./auth-cost-proxy.js";
import { addedUs, CASE_LABEL, cpuDrops, drops, GOAL_DROP, GOAL_WARM_US, inprocMarkdown, loadMarkdown, predictedDrops, TARGET_LABEL } from "./auth-cost-report.js";
import { APP_BODY_BYTES, expectedIdentity, makeCredentials } from "./auth-cost-setup.js";
import { ensureDebianTool, findExecutable } from "./lib/debian-tools.js";
import { startLoadWindow } from "./lib/load.js";
import { processCpuSeconds } from "./lib/process.js";
import { fmt, mdTable, median } from "./lib/stats.js";
import type { Benchmark, BenchContext, Row, Section } from "./lib/types.js";

function loadPlan(quick: boolean): LoadPlan {
  return quick
    ? { runs: 3, connections: 50, sliceS: 1, warmupS: 1, quietCores: 0.4, maxAttempts: 1 }
    : { runs: 5, connections: 50, sliceS: 2, warmupS: 2, quietCores: 0.4, maxAttempts: 3 };
}

const status = (ok: boolean) => (ok ? "PASS" : "FAIL");
const cores = (v: number | undefined) => (v === undefined ? "unknown" : `${v.toFixed(2)} cores`);

/** What was timed under load really passed authentication: no errors, the identity at the app, no credential there. */
async function checkLoad(topo: AuthTopology, runs: readonly LoadRun[], sent: Record<string, number>): Promise<string[]> {
  const problems: string[] = [];
  for (const t of PROTECTED) {
    const errors = runs.reduce((a, x) => a + x[t].subject.errors, 0);
    const baseErrors = runs.reduce((a, x) => a + x[t].base.errors, 0);
    if (errors > 0) problems.push(`${t}: ${errors} socket errors or non-2xx responses under load`);
    if (baseErrors > 0) problems.push(`${BASELINE_OF[t]} (next to ${t}): ${baseErrors} socket errors or non-2xx responses under load`);
  }
  const counts = await topo.counts();
  for (const r of PROXY_ROUTES) {
    const c = counts[r];
    const want = expectedIdentity(r);
    if (!c || c.total < (sent[r] ?? 0)) {
      problems.push(`route ${r}: the app saw ${c?.total ?? 0} requests, fewer than the ${sent[r] ?? 0} the load generator completed`);
      continue;
    }
    if (!want) {
      if (Object.keys(c.identity).length > 0) problems.push(`route ${r}: an unprotected request reached the app with an identity header`);
      continue;
    }
    const seen = c.identity[`${want.header}=${want.value}`] ?? 0;
    if (seen !== c.total) problems.push(`route ${r}: ${c.total - seen} of ${c.total} requests reached the app without ${want.header}: ${want.value}`);
    if (c.credential > 0) problems.push(`route ${r}: ${c.credential} requests reached the app still carrying the credential`);
  }
  if (problems.length > 0) throw new Error(`checks failed: ${problems.join("; ")}`);
  const total = PROXY_ROUTES.reduce((a, r) => a + (counts[r]?.total ?? 0), 0);
  return [
    "no socket errors and no non-2xx responses under load (a refused credential would have answered 401)",
    `the app saw ${fmt(total)} requests; on every protected route each one carried the identity the proxy sets (x-user-id for JWT, x-consumer-username otherwise) and none still carried the credential; no request on the unprotected route carried an identity`,
    "before timing, every protected route answered 401 without a credential and 200 with it",
  ];
}

export const authCost: Benchmark = {
  name: "auth-cost",
  description: "added cost per request of each authentication provider (JWT, HMAC, Basic, API key), in-process and through the proxy",
  budgetMs: 20 * 60_000,
  async unavailable(ctx: BenchContext): Promise<string | undefined> {
    // wrk is optional: without it the load comes from an undici client in its own process
    const wrk = await ensureDebianTool("wrk", "wrk", ctx.log);
    if (!wrk.path) ctx.log(`${wrk.why}; using the undici load client instead`);
    return undefined;
  },
  async run(ctx: BenchContext): Promise<Section> {
    const ip = inprocPlan(ctx.quick);
    const lp = loadPlan(ctx.quick);
    ctx.log("making keys and credential files (hashing Basic passwords)");
    const creds = await makeCredentials(ctx.tempDir("auth-cost-creds-"));

    const w1 = startLoadWindow();
    const inproc: InprocResult = await runInProcess(ctx, creds, ip);
    const loadInproc = w1.stop();

    const wrkBin = findExecutable("wrk");
    const gen: LoadGen = wrkBin ? { kind: "wrk", bin: wrkBin } : { kind: "undici" };
    const genText = wrkBin
      ? "wrk (1 thread); HMAC requests come from a list of requests signed just before each slice, handed out by a Lua `request()`"
      : "an undici Pool in its own Node.js process (wrk was not installed, so the load generator is not pinned), which signs each HMAC request as it goes";
    const w2 = startLoadWindow();
    const t2 = Date.now();
    const topo = await startAuthProxy(ctx, creds);
    const driver = new LoadDriver(ctx, topo, creds, gen, lp);
    ctx.log("load warm-up");
    await driver.warmup();
    const runs: LoadRun[] = [];
    for (let i = 0; i < lp.runs; i++) {
      ctx.log(`load run ${i + 1}/${lp.runs}`);
      runs.push(await driver.run(i));
    }
    // the proxy and the app are children not reaped yet: load.ts would count them as other processes
    const busy2 = w2.stop();
    const ours2 = processCpuSeconds(topo.proxy.pid) + processCpuSeconds(topo.app.pid);
    const loadProxy = busy2 === undefined || !Number.isFinite(ours2) ? busy2 : Math.max(0, busy2 - ours2 / ((Date.now() - t2) / 1000));
    const checks = await checkLoad(topo, runs, driver.sent);

    type GoalCase = "jwt-es-warm" | "jwt-rs-warm" | "jwt-es-warm-full" | "key";
    const warm = (k: GoalCase) => median(inproc.us[k]);
    const usGoals: Array<[GoalCase, string]> = [
      ["jwt-es-warm", "warm JWT ES256 check"],
      ["jwt-rs-warm", "warm JWT RS256 check"],
      ["jwt-es-warm-full", "warm JWT ES256 check, full token cache"],
      ["key", "API-key check"],
    ];
    const rows: Row[] = [
      ...usGoals.map(([k, what]): Row => ({ metric: `in-process ${what}, µs per decision (median)`, value: fmt(warm(k), 2), goal: `< ${GOAL_WARM_US} µs`, status: status(warm(k) < GOAL_WARM_US) })),
      { metric: "  no-rule baseline, µs per decision", value: fmt(median(inproc.us.none), 2), status: "info" },
      { metric: "  cold JWT ES256 / RS256, µs per decision", value: `${fmt(median(inproc.us["jwt-es-cold"]), 1)} / ${fmt(median(inproc.us["jwt-rs-cold"]), 1)}`, status: "info" },
      { metric: "  HMAC-SHA256 / warm Basic, µs per decision", value: `${fmt(median(inproc.us.hmac), 2)} / ${fmt(median(inproc.us["basic-warm"]), 2)}`, status: "info" },
      {
        metric: "  full default-size caches: JWT ES256 hit / Basic hit / HMAC (replay cache full), µs per decision",
        value: `${fmt(median(inproc.us["jwt-es-warm-full"]), 2)} / ${fmt(median(inproc.us["basic-warm-full"]), 2)} / ${fmt(median(inproc.us["hmac-full"]), 2)}`,
        status: "info",
      },
      { metric: "  cold Basic scrypt / bcrypt 10 / bcrypt 12, ms per check", value: `${fmt(median(inproc.cold.scrypt.ms), 1)} / ${fmt(median(inproc.cold.bcrypt10.ms), 1)} / ${fmt(median(inproc.cold.bcrypt12.ms), 1)}`, status: "info" },
      ...PROTECTED.flatMap((t): Row[] => {
        const d = median(drops(runs, t));
        return [
          { metric: `throughput drop at ${lp.connections} connections, ${t} (vs ${BASELINE_OF[t]})`, value: `${fmt(d * 100, 1)} %`, goal: `≤ ${GOAL_DROP * 100} %`, status: status(d <= GOAL_DROP) },
          {
            metric: `  ${t}: added proxy CPU µs per request / drop if CPU-bound / predicted from in-process`,
            value: `${fmt(median(runs.map((x) => x[t].subject.proxyUsPerReq - x[t].base.proxyUsPerReq)), 1)} / ${fmt(median(cpuDrops(runs, t)) * 100, 1)} % / ${fmt(median(predictedDrops(runs, inproc, t)) * 100, 1)} %`,
            status: "info",
          },
        ];
      }),
      { metric: "  unprotected route req/s (same runs)", value: fmt(median(runs.flatMap((x) => PROTECTED.filter((t) => BASELINE_OF[t] === "open").map((t) => x[t].base.reqPerSec)))), status: "info" },
    ];

    const goalRows = [
      ...usGoals.map(([k]) => [`${CASE_LABEL[k]}, in-process`, `< ${GOAL_WARM_US} µs per decision`, `${fmt(warm(k), 2)} µs (added ${fmt(median(addedUs(inproc, k)), 2)})`, `**${status(warm(k) < GOAL_WARM_US)}**`]),
      ...PROTECTED.map((t) => {
        const d = median(drops(runs, t));
        return [`${TARGET_LABEL[t]}, throughput through the proxy`, `≤ ${GOAL_DROP * 100} % fewer req/s than ${BASELINE_OF[t] === "open" ? "the unprotected route" : "its baseline"}`, `${fmt(d * 100, 1)} %`, `**${status(d <= GOAL_DROP)}**`];
      }),
    ];
    const truncated = inproc.truncated.length > 0 ? `\n**Warning:** a time limit cut these loops short: ${inproc.truncated.join(", ")}; their figures are per call of the calls made.` : "";
    const markdown = [
      mdTable(["goal", "target", "median", "result"], goalRows),
      "",
      "Cold bcrypt and scrypt checks are outside the throughput goal: they cost what they are made to cost (tens to hundreds of ms of CPU per check), and the verify cache exists so that only the first request of a client pays them (figures below).",
      `Other processes on the machine (${ctx.machine.cores} cores) used ${cores(loadInproc)} on average during the in-process part and ${cores(loadProxy)} during the proxy part (bench/lib/load.ts; the proxy and the app are not counted as other processes).${(loadInproc ?? 0) > 0.2 || (loadProxy ?? 0) > 0.2 ? " **The machine was shared: absolute figures are biased low, and the same-run baselines are what makes them comparable.**" : ""}`,
      truncated,
      "",
      "### In-process: µs per `authn` decision",
      "",
      "The filter is built with `authnFilter.create` from the same config block the proxy gets (the demo's provider settings: ES256/RS256 JWKS files with `claim_to_headers`, HMAC with `enforce_headers: [date, request-line]`, an htpasswd file, an API-key file), with the real clock. Each request is a pre-built `FilterRequest` as the ingress listener hands it over; tokens and signatures are made with node:crypto before timing.",
      "",
      inprocMarkdown(inproc),
      "",
      "### Through `mesh proxy`: requests/s on a protected route vs an unprotected one",
      "",
      `One \`mesh proxy\` (ingress listener, plain HTTP, \`access_log: off\`) whose only filter is the \`authn\` block above, one route per provider and an unprotected one, all to a trivial app (node:http, ${APP_BODY_BYTES}-byte body) in its own process over a plain local cluster. Its identity comes from an in-process CA through an in-process SdsServer, as from an agent (a sidecar does not listen before it holds one). JWT, Basic and API-key requests repeat one credential (warm caches); ${gen.kind === "wrk" ? "HMAC requests each carry a new signature with the replay check on, from a list sized at 1.6× the fastest rate seen so far (a slice whose list ran out would fail the benchmark)" : "HMAC requests each carry a new signature with the replay check on"}.`,
      "",
      `Placement: ${topo.placement}.`,
      "",
      loadMarkdown(runs, lp, genText, inproc),
      "",
      `Checked. In-process: ${inproc.checks.join("; ")}. Through the proxy: ${checks.join("; ")}.`,
      ctx.quick ? "\nQuick run: fewer runs and calls; smoke figures only." : "",
    ].join("\n");
    return { markdown: markdown.replace(/\n{3,}/g, "\n\n"), rows };
  },
};
