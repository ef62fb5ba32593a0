/**
 * The `authz` filter: Istio AuthorizationPolicy semantics on a request.
 * AUDIT policies are only logged; then any matching DENY policy refuses the
 * request (403); then, when there is no ALLOW policy, the request goes on;
 * otherwise it goes on only if some ALLOW policy matches (else 403).
 * Config and matching: authz-schema.ts, authz-compile.ts; docs/proxy-filters.md.
 */
import { MatchContext, compilePolicy, policyUses, type Pred } from "./authz-compile.js";
import { authzConfigSchema, type AuthzConfig } from "./authz-schema.js";
import { isPathRejection, normalizePath } from "./path-normalize.js";
import type { Denial, FilterDeps, FilterFactory, FilterRequest, HttpFilter } from "./types.js";

export { authzConfigSchema, type AuthzConfig } from "./authz-schema.js";

interface CompiledPolicy {
  readonly name: string;
  readonly match: Pred;
  /** The refusal a DENY policy answers with (built once). */
  readonly denial: Denial;
}

const NO_ALLOW_MATCH: Denial = Object.freeze({
  status: 403,
  code: "rbac_denied",
  reason: "no ALLOW policy matched",
  outcome: "deny",
  details: Object.freeze({ decision: "no_allow_match" }),
});

const BAD_METHOD: Denial = Object.freeze({
  status: 400,
  code: "invalid_method",
  reason: "the request method is not upper case",
  outcome: "failure",
});

/** Subject text in AUDIT events is cut to keep under the audit log's 1024-byte bound. */
const AUDIT_SUBJECT_MAX = 512;

function policyDenial(name: string): Denial {
  return Object.freeze({
    status: 403,
    code: "rbac_denied",
    reason: `denied by policy "${name}"`,
    outcome: "deny",
    details: Object.freeze({ decision: "deny_policy", policy: name }),
  });
}

function lowerIfNeeded(s: string): string {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x41 && c <= 0x5a) return s.toLowerCase();
  }
  return s;
}

function isUpperToken(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x61 && c <= 0x7a) return false;
  }
  return true;
}

export class AuthzFilter implements HttpFilter {
  readonly name = "authz";
  private readonly deny: CompiledPolicy[] = [];
  private readonly allow: CompiledPolicy[] = [];
  private readonly audit: CompiledPolicy[] = [];
  private readonly usesPaths: boolean;
  private readonly usesMethods: boolean;
  private readonly ctx = new MatchContext();

  constructor(
    config: AuthzConfig,
    private readonly deps: FilterDeps,
  ) {
    for (const p of config.policies) {
      const compiled = { name: p.name, match: compilePolicy(p), denial: policyDenial(p.name) };
      (p.action === "DENY" ? this.deny : p.action === "AUDIT" ? this.audit : this.allow).push(compiled);
    }
    this.usesPaths = config.policies.some((p) => policyUses(p, "paths"));
    this.usesMethods = config.policies.some((p) => policyUses(p, "methods"));
  }

  onRequest(req: FilterRequest): Denial | undefined {
    let path = req.path;
    if (this.usesPaths) {
      const normal = normalizePath(req.path);
      if (isPathRejection(normal)) {
        return { status: 400, code: "invalid_path", reason: normal.reason, outcome: "failure", details: { check: normal.code } };
      }
      path = normal;
    }
    // Istio refuses a method that is not upper case: `get` must not dodge a DENY on GET.
    if (this.usesMethods && !isUpperToken(req.method)) return BAD_METHOD;
    const ctx = this.ctx;
    ctx.reset(req, path, lowerIfNeeded(req.host));
    try {
      return this.decide(ctx);
    } finally {
      ctx.req = PLACEHOLDER; // do not keep the request alive until the next one
    }
  }

  private decide(ctx: MatchContext): Denial | undefined {
    for (let i = 0; i < this.audit.length; i++) {
      const p = this.audit[i]!;
      if (p.match(ctx)) this.recordAudit(p.name, ctx);
    }
    for (let i = 0; i < this.deny.length; i++) {
      const p = this.deny[i]!;
      if (p.match(ctx)) return p.denial;
    }
    if (this.allow.length === 0) return undefined;
    for (let i = 0; i < this.allow.length; i++) {
      if (this.allow[i]!.match(ctx)) return undefined;
    }
    return NO_ALLOW_MATCH;
  }

  /** An AUDIT match is logged only; a failing audit write does not change the decision. */
  private recordAudit(policy: string, ctx: MatchContext): void {
    const req = ctx.req;
    try {
      this.deps.audit.append({
        component: "proxy",
        action: "authz.audit",
        outcome: "success",
        // Same actor as the chain gives denials: the end user, else the peer, else the address.
        actor: req.auth?.principal ?? req.peer?.spiffeId ?? req.remoteAddress,
        subject: `${req.method} ${ctx.host}${ctx.path}`.slice(0, AUDIT_SUBJECT_MAX),
        reason: `request matched AUDIT policy "${policy}"`,
        details: {
          policy,
          listener: this.deps.listenerName,
          route: req.route,
          request_id: req.requestId,
          ...(req.auth ? { request_principal: req.auth.principal } : {}),
        },
      });
    } catch {
      // AUDIT never denies (Istio); the chain's own audit of denials is unaffected.
    }
  }
}

const PLACEHOLDER: FilterRequest = Object.freeze({
  method: "",
  url: "",
  path: "",
  query: "",
  host: "",
  port: 0,
  headers: {},
  listener: "inbound",
  listenerName: "",
  route: "",
  remoteAddress: "",
  requestId: "",
});

export const authzFilter: FilterFactory<AuthzConfig> = {
  name: "authz",
  schema: authzConfigSchema,
  create: (config, deps) => new AuthzFilter(config, deps),
};
