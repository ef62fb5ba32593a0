/**
 * The in-process verdict on each corpus request (raw bytes → parseRawHttp →
 * the proxy's path normalisation → WafEngine.evaluate in blocking mode):
 * what the waf-corpus bench compares the proxy's answers with, and what the
 * rule authors' tool bench/waf-eval.ts prints.
 */
import { performance } from "node:perf_hooks";
import { isPathRejection, normalizePath } from "../proxy/filters/path-normalize.js";
import type { CompiledRule } from "../proxy/waf/compile.js";
import { WafEngine } from "../proxy/waf/engine.js";
import { parseRawHttp } from "../proxy/waf/raw-http.js";
import { settingsFrom, wafConfigSchema } from "../proxy/waf/settings.js";
import type { CorpusEntry } from "./lib/waf-corpus.js";

export interface InprocVerdict {
  readonly blocked: boolean;
  /** "waf:<rule ids>", "proxy:<path refusal code>", or "parse:<error code>" when the bytes are not a request the parser takes. */
  readonly why: string;
}

export interface InprocResult {
  verdicts: InprocVerdict[];
  /** Mean µs per request (parse + normalise + evaluate). */
  usPerRequest: number;
  activeRules: number;
}

export function blockingEngine(rules: readonly CompiledRule[], paranoia: number): WafEngine {
  return new WafEngine(rules, settingsFrom(wafConfigSchema.parse({ mode: "block", paranoia })));
}

export function inprocVerdict(engine: WafEngine, e: CorpusEntry): InprocVerdict {
  let input;
  try {
    input = parseRawHttp(e.raw);
  } catch (err) {
    return { blocked: true, why: `parse:${(err as { code?: string }).code ?? "error"}` };
  }
  const q = input.uri.indexOf("?");
  const path = normalizePath(q < 0 ? input.uri : input.uri.slice(0, q));
  if (isPathRejection(path)) return { blocked: true, why: `proxy:${path.code}` };
  const v = engine.evaluate(input, { route: "all", path });
  const ids = v.matches.map((m) => m.id).join(",");
  return { blocked: v.action === "block", why: v.limit !== undefined ? `waf-limit:${v.limit}` : `waf:${ids}` };
}

export function evaluateCorpus(entries: readonly CorpusEntry[], rules: readonly CompiledRule[], paranoia: number): InprocResult {
  const engine = blockingEngine(rules, paranoia);
  const t0 = performance.now();
  const verdicts = entries.map((e) => inprocVerdict(engine, e));
  const ms = performance.now() - t0;
  return { verdicts, usPerRequest: entries.length === 0 ? 0 : (ms * 1000) / entries.length, activeRules: engine.rules.length };
}
