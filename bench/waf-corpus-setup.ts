/**
 * What the WAF benchmarks (waf-corpus, waf-speed) put on the machine: the
 * app that answers 200 to everything (own process), and `mesh proxy`
 * processes with one ingress listener (plain HTTP, one route matching every
 * host and path → the app) and a `waf` filter block, their identities from
 * bench/lib/identities.ts.
 *
 * The rules come from a snapshot of waf-rules/ taken once per benchmark:
 * other people edit those files while benchmarks run, and the proxy and the
 * in-process engine must judge with the same rules.
 */
import { createHash } from "node:crypto";
import { copyFileSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { stringify } from "yaml";
import type { CompiledRule } from "../proxy/waf/compile.js";
import { loadRules } from "../proxy/waf/rule-file.js";
import { bundledRulesDir } from "../proxy/waf/settings.js";
import { COUNTS_PATH, type AppCounts } from "./waf-corpus-app.js";
import { httpGet } from "./lib/http-get.js";
import type { SdsIdentities } from "./lib/identities.js";
import { freePort, listenerPort, meshProxyConfig, startMeshProxy } from "./lib/mesh-proxy.js";
import { startPeer, type PeerProcess } from "./lib/process.js";
import type { BenchContext } from "./lib/types.js";

export interface RulesSnapshot {
  /** Directory holding the copied rule files. */
  dir: string;
  files: string[];
  /** Compiled rules (every paranoia level). */
  rules: readonly CompiledRule[];
  /** First 12 hex digits of the SHA-256 over the files, for the section. */
  digest: string;
  /** Rule files left out because they did not compile. */
  skipped: { file: string; error: string }[];
}

/**
 * Copies the bundled rule files and compiles the copy. A file caught half
 * written fails to compile: the copy is taken again a few times; after that
 * the files that do not compile on their own are left out (and listed), so
 * the benchmark measures the rules that work.
 */
export async function snapshotRules(ctx: BenchContext, source = bundledRulesDir()): Promise<RulesSnapshot> {
  const dir = ctx.tempDir("waf-rules-");
  let files: string[] = [];
  let lastError: unknown;
  for (let attempt = 1; attempt <= 3; attempt++) {
    files = copyRules(source, dir);
    try {
      return { dir, files, rules: loadRules(dir), digest: digestOf(dir, files), skipped: [] };
    } catch (err) {
      lastError = err;
      ctx.log(`rules in ${source} do not compile (${(err as Error).message.slice(0, 200)}); copying again in 2 s`);
      await sleep(2000);
    }
  }
  const skipped: { file: string; error: string }[] = [];
  for (const f of files) {
    try {
      loadRules(join(dir, f));
    } catch (err) {
      skipped.push({ file: f, error: (err as Error).message.replace(dir, "waf-rules").slice(0, 300) });
      rmSync(join(dir, f), { force: true });
    }
  }
  const kept = files.filter((f) => !skipped.some((x) => x.file === f));
  if (kept.length === 0) throw new Error(`no rule file in ${source} compiles: ${(lastError as Error).message}`);
  ctx.log(`left out rule files that do not compile: ${skipped.map((x) => x.file).join(", ")}`);
  return { dir, files: kept, rules: loadRules(dir), digest: digestOf(dir, kept), skipped };
}

function copyRules(source: string, dir: string): string[] {
  const files = readdirSync(source)
    .filter((f) => /\.ya?ml$/.test(f))
    .sort();
  for (const f of readdirSync(dir)) rmSync(join(dir, f), { force: true }); // copies from a failed attempt
  for (const f of files) copyFileSync(join(source, f), join(dir, f));
  return files;
}

function digestOf(dir: string, files: readonly string[]): string {
  const hash = createHash("sha256");
  for (const f of files) hash.update(f).update(readFileSync(join(dir, f)));
  return hash.digest("hex").slice(0, 12);
}

/** "a.yaml, b.yaml (c.yaml left out: it does not compile: …)" for a section. */
export function describeRules(snap: RulesSnapshot): string {
  const out = snap.skipped.length > 0 ? ` (**left out, not compiling when the benchmark started:** ${snap.skipped.map((x) => `${x.file}: ${x.error}`).join("; ")})` : "";
  return `${snap.files.join(", ")}${out}`;
}

export interface WafApp {
  peer: PeerProcess;
  port: number;
  counts(): Promise<AppCounts>;
}

export async function startWafApp(ctx: BenchContext, cpuList: string | undefined): Promise<WafApp> {
  const dir = ctx.tempDir("waf-app-");
  const readyFile = join(dir, "app.ready.json");
  const peer = await startPeer({ command: process.execPath, args: [join(ctx.repoRoot, "dist/bench/waf-corpus-app.js"), readyFile], readyFile, readyTimeoutMs: 15_000, cpuList });
  ctx.onCleanup(() => peer.stop());
  const port = (peer.ready as { port: number }).port;
  return { peer, port, counts: async () => JSON.parse((await httpGet(`http://127.0.0.1:${port}${COUNTS_PATH}`)).body) as AppCounts };
}

export interface WafProxyOptions {
  /** Workload name (also the SPIFFE ID's last segment). */
  name: string;
  appPort: number;
  /** The `waf` filter block, or undefined for no filter. */
  waf?: Record<string, unknown>;
  cpuList?: string;
}

export interface WafProxy {
  name: string;
  port: number;
  peer: PeerProcess;
  /** The config as written, for the section. */
  listenerYaml: string;
}

/** `mesh proxy` with one ingress listener, the waf filter (if any) and one catch-all route to the app. */
export async function startWafProxy(ctx: BenchContext, ids: SdsIdentities, o: WafProxyOptions): Promise<WafProxy> {
  const listener = {
    name: "ingress",
    kind: "ingress",
    listen: "127.0.0.1:0",
    filters: o.waf ? [{ waf: o.waf }] : [],
    routes: [{ name: "all", cluster: "app" }],
  };
  // no access log and no audit database: both would cost the same with and without the WAF
  const config = meshProxyConfig({ name: o.name, sdsSocket: await ids.socketFor(o.name), adminPort: await freePort(), listeners: [listener], clusters: [{ name: "app", endpoints: [`127.0.0.1:${o.appPort}`] }] });
  const peer = await startMeshProxy(ctx, { dir: ctx.tempDir(`waf-proxy-${o.name}-`), name: "proxy", config, cpuList: o.cpuList });
  return { name: o.name, port: listenerPort(peer, "ingress", `proxy ${o.name}`), peer, listenerYaml: stringify({ filters: listener.filters, routes: listener.routes }).trim() };
}
