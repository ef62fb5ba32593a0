/**
 * The `authn` filter: request authentication per route. Providers (JWT,
 * HMAC, Basic, API key) are declared once; rules pick, per route, which
 * providers are required (any-of or all-of) and whether a request without
 * any credential may pass (allow_missing; a bad credential always fails).
 * Identity headers a client sends are removed on every request; the
 * verified identity is then set by the proxy (x-consumer-username, the JWT
 * claim headers) and credentials are stripped before forwarding.
 */
import { z } from "zod";
import type { Denial, FilterFactory, FilterRequest, HttpFilter } from "../filters/types.js";
import { AUTH_PROVIDERS } from "./providers.js";
import type { AuthFailed, AuthOk, AuthOutcome, AuthProvider } from "./types.js";

const providerName = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, "expected a provider name of letters, digits, '.', '_' or '-'");
const headerName = z.string().regex(/^[a-z0-9!#$%&'*+.^_`|~-]{1,128}$/, "expected a lower-case header name");

const requireSchema = z.union([
  providerName,
  z.object({ any: z.array(providerName).min(1).max(16) }).strict(),
  z.object({ all: z.array(providerName).min(1).max(16) }).strict(),
]);

export const authnConfigSchema = z
  .object({
    /** name → { <type>: <config> }; each block is checked by its provider's schema. */
    providers: z.record(providerName, z.record(z.string(), z.unknown())).refine((o) => Object.keys(o).length <= 32, "at most 32 providers"),
    rules: z
      .array(
        z
          .object({
            /** Route names; "*" = every route. The first rule naming the request's route applies; none = no authentication. */
            routes: z.array(z.string().max(128)).min(1).max(256),
            require: requireSchema,
            allow_missing: z.boolean().default(false),
          })
          .strict(),
      )
      .max(256),
    /** Removed from every client request, then set by the proxy from the verified identity. */
    identity_headers: z.array(headerName).max(64).default(["x-consumer-username", "x-jwt-payload"]),
  })
  .strict()
  .superRefine((c, ctx) => {
    const names = new Set(Object.keys(c.providers));
    for (const [name, block] of Object.entries(c.providers)) {
      const keys = Object.keys(block);
      if (keys.length !== 1) {
        ctx.addIssue({ code: "custom", path: ["providers", name], message: `expected exactly one provider type (${[...AUTH_PROVIDERS.keys()].join(" | ")})` });
        continue;
      }
      const type = keys[0]!;
      const factory = AUTH_PROVIDERS.get(type);
      if (!factory) {
        ctx.addIssue({ code: "custom", path: ["providers", name, type], message: `unknown provider type (known: ${[...AUTH_PROVIDERS.keys()].join(", ")})` });
        continue;
      }
      const r = factory.schema.safeParse(block[type]);
      if (!r.success) for (const issue of r.error.issues) ctx.addIssue({ ...issue, path: ["providers", name, type, ...issue.path] } as never);
    }
    c.rules.forEach((rule, i) => {
      const req = typeof rule.require === "string" ? [rule.require] : "any" in rule.require ? rule.require.any : rule.require.all;
      req.forEach((n, j) => {
        if (!names.has(n)) ctx.addIssue({ code: "custom", path: ["rules", i, "require", j], message: `unknown provider "${n}"` });
      });
    });
  });

export type AuthnConfig = z.output<typeof authnConfigSchema>;

interface CompiledRule {
  mode: "any" | "all";
  providers: AuthProvider[];
  allowMissing: boolean;
}

function removeQueryParams(url: string, names: readonly string[]): string {
  const q = url.indexOf("?");
  if (q < 0) return url;
  const kept = url
    .slice(q + 1)
    .split("&")
    .filter((pair) => {
      const raw = pair.split("=", 1)[0] ?? "";
      let name = raw;
      try {
        name = decodeURIComponent(raw.replace(/\+/g, " "));
      } catch {
        /* a malformed name is kept as written */
      }
      return !names.includes(name);
    });
  return kept.length === 0 ? url.slice(0, q) : `${url.slice(0, q)}?${kept.join("&")}`;
}

function denial(f: AuthFailed, provider: AuthProvider, req: FilterRequest): Denial {
  const headers: Record<string, string> = { ...(f.headers ?? {}) };
  if (f.challenge) headers["www-authenticate"] = f.challenge;
  return {
    ...(f.publicCode !== undefined ? { publicCode: f.publicCode } : {}),
    ...(f.publicMessage !== undefined ? { publicMessage: f.publicMessage } : {}),
    status: f.status,
    code: f.code,
    reason: f.reason,
    headers,
    outcome: "deny",
    component: "auth",
    details: { provider: provider.name, provider_type: provider.type, route: req.route, client: req.remoteAddress, ...(f.principal ? { principal: f.principal } : {}) },
  };
}

export class AuthnFilter implements HttpFilter {
  readonly name = "authn";
  readonly needsBody: boolean;
  /** Route name → the first rule naming it (or "*"), null for none; filled on first sight (route names come from config, so bounded). */
  private readonly byRoute = new Map<string, CompiledRule | null>();

  constructor(
    private readonly rules: ReadonlyArray<{ routes: readonly string[]; rule: CompiledRule }>,
    private readonly identityHeaders: readonly string[],
    readonly providers: readonly AuthProvider[],
    private readonly clock: () => Date,
  ) {
    this.needsBody = providers.some((p) => p.needsBody);
  }

  private ruleFor(route: string): CompiledRule | undefined {
    let hit = this.byRoute.get(route);
    if (hit === undefined) {
      hit = this.rules.find((r) => r.routes.includes(route) || r.routes.includes("*"))?.rule ?? null;
      if (this.byRoute.size < 10_000) this.byRoute.set(route, hit);
    }
    return hit ?? undefined;
  }

  close(): void {
    for (const p of this.providers) p.close?.();
  }

  onRequest(req: FilterRequest): Denial | undefined | Promise<Denial | undefined> {
    const h = req.headers;
    // set to undefined rather than deleted: `delete` would turn the headers object into a slow dictionary; the forwarder skips undefined values
    for (const name of this.identityHeaders) if (h[name] !== undefined) h[name] = undefined;
    const rule = this.ruleFor(req.route);
    if (!rule) return undefined;
    const now = this.clock();
    const outcomes: Array<AuthOutcome | Promise<AuthOutcome>> = rule.providers.map((p) => p.authenticate(req, now));
    if (outcomes.some((o) => o instanceof Promise)) return Promise.all(outcomes).then((all) => this.decide(req, rule, all));
    return this.decide(req, rule, outcomes as AuthOutcome[]);
  }

  private decide(req: FilterRequest, rule: CompiledRule, outcomes: AuthOutcome[]): Denial | undefined {
    const oks: AuthOk[] = [];
    let firstFail: { f: AuthFailed; p: AuthProvider } | undefined;
    let missing = 0;
    outcomes.forEach((o, i) => {
      if (o.kind === "ok") oks.push(o);
      else if (o.kind === "missing") missing++;
      else if (!firstFail) firstFail = { f: o, p: rule.providers[i]! };
    });
    const passed = rule.mode === "any" ? oks.length > 0 : oks.length === outcomes.length;
    if (passed) {
      this.apply(req, oks);
      return undefined;
    }
    if (firstFail && (rule.mode === "all" || oks.length === 0)) return denial(firstFail.f, firstFail.p, req);
    if (missing === outcomes.length && rule.allowMissing) return undefined;
    const p = rule.providers[0]!;
    const challenge = rule.providers.map((x) => x.missingChallenge).join(", ");
    const what = rule.mode === "all" && oks.length > 0 ? "not every required credential was presented" : "no credential presented";
    return denial({ kind: "fail", status: 401, code: "auth_required", reason: `authentication required: ${what}`, challenge }, p, req);
  }

  private apply(req: FilterRequest, oks: AuthOk[]): void {
    const h = req.headers;
    const first = oks[0]!;
    req.auth = { principal: first.principal, method: first.method, ...(first.claims ? { claims: first.claims } : {}) };
    const stripQuery: string[] = [];
    for (const ok of oks) {
      for (const name of ok.stripHeaders ?? []) if (h[name] !== undefined) h[name] = undefined;
      stripQuery.push(...(ok.stripQuery ?? []));
    }
    for (const ok of oks) {
      if (ok.setHeaders) for (const [k, v] of Object.entries(ok.setHeaders)) h[k.toLowerCase()] = v;
    }
    const consumer = oks.find((o) => o.consumer !== undefined)?.consumer;
    if (consumer !== undefined) h["x-consumer-username"] = consumer;
    if (stripQuery.length > 0) req.url = removeQueryParams(req.url, stripQuery);
  }
}

export const authnFilter: FilterFactory<AuthnConfig> = {
  name: "authn",
  schema: authnConfigSchema,
  create(config, deps) {
    const built = new Map<string, AuthProvider>();
    const identity = new Set(config.identity_headers);
    for (const [name, block] of Object.entries(config.providers)) {
      const [type, raw] = Object.entries(block)[0]!;
      const factory = AUTH_PROVIDERS.get(type)!;
      const provider = factory.create(name, factory.schema.parse(raw), { clock: deps.clock, baseDir: deps.baseDir });
      built.set(name, provider);
      for (const h of provider.identityHeaders ?? []) identity.add(h.toLowerCase());
    }
    const rules = config.rules.map((r) => {
      const mode: "any" | "all" = typeof r.require === "string" || "any" in r.require ? "any" : "all";
      const names = typeof r.require === "string" ? [r.require] : "any" in r.require ? r.require.any : r.require.all;
      return { routes: r.routes, rule: { mode, providers: names.map((n) => built.get(n)!), allowMissing: r.allow_missing } };
    });
    return new AuthnFilter(rules, [...identity], [...built.values()], deps.clock);
  },
};
