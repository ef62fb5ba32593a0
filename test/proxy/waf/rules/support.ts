// Shared by the rule-file tests: requests carrying a value in a given place, one engine per paranoia level
// for a bundled rule file, and the "blocks at PL n, passes at n-1" / "passes at PL1 (and PL2)" checks.
import test, { type ExecutionContext } from "ava";
import { join } from "node:path";
import type { CompiledRule } from "../../../../proxy/waf/compile.js";
import { DEFAULT_SETTINGS, WafEngine, type WafVerdict } from "../../../../proxy/waf/engine.js";
import { loadRules } from "../../../../proxy/waf/rule-file.js";
import { bundledRulesDir } from "../../../../proxy/waf/settings.js";
import type { WafInput } from "../../../../proxy/waf/types.js";

export type { WafInput, WafVerdict };

export type Header = readonly [string, string];
export type Headers = readonly Header[];

// ---------------------------------------------------------------- rule files

export interface RuleFile {
  readonly rules: readonly CompiledRule[];
  /** The ids the file owns: NNN-name.yaml holds NNN000 to NNN999. */
  readonly ids: readonly [number, number];
  /** An engine with only this file's rules, blocking and detecting at `paranoia` (built once per level). */
  engineAt(paranoia: number): WafEngine;
  /** The verdict at `paranoia`; `path` is the request context's path (the file's default unless given). */
  verdict(paranoia: number, input: WafInput, path?: string): WafVerdict;
}

/** Loads one bundled rule file; `path` is the context path its verdicts use by default. */
export function ruleFile(name: string, path = "/"): RuleFile {
  const rules = loadRules(join(bundledRulesDir(), name));
  const base = Number(name.slice(0, 3)) * 1000;
  const engines = new Map<number, WafEngine>();
  const engineAt = (paranoia: number): WafEngine => {
    let e = engines.get(paranoia);
    if (e === undefined) {
      e = new WafEngine(rules, { ...DEFAULT_SETTINGS, paranoia, detectionParanoia: paranoia });
      engines.set(paranoia, e);
    }
    return e;
  };
  // the same rules without literals and without memory: every rule runs on every value, as if there were no prefilter
  const plainRules = rules.map((r) => ({ ...r, literals: undefined }));
  const plain = new Map<number, WafEngine>();
  const plainAt = (paranoia: number): WafEngine => {
    let e = plain.get(paranoia);
    if (e === undefined) {
      e = new WafEngine(plainRules, { ...DEFAULT_SETTINGS, paranoia, detectionParanoia: paranoia }, false);
      plain.set(paranoia, e);
    }
    return e;
  };
  return {
    rules,
    ids: [base, base + 999],
    engineAt,
    verdict: (paranoia, input, p = path) => {
      const v = engineAt(paranoia).evaluate(input, { route: "", path: p });
      // every verdict of the rule tests also checks that the prefilter and the value memory change nothing
      const w = plainAt(paranoia).evaluate(input, { route: "", path: p });
      const key = (x: WafVerdict): string => JSON.stringify(x.matches.map((m) => [m.id, m.target, m.match]));
      if (key(v) !== key(w)) throw new Error(`the prefilter changed the verdict: ${key(v)} instead of ${key(w)}`);
      return v;
    },
  };
}

/** Each rule's id is in the file's range and it carries every tag (a RegExp: some tag matching it). */
export function checkRules(t: ExecutionContext, file: RuleFile, tags: readonly (string | RegExp)[]): void {
  const [lo, hi] = file.ids;
  const has = (r: CompiledRule, tag: string | RegExp): boolean => (typeof tag === "string" ? r.tags.includes(tag) : r.tags.some((x) => tag.test(x)));
  for (const r of file.rules) {
    t.true(r.id >= lo && r.id <= hi, String(r.id));
    t.true(tags.every((tag) => has(r, tag)), String(r.id));
  }
}

// ---------------------------------------------------------------- what a failed check prints

export type Show = (v: WafVerdict) => string;
export const showIds: Show = (v) => JSON.stringify(v.matches.map((m) => m.id));
export const showIdMatch: Show = (v) => JSON.stringify(v.matches.map((m) => `${m.id}:${m.match}`));
export const showIdTarget: Show = (v) => JSON.stringify(v.matches.map((m) => `${m.id}:${m.target}`));
export const showIdTargetMatch: Show = (v) => JSON.stringify(v.matches.map((m) => `${m.id}:${m.target}:${m.match}`));

/** The message when a request meant for PL `pl` is already blocked one level down; `lower` evaluates it there. */
export type LowerMessage = (pl: number, lower: () => WafVerdict) => string;
export const STRICTER_ONLY: LowerMessage = () => "belongs to the stricter level only";
/** "belongs to PL n[ only]: <what matched one level down>". */
export const belongsToLevel =
  (show: Show, only: boolean): LowerMessage =>
  (pl, lower) =>
    `belongs to PL${pl}${only ? " only" : ""}: ${show(lower())}`;

// ---------------------------------------------------------------- table-driven tests

/** One table row: `tail` ends the test title, `make` builds the request (again for every verdict), `level` is the row's level or flag. */
export interface Case<L> {
  readonly tail: string;
  readonly make: () => WafInput;
  readonly level: L;
}

/** Rows [description, request, level]: titled "...: description". */
export function namedCases<L>(rows: readonly (readonly [string, WafInput, L])[]): Case<L>[] {
  return rows.map(([what, input, level]) => ({ tail: `: ${what}`, make: () => input, level }));
}

/** Rows [place, value, level]: titled "... (place): label(value)", the request built by `build`. */
export function placeCases<P extends string, L>(
  rows: readonly (readonly [P, string, L])[],
  build: (place: P, value: string) => WafInput,
  label: (value: string) => string = (value) => JSON.stringify(value),
): Case<L>[] {
  return rows.map(([place, value, level]) => ({ tail: ` (${place}): ${label(value)}`, make: () => build(place, value), level }));
}

export interface BlockReport {
  /** Prints the verdict when the request was not blocked (default: the matched ids). */
  readonly show?: Show;
  /** Default: STRICTER_ONLY. */
  readonly lower?: LowerMessage;
}

/** One test per row: blocked at its level by this file's rules only, and (above PL1) passed one level down. */
export function testBlocks(file: RuleFile, cases: readonly Case<number>[], report: BlockReport = {}): void {
  const { show = showIds, lower = STRICTER_ONLY } = report;
  const [lo, hi] = file.ids;
  for (const { tail, make, level: pl } of cases) {
    test(`blocks at PL${pl}${tail}`, (t) => {
      const v = file.verdict(pl, make());
      t.is(v.action, "block", show(v));
      t.true(v.matches.every((m) => m.id >= lo && m.id <= hi));
      if (pl > 1) t.is(file.verdict(pl - 1, make()).action, "pass", lower(pl, () => file.verdict(pl - 1, make())));
    });
  }
}

/** One test per row: passed at PL1, and at PL2 too when the row's flag is true. */
export function testPasses(file: RuleFile, cases: readonly Case<boolean>[], message: (v: WafVerdict, pl: number) => string = showIdMatch): void {
  for (const { tail, make, level: alsoPl2 } of cases) {
    test(`passes at PL1${alsoPl2 ? " and PL2" : ""}${tail}`, (t) => {
      for (const pl of alsoPl2 ? [1, 2] : [1]) {
        const v = file.verdict(pl, make());
        t.is(v.action, "pass", message(v, pl));
      }
    });
  }
}

// ---------------------------------------------------------------- requests

export interface Client {
  /** A GET with the Host header first, then `headers`. */
  get(uri: string, headers?: Headers): WafInput;
  /** A POST of `body` as `type` to the client's URI (or `uri`); `headers` follow Host and Content-Type. */
  post(type: string, body: string, headers?: Headers, uri?: string): WafInput;
  form(body: string, headers?: Headers): WafInput;
  json(value: unknown, headers?: Headers): WafInput;
}

/** Requests to `host`; bodies go to `postUri`, turned into bytes with `encoding`. */
export function client(host: string, postUri: string, encoding: BufferEncoding = "utf8"): Client {
  const h: Header = ["host", host];
  const post = (type: string, body: string, headers: Headers = [], uri = postUri): WafInput => ({
    method: "POST",
    uri,
    protocol: "HTTP/1.1",
    headers: [h, ["content-type", type], ...headers],
    body: Buffer.from(body, encoding),
  });
  return {
    get: (uri, headers = []) => ({ method: "GET", uri, protocol: "HTTP/1.1", headers: [h, ...headers] }),
    post,
    form: (body, headers) => post("application/x-www-form-urlencoded", body, headers),
    json: (value, headers) => post("application/json", JSON.stringify(value), headers),
  };
}

/** Escapes text for an XML element (`&`, `<`). */
export const xmlText = (s: string): string => s.replace(/&/g, "&amp;").replace(/</g, "&lt;");
/** Escapes text for a double-quoted XML attribute (`&`, `"`, `<`). */
export const xmlAttribute = (s: string): string => s.replace(/&/g, "&amp;").replace(/"/g, "&quot;").replace(/</g, "&lt;");

export const multipartType = (boundary: string): string => `multipart/form-data; boundary=${boundary}`;
/** A multipart/form-data body of `parts` (each its headers, a blank line and its content), CRLF line ends. */
export const multipartBody = (boundary: string, parts: readonly string[]): string => parts.map((p) => `--${boundary}\r\n${p}\r\n`).join("") + `--${boundary}--\r\n`;
/** A file part named `name` carrying `filename`. */
export const filePart = (name: string, filename: string, type = "text/plain", content = "hello"): string =>
  `Content-Disposition: form-data; name="${name}"; filename="${filename}"\r\nContent-Type: ${type}\r\n\r\n${content}`;
/** A form field part; `extraHeaders` are whole header lines, each ending in CRLF. */
export const fieldPart = (name: string, value: string, extraHeaders = ""): string => `Content-Disposition: form-data; name="${name}"\r\n${extraHeaders}\r\n${value}`;

/**
 * Places a value can travel in an `appRequests` request (host "x", path /app):
 * query: ?v=<encoded>; rawquery: the query string exactly as sent; path: the request path exactly as sent;
 * form: v=<encoded>; json: {"data":{"v":...}}; jsonraw: a whole JSON body; plain: a text/plain body;
 * xml: the value in an XML document; cookie: a second cookie v=<value as is>; header: an application header;
 * ctype: the Content-Type header; ua, referer, x-filename: those headers; upload: a multipart file name.
 */
export type AppPlace = "query" | "rawquery" | "form" | "json" | "jsonraw" | "plain" | "cookie" | "header" | "ctype" | "ua" | "referer" | "xml" | "upload" | "x-filename" | "path";

export interface AppStyle {
  /** How string bodies become bytes. */
  readonly encoding: BufferEncoding;
  /** attribute: <r><v a="value"/></r>; element: <r><v>value</v></r>. */
  readonly xml: "attribute" | "element";
  /** The application header the "header" place uses. */
  readonly header?: string;
}

/** A builder of requests to /app carrying a value in one place. */
export function appRequests(style: AppStyle): (place: AppPlace, value: string) => WafInput {
  const { get, post } = client("x", "/app", style.encoding);
  const header = style.header ?? "x-api-version";
  return (place, value) => {
    switch (place) {
      case "query":
        return get(`/app?v=${encodeURIComponent(value)}`);
      case "rawquery":
        return get(`/app?${value}`);
      case "form":
        return post("application/x-www-form-urlencoded", `v=${encodeURIComponent(value)}`);
      case "json":
        return post("application/json", JSON.stringify({ data: { v: value } }));
      case "jsonraw":
        return post("application/json", value);
      case "plain":
        return post("text/plain", value);
      case "xml": {
        const doc = style.xml === "attribute" ? `<r><v a="${xmlAttribute(value)}"/></r>` : `<r><v>${xmlText(value)}</v></r>`;
        return post("application/xml", `<?xml version="1.0"?>${doc}`);
      }
      case "cookie":
        return get("/app", [["cookie", `a=1; v=${value}`]]);
      case "header":
        return get("/app", [[header, value]]);
      case "ctype":
        return get("/app", [["content-type", value]]);
      case "x-filename":
        return get("/app", [["x-filename", value]]);
      case "ua":
        return get("/app", [["user-agent", value]]);
      case "referer":
        return get("/app", [["referer", value]]);
      case "path":
        return get(value);
      case "upload":
        return post(multipartType("----b0undary"), multipartBody("----b0undary", [filePart("f", value)]));
    }
  };
}
