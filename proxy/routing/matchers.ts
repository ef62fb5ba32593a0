/**
 * Request matchers compiled once from config: host patterns, the path
 * matcher and header matchers. Matching allocates nothing on the common
 * path (a lower-case copy of the host only when it has upper case).
 */
import { compileFullMatch } from "./regex.js";
import type { HeaderMatchConfig, PathMatchConfig } from "./schema.js";

export type RequestHeaders = Readonly<Record<string, string | string[] | undefined>>;

/** Lower-cases a Host/:authority value and drops its port ("[::1]:8080" → "[::1]", "A.com:80" → "a.com"). */
export function normalizeHost(host: string): string {
  let end = host.length;
  if (host.startsWith("[")) {
    const close = host.indexOf("]");
    if (close > 0) end = close + 1;
  } else {
    const colon = host.indexOf(":");
    // Exactly one colon: host:port. More: a bare IPv6 address, left whole.
    if (colon >= 0 && host.indexOf(":", colon + 1) < 0) end = colon;
  }
  if (end > 0 && host.charCodeAt(end - 1) === 46 /* trailing "." */) end--;
  const h = end === host.length ? host : host.slice(0, end);
  return /[A-Z]/.test(h) ? h.toLowerCase() : h;
}

export class HostMatcher {
  private readonly any: boolean;
  private readonly exact: ReadonlySet<string>;
  private readonly suffixes: readonly string[];

  /** Patterns already lower-cased by the schema: "a.com", "*.a.com", "*-x.a.com", "*". */
  constructor(patterns: readonly string[]) {
    this.any = patterns.includes("*");
    this.exact = new Set(patterns.filter((p) => !p.startsWith("*")));
    // The wildcard stands for at least one character, as in Envoy: "*.a.com" does not match "a.com".
    this.suffixes = patterns.filter((p) => p.startsWith("*") && p !== "*").map((p) => p.slice(1));
  }

  /** `host` must already be normalized (normalizeHost). */
  matches(host: string): boolean {
    if (this.any || this.exact.has(host)) return true;
    for (const s of this.suffixes) if (host.length > s.length && host.endsWith(s)) return true;
    return false;
  }
}

export type PathMatcher =
  | { readonly kind: "exact"; readonly value: string }
  | { readonly kind: "prefix"; readonly value: string }
  | { readonly kind: "regex"; readonly re: RegExp };

export function compilePathMatcher(c: PathMatchConfig): PathMatcher {
  if (c.exact !== undefined) return { kind: "exact", value: c.exact };
  if (c.prefix !== undefined) return { kind: "prefix", value: c.prefix };
  return { kind: "regex", re: compileFullMatch(c.regex!) };
}

/** `path` without the query string. Case-sensitive, as Envoy's default. */
export function pathMatches(m: PathMatcher, path: string): boolean {
  switch (m.kind) {
    case "exact":
      return path === m.value;
    case "prefix":
      return path.startsWith(m.value);
    case "regex":
      return m.re.test(path);
  }
}

type ValueTest =
  | { readonly kind: "exact" | "prefix" | "suffix"; readonly value: string }
  | { readonly kind: "regex"; readonly re: RegExp }
  | { readonly kind: "present"; readonly present: boolean };

export interface HeaderMatcher {
  readonly name: string;
  readonly test: ValueTest;
  readonly invert: boolean;
  readonly missingAsEmpty: boolean;
}

export function compileHeaderMatcher(c: HeaderMatchConfig): HeaderMatcher {
  let test: ValueTest;
  if (c.exact !== undefined) test = { kind: "exact", value: c.exact };
  else if (c.prefix !== undefined) test = { kind: "prefix", value: c.prefix };
  else if (c.suffix !== undefined) test = { kind: "suffix", value: c.suffix };
  else if (c.regex !== undefined) test = { kind: "regex", re: compileFullMatch(c.regex) };
  else test = { kind: "present", present: c.present === true };
  return { name: c.name, test, invert: c.invert, missingAsEmpty: c.treat_missing_header_as_empty };
}

/**
 * Envoy's semantics: a header sent several times is matched as its values
 * joined with ","; an absent header fails every value matcher even when
 * inverted (unless treat_missing_header_as_empty), and `present` flips
 * cleanly with `invert`.
 */
export function headerMatches(m: HeaderMatcher, headers: RequestHeaders): boolean {
  const raw = headers[m.name];
  const t = m.test;
  if (t.kind === "present") return ((raw !== undefined) === t.present) !== m.invert;
  let value: string;
  if (raw === undefined) {
    if (!m.missingAsEmpty) return false;
    value = "";
  } else {
    value = typeof raw === "string" ? raw : raw.join(",");
  }
  let hit: boolean;
  switch (t.kind) {
    case "exact":
      hit = value === t.value;
      break;
    case "prefix":
      hit = value.startsWith(t.value);
      break;
    case "suffix":
      hit = value.endsWith(t.value);
      break;
    case "regex":
      hit = t.re.test(value);
      break;
  }
  return hit !== m.invert;
}
