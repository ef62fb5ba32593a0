/**
 * The `waf` filter: runs the WAF engine (proxy/waf/) on requests of
 * ingress and inbound listeners, after authentication. It audits every
 * block and every detection itself (action waf.block / waf.detect, with the
 * rule ids, targets and truncated matches), so the chain is told to keep
 * quiet about its denials.
 */
import { isAbsolute, resolve } from "node:path";
import type { AuditSink } from "../../audit/event.js";
import { WafEngine, type WafVerdict } from "../waf/engine.js";
import { isWafError } from "../waf/errors.js";
import { loadRules } from "../waf/rule-file.js";
import { bundledRulesDir, settingsFrom, wafConfigSchema, type WafConfig } from "../waf/settings.js";
import type { CompiledRule } from "../waf/compile.js";
import type { WafInput } from "../waf/types.js";
import type { Denial, FilterFactory, FilterRequest, HttpFilter } from "./types.js";

/** Compiled rule sets by absolute path: config validation and the filter share one compilation. */
const compiled = new Map<string, readonly CompiledRule[]>();

export function rulesPath(c: WafConfig, baseDir: string): string {
  if (c.rules === undefined) return bundledRulesDir();
  return isAbsolute(c.rules) ? c.rules : resolve(baseDir, c.rules);
}

function rulesAt(path: string): readonly CompiledRule[] {
  let r = compiled.get(path);
  if (r === undefined) {
    r = loadRules(path);
    compiled.set(path, r);
  }
  return r;
}

const NO_HEADERS: readonly (readonly [string, string])[] = [];

/** Header pairs as received (lower-case names), or rebuilt from the parsed headers. */
function headerPairs(req: FilterRequest): readonly (readonly [string, string])[] {
  const raw = req.rawHeaders;
  const out: [string, string][] = [];
  if (raw !== undefined) {
    for (let i = 0; i + 1 < raw.length; i += 2) {
      const name = raw[i]!.toLowerCase();
      // authn sets a consumed credential header to undefined: the WAF must not see (or log) it either
      if (req.headers[name] === undefined) continue;
      out.push([name, raw[i + 1]!]);
    }
    return out;
  }
  for (const [k, v] of Object.entries(req.headers)) {
    if (v === undefined) continue;
    if (Array.isArray(v)) for (const x of v) out.push([k, x]);
    else out.push([k, v]);
  }
  return out.length === 0 ? NO_HEADERS : out;
}

export function wafInputOf(req: FilterRequest): WafInput {
  return {
    method: req.method,
    uri: req.rawUrl ?? req.url,
    protocol: `HTTP/${req.httpVersion ?? "1.1"}`,
    headers: headerPairs(req),
    body: req.body,
  };
}

function auditVerdict(audit: AuditSink, req: FilterRequest, v: WafVerdict): void {
  const blocked = v.action === "block";
  try {
    audit.append({
      component: "proxy",
      action: blocked ? "waf.block" : "waf.detect",
      outcome: blocked ? "deny" : "success",
      actor: req.auth?.principal ?? req.peer?.spiffeId ?? req.remoteAddress,
      subject: `${req.method} ${req.host}${req.path}`.slice(0, 512),
      reason: v.limit !== undefined ? `inspection limit exceeded: ${v.limit}` : `anomaly score ${v.score} (threshold ${v.threshold})`,
      details: {
        mode: v.mode,
        verdict: v.action,
        score: v.score,
        detection_score: v.detectionScore,
        threshold: v.threshold,
        rule_ids: v.matches.map((m) => m.id),
        matches: v.matches.slice(0, 20).map((m) => ({ id: m.id, target: m.target, match: m.match, paranoia: m.paranoia, blocking: m.blocking })),
        ...(v.exceeded.length > 0 ? { limits_exceeded: [...v.exceeded] } : {}),
        listener: req.listenerName,
        route: req.route,
        request_id: req.requestId,
      },
    });
  } catch {
    // an audit failure must not turn a block into an allow
  }
}

function denialOf(req: FilterRequest, v: WafVerdict): Denial {
  const status = v.limit === undefined ? 403 : v.limit === "body_bytes" ? 413 : 400;
  const rules = v.matches.map((m) => m.id).join(",");
  return {
    status,
    code: v.limit === undefined ? "waf_blocked" : "waf_limit_exceeded",
    reason: v.limit === undefined ? `WAF anomaly score ${v.score} ≥ ${v.threshold} (rules ${rules})` : `WAF inspection limit exceeded: ${v.limit}`,
    publicCode: v.limit === undefined ? "waf_blocked" : "waf_limit_exceeded",
    publicMessage: `request blocked by the web application firewall (request id ${req.requestId})`,
    details: { score: v.score, rule_ids: v.matches.map((m) => m.id) },
  };
}

export const wafFilter: FilterFactory<WafConfig> = {
  name: "waf",
  schema: wafConfigSchema,
  check(config, baseDir) {
    try {
      const rules = rulesAt(rulesPath(config, baseDir));
      new WafEngine(rules, settingsFrom(config));
      return [];
    } catch (err) {
      return [isWafError(err) ? err.message : `rules: ${(err as Error).message}`];
    }
  },
  create(config, deps): HttpFilter {
    const engine = new WafEngine(rulesAt(rulesPath(config, deps.baseDir)), settingsFrom(config));
    const wantsBody = config.mode !== "off" && engine.rules.some((r) => r.phase === "body");
    return {
      name: "waf",
      needsBody: wantsBody,
      onRequest(req) {
        // a route whose mode is off gets a pass verdict with no matches, without building or parsing the input
        const v = engine.inspect({ route: req.route, path: req.path }, () => wafInputOf(req));
        if (v.matches.length > 0 || v.limit !== undefined) auditVerdict(deps.audit, req, v);
        return v.action === "block" ? denialOf(req, v) : undefined;
      },
    };
  },
};
