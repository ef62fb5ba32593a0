/**
 * auth-cost, in-process: µs per `authn` filter decision, the filter built
 * with authnFilter.create from the same config block the proxy gets. Every
 * run times each case on its own pre-built requests (a decision strips the
 * credential, so a request object is used once), the baseline (the same
 * filter, a route no rule names) in the same run, the order rotating from
 * run to run. Afterwards each timed request is checked: the right principal,
 * the identity header set, the credential gone.
 *
 * A cache hit costs more when the cache holds many other entries, so the
 * state of each cache is fixed rather than left to the order of the cases:
 * one filter serves the warm cases with nothing else in its caches (and
 * fewer HMAC calls than fill the replay cache), one takes the cold
 * (cache-miss) loops, and one has its JWT, Basic and HMAC-replay caches
 * filled to their default sizes, with the hot token and user among them.
 */
import { performance } from "node:perf_hooks";
import { authnFilter } from "../proxy/auth/authn-filter.js";
import { HMAC_CONFIG_LIMITS } from "../proxy/auth/hmac-schema.js";
import type { FilterRequest, HttpFilter } from "../proxy/filters/types.js";
import {
  authnBlock,
  basicAuthorization,
  BASIC_USERS,
  expectedIdentity,
  filterRequest,
  HOT_BASIC_USER,
  makeJwt,
  manyUser,
  MANY_USERS,
  signHmac,
  type BasicKind,
  type Credentials,
  type RouteName,
} from "./auth-cost-setup.js";
import type { BenchContext } from "./lib/types.js";

export type FastCase = "none" | "jwt-es-warm" | "jwt-es-warm-full" | "jwt-es-cold" | "jwt-rs-warm" | "jwt-rs-cold" | "hmac" | "hmac-full" | "basic-warm" | "basic-warm-full" | "key";
export const FAST_CASES: readonly FastCase[] = ["none", "jwt-es-warm", "jwt-es-warm-full", "jwt-es-cold", "jwt-rs-warm", "jwt-rs-cold", "hmac", "hmac-full", "basic-warm", "basic-warm-full", "key"];
/** The JWT provider's default cache_size: how many tokens the full cache holds. */
export const FULL_CACHE_TOKENS = 10_000;
/** The HMAC provider's default replay_cache_size. */
export const FULL_REPLAY_ENTRIES = HMAC_CONFIG_LIMITS.replayCacheDefault;
export const BASIC_KINDS: readonly BasicKind[] = ["scrypt", "bcrypt10", "bcrypt12"];

export interface InprocPlan {
  runs: number;
  /** Calls per run of each fast case. */
  calls: Record<FastCase, number>;
  /** Checks per run of each cold Basic case. */
  coldChecks: Record<BasicKind, number>;
  maxMsPerLoop: number;
}

export function inprocPlan(quick: boolean): InprocPlan {
  // HMAC calls stay well under the replay cache's size over all runs on the main filter (its full state has a case of its own)
  const calls = (warm: number, es: number, rs: number): Record<FastCase, number> => ({
    none: warm,
    "jwt-es-warm": warm,
    "jwt-es-warm-full": warm,
    "jwt-es-cold": es,
    "jwt-rs-warm": warm,
    "jwt-rs-cold": rs,
    hmac: warm / 2,
    "hmac-full": warm / 2,
    "basic-warm": warm,
    "basic-warm-full": warm,
    key: warm,
  });
  return quick
    ? { runs: 3, calls: calls(2000, 200, 100), coldChecks: { scrypt: 2, bcrypt10: 2, bcrypt12: 1 }, maxMsPerLoop: 5000 }
    : { runs: 5, calls: calls(20_000, 2000, 1000), coldChecks: { scrypt: 5, bcrypt10: 5, bcrypt12: 3 }, maxMsPerLoop: 20_000 };
}

export interface InprocResult {
  plan: InprocPlan;
  /** µs per decision (wall clock), one value per run. */
  us: Record<FastCase, number[]>;
  /** Process CPU µs per decision (all threads), one value per run: what the decisions cost when the machine is shared. */
  cpuUs: Record<FastCase, number[]>;
  /** The very first decision of a freshly built filter with a fresh token (key import + verify), ms, one per run. */
  firstCallMs: { es: number[]; rs: number[] };
  /** Cold Basic checks: wall ms and process CPU ms (all threads) per check, one value per run. */
  cold: Record<BasicKind, { ms: number[]; cpuMs: number[] }>;
  truncated: string[];
  checks: string[];
}

const ROUTE_OF: Record<FastCase, RouteName> = {
  none: "open",
  "jwt-es-warm": "jwt-es",
  "jwt-es-warm-full": "jwt-es",
  "jwt-es-cold": "jwt-es",
  "jwt-rs-warm": "jwt-rs",
  "jwt-rs-cold": "jwt-rs",
  hmac: "hmac",
  "hmac-full": "hmac",
  "basic-warm": "basic",
  "basic-warm-full": "basic-many",
  key: "key",
};

function buildFilter(c: Credentials): HttpFilter {
  const config = authnFilter.schema.parse(authnBlock(c));
  return authnFilter.create(config, {
    clock: () => new Date(),
    audit: { append: () => undefined },
    listener: "ingress",
    listenerName: "ingress",
    baseDir: c.dir,
  });
}

/** Requests for one loop; made before timing (signing, token making and object building are the client's work). */
interface WarmTokens {
  es: string;
  rs: string;
  /** The hot token of the full-cache filter. */
  esFull: string;
}

function requests(c: Credentials, k: FastCase, n: number, warm: WarmTokens): FilterRequest[] {
  const route = ROUTE_OF[k];
  const url = `/${route}/hello`;
  const out: FilterRequest[] = new Array<FilterRequest>(n);
  for (let i = 0; i < n; i++) {
    switch (k) {
      case "none":
        out[i] = filterRequest(route, url, {});
        break;
      case "jwt-es-warm":
        out[i] = filterRequest(route, url, { authorization: `Bearer ${warm.es}` });
        break;
      case "jwt-es-warm-full":
        out[i] = filterRequest(route, url, { authorization: `Bearer ${warm.esFull}` });
        break;
      case "jwt-rs-warm":
        out[i] = filterRequest(route, url, { authorization: `Bearer ${warm.rs}` });
        break;
      case "jwt-es-cold":
        out[i] = filterRequest(route, url, { authorization: `Bearer ${makeJwt(c, "ES256")}` });
        break;
      case "jwt-rs-cold":
        out[i] = filterRequest(route, url, { authorization: `Bearer ${makeJwt(c, "RS256")}` });
        break;
      case "hmac":
      case "hmac-full": {
        const s = signHmac(c, route);
        out[i] = filterRequest(route, s.url, { date: s.date, authorization: s.authorization });
        break;
      }
      case "basic-warm":
        out[i] = filterRequest(route, url, { authorization: basicAuthorization(BASIC_USERS.scrypt, c.basicPassword) });
        break;
      case "basic-warm-full":
        out[i] = filterRequest(route, url, { authorization: basicAuthorization(HOT_BASIC_USER, c.basicPassword) });
        break;
      case "key":
        out[i] = filterRequest(route, url, { apikey: c.apiKey });
        break;
    }
  }
  return out;
}

interface Timed {
  done: number;
  /** Decisions that came back as a promise (a JWT cache miss, a Basic hash check). */
  async: number;
  elapsedMs: number;
  cpuMs: number;
  truncated: boolean;
}

/** Decides each request in turn (awaiting only when the filter answers with a promise); stops at the count, maxMs or a denial. */
async function timeDecisions(f: HttpFilter, reqs: readonly FilterRequest[], maxMs: number, clockEvery: number): Promise<Timed> {
  const cpu0 = process.cpuUsage();
  const start = performance.now();
  const stopAt = start + maxMs;
  let i = 0;
  let async = 0;
  for (; i < reqs.length; i++) {
    if (i % clockEvery === 0 && i > 0 && performance.now() > stopAt) break;
    const r = f.onRequest(reqs[i]!);
    if (r instanceof Promise) async++;
    const d = r instanceof Promise ? await r : r;
    if (d !== undefined) throw new Error(`request ${i} on route ${reqs[i]!.route} was denied: ${d.status} ${d.code} (${d.reason})`);
  }
  const elapsedMs = performance.now() - start;
  const cpu = process.cpuUsage(cpu0);
  return { done: i, async, elapsedMs, cpuMs: (cpu.user + cpu.system) / 1000, truncated: i < reqs.length };
}

/** Each decided request carries the verified identity and no longer carries the credential. */
function verifyDecided(reqs: readonly FilterRequest[], done: number, route: RouteName, basicUser?: string): void {
  const want = expectedIdentity(route, basicUser ?? (route === "basic-many" ? HOT_BASIC_USER : undefined));
  for (let i = 0; i < done; i++) {
    const r = reqs[i]!;
    if (!want) {
      if (r.auth !== undefined) throw new Error(`route ${route}: an unprotected request got an identity`);
      continue;
    }
    if (r.auth?.principal !== want.principal) throw new Error(`route ${route}: request ${i} has principal ${String(r.auth?.principal)}, expected ${want.principal}`);
    if (r.headers[want.header] !== want.value) throw new Error(`route ${route}: request ${i} lacks ${want.header}: ${want.value}`);
    if (r.headers.authorization !== undefined || r.headers.apikey !== undefined) throw new Error(`route ${route}: request ${i} still carries its credential`);
  }
}

/** A cache hit (and every provider but a JWT miss or a Basic hash) answers synchronously; a miss goes async. */
function checkSync(k: FastCase, t: Timed): void {
  const cold = COLD_CASES.has(k);
  if (cold && t.async !== t.done) throw new Error(`${k}: ${t.done - t.async} of ${t.done} decisions were synchronous (a verified-token cache hit where a miss was wanted)`);
  if (!cold && t.async !== 0) throw new Error(`${k}: ${t.async} of ${t.done} decisions went async (a cache miss where a hit was wanted)`);
}

const COLD_CASES: ReadonlySet<FastCase> = new Set(["jwt-es-cold", "jwt-rs-cold"]);

/** Decides `total` requests made by `make`, in chunks (100,000 request objects at once would be a lot of memory); returns the async count. */
async function fill(f: HttpFilter, total: number, make: (i: number) => FilterRequest): Promise<number> {
  let misses = 0;
  for (let from = 0; from < total; from += 10_000) {
    const reqs = Array.from({ length: Math.min(10_000, total - from) }, (_, j) => make(from + j));
    const t = await timeDecisions(f, reqs, 600_000, 64);
    if (t.done !== reqs.length) throw new Error(`filling a cache: only ${t.done} of ${reqs.length} decisions made`);
    misses += t.async;
  }
  return misses;
}

/**
 * A filter whose caches are full at their default sizes (filled before
 * timing): the ES256 verified-token cache (the hot token halfway in, so it
 * is neither the next to be dropped nor the newest), the Basic verify cache
 * (one user each, the hot user first) and the HMAC replay cache.
 */
async function fullCacheFilter(ctx: BenchContext, c: Credentials, hot: string): Promise<HttpFilter> {
  const f = buildFilter(c);
  ctx.onCleanup(() => f.close?.());
  const half = FULL_CACHE_TOKENS >> 1;
  const jwtMisses = await fill(f, FULL_CACHE_TOKENS, (i) => filterRequest("jwt-es", "/jwt-es/hello", { authorization: `Bearer ${i === half ? hot : makeJwt(c, "ES256")}` }));
  const basicMisses = await fill(f, MANY_USERS, (i) => filterRequest("basic-many", "/basic-many/hello", { authorization: basicAuthorization(manyUser(i), c.basicPassword) }));
  await fill(f, FULL_REPLAY_ENTRIES, () => {
    const s = signHmac(c, "hmac");
    return filterRequest("hmac", s.url, { date: s.date, authorization: s.authorization });
  });
  if (jwtMisses !== FULL_CACHE_TOKENS || basicMisses !== MANY_USERS) throw new Error(`filling the caches: ${jwtMisses} JWT and ${basicMisses} Basic misses, expected ${FULL_CACHE_TOKENS} and ${MANY_USERS}`);
  return f;
}

const rotate = <T>(xs: readonly T[], k: number): T[] => xs.map((_, i) => xs[(i + k) % xs.length]!);

/** The first decision of a new filter: the JWKS key is imported by jose then, on top of a cold verify. */
async function firstCall(c: Credentials, alg: "ES256" | "RS256"): Promise<number> {
  const f = buildFilter(c);
  try {
    const route: RouteName = alg === "ES256" ? "jwt-es" : "jwt-rs";
    const req = filterRequest(route, `/${route}/hello`, { authorization: `Bearer ${makeJwt(c, alg)}` });
    const t0 = performance.now();
    const r = f.onRequest(req);
    const d = r instanceof Promise ? await r : r;
    const ms = performance.now() - t0;
    if (d !== undefined) throw new Error(`first ${alg} call denied: ${d.code}`);
    verifyDecided([req], 1, route);
    return ms;
  } finally {
    f.close?.();
  }
}

export async function runInProcess(ctx: BenchContext, c: Credentials, plan: InprocPlan): Promise<InprocResult> {
  const warm: WarmTokens = { es: makeJwt(c, "ES256"), rs: makeJwt(c, "RS256"), esFull: makeJwt(c, "ES256") };
  const main = buildFilter(c);
  ctx.onCleanup(() => main.close?.());
  const coldFilter = buildFilter(c);
  ctx.onCleanup(() => coldFilter.close?.());
  ctx.log(`filling caches: ${FULL_CACHE_TOKENS} JWTs, ${MANY_USERS} Basic users, ${FULL_REPLAY_ENTRIES} HMAC signatures`);
  const full = await fullCacheFilter(ctx, c, warm.esFull);
  const filterFor = (k: FastCase): HttpFilter => (k.endsWith("-full") ? full : COLD_CASES.has(k) ? coldFilter : main);
  const perCase = () => Object.fromEntries(FAST_CASES.map((k) => [k, [] as number[]])) as unknown as Record<FastCase, number[]>;
  const us = perCase();
  const cpuUs = perCase();
  const cold = Object.fromEntries(BASIC_KINDS.map((k) => [k, { ms: [] as number[], cpuMs: [] as number[] }])) as unknown as InprocResult["cold"];
  const firstCallMs = { es: [] as number[], rs: [] as number[] };
  const truncated = new Set<string>();
  let mainHmac = 0;
  const maxMs = () => Math.max(1000, Math.min(plan.maxMsPerLoop, ctx.deadline - Date.now() - 5 * 60_000));

  // warm-up: JIT, and the first (caching) check of the warm token and the Basic password
  ctx.log("in-process warm-up");
  for (const k of FAST_CASES) {
    const reqs = requests(c, k, Math.max(10, Math.ceil(plan.calls[k] / 10)), warm);
    const t = await timeDecisions(filterFor(k), reqs, maxMs(), 16);
    verifyDecided(reqs, t.done, ROUTE_OF[k]);
    if (k === "hmac") mainHmac += t.done;
  }

  for (let run = 0; run < plan.runs; run++) {
    ctx.log(`in-process run ${run + 1}/${plan.runs}`);
    for (const k of rotate(FAST_CASES, run)) {
      const reqs = requests(c, k, plan.calls[k], warm);
      const t = await timeDecisions(filterFor(k), reqs, maxMs(), 16);
      checkSync(k, t);
      if (k === "hmac") mainHmac += t.done;
      verifyDecided(reqs, t.done, ROUTE_OF[k]);
      if (t.truncated) truncated.add(k);
      us[k].push((t.elapsedMs * 1000) / t.done);
      cpuUs[k].push((t.cpuMs * 1000) / t.done);
    }
    for (const kind of BASIC_KINDS) {
      const user = BASIC_USERS[kind];
      const reqs = Array.from({ length: plan.coldChecks[kind] }, () => filterRequest("basic-cold", "/basic-cold/hello", { authorization: basicAuthorization(user, c.basicPassword) }));
      const t = await timeDecisions(coldFilter, reqs, maxMs(), 1);
      verifyDecided(reqs, t.done, "basic-cold", user);
      if (t.truncated) truncated.add(`basic-cold-${kind}`);
      cold[kind].ms.push(t.elapsedMs / t.done);
      cold[kind].cpuMs.push(t.cpuMs / t.done);
    }
    firstCallMs.es.push(await firstCall(c, "ES256"));
    firstCallMs.rs.push(await firstCall(c, "RS256"));
  }
  if (mainHmac >= FULL_REPLAY_ENTRIES) throw new Error(`the main filter took ${mainHmac} HMAC calls: its replay cache filled up, so the HMAC case did not measure what it says`);
  const checks = [
    "every timed decision let the request through with the expected principal and identity header (x-user-id for JWT, x-consumer-username otherwise), and with the credential removed; the unprotected route set no identity",
    "every warm JWT, warm Basic, HMAC and API-key decision was synchronous (a verified-token or verify-cache hit: a miss would have gone async); every cold JWT decision went async (a miss), each token carrying a new jti",
    "every HMAC request carried a signature never sent before (the replay check was on)",
    `the full-cache cases ran on a filter whose caches were filled first: ${FULL_CACHE_TOKENS} ES256 tokens verified (every one a miss), ${MANY_USERS} Basic users checked (every one a miss), ${FULL_REPLAY_ENTRIES} HMAC signatures accepted; the main filter took ${mainHmac} HMAC calls in all, under its replay cache's ${FULL_REPLAY_ENTRIES}`,
    "the cold Basic checks ran against a provider with verify_cache 0s, so each one paid the full hash",
  ];
  return { plan, us, cpuUs, firstCallMs, cold, truncated: [...truncated], checks };
}
