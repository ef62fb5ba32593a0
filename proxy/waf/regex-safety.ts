/**
 * Regular expressions that cannot take super-linear time on attacker input.
 *
 * V8's backtracking engine is fast but exponential on patterns such as
 * `(a+)+$`. V8 also has a linear-time engine (an automaton simulation, like
 * RE2) that runs about 100× slower. With
 * `--enable-experimental-regexp-engine-on-excessive-backtracks`, a regex
 * that backtracks more than `--regexp-backtracks-before-fallback` times is
 * re-run on the linear engine: common inputs stay fast, the worst case is
 * linear. The fallback only exists for patterns the linear engine can run
 * (no back-references, no lookaround, no `i`/`u` flags), so every rule
 * pattern is checked at load by compiling it with the `l` (linear) flag:
 * a pattern that cannot be proven linear is refused.
 *
 * Case-insensitive matching is written `(?i)` at the start of a pattern and
 * compiled by turning each letter into a two-case class, since the linear
 * engine has no `i` flag; `(?s)` (also `(?is)`) makes `.` match newlines.
 */
import { setFlagsFromString } from "node:v8";

/** Backtracks allowed before the linear engine takes over (V8's default is 50,000). High enough that a long value scanned with ordinary backtracking (a few per position) stays on the fast engine; low enough that an exponential pattern is cut off within milliseconds. */
const BACKTRACK_LIMIT = 1_000_000;

let enabled = false;

/** Turns on V8's linear-time fallback for this process (idempotent). */
export function enableLinearFallback(): void {
  if (enabled) return;
  setFlagsFromString("--enable-experimental-regexp-engine");
  setFlagsFromString("--enable-experimental-regexp-engine-on-excessive-backtracks");
  setFlagsFromString(`--regexp-backtracks-before-fallback=${BACKTRACK_LIMIT}`);
  // Proves the flags took: the `l` flag only parses when the linear engine is on.
  // eslint-disable-next-line no-invalid-regexp -- "l" is V8's linear-engine flag, valid once the flag above is set
  new RegExp("a", "l");
  enabled = true;
}

export interface SafeRegexResult {
  readonly regex: RegExp;
  readonly caseInsensitive: boolean;
}

/**
 * Compiles a rule pattern. Throws an Error with a readable reason when the
 * pattern is invalid or cannot run in linear time.
 */
export function compileSafeRegex(pattern: string): SafeRegexResult {
  enableLinearFallback();
  const lead = /^\(\?([is]{1,2})\)/.exec(pattern);
  const ci = lead !== null && lead[1]!.includes("i");
  const flags = lead !== null && lead[1]!.includes("s") ? "s" : "";
  let source = lead === null ? pattern : pattern.slice(lead[0].length);
  if (ci) source = foldCase(source);
  try {
    new RegExp(source, flags);
  } catch (err) {
    throw new Error(`invalid regular expression: ${(err as Error).message.replace(/^Invalid regular expression: /, "")}`);
  }
  try {
    new RegExp(source, `${flags}l`);
  } catch {
    throw new Error("regular expression cannot be run in linear time (back-references, lookahead/lookbehind and unicode property escapes are not allowed)");
  }
  return { regex: new RegExp(source, flags), caseInsensitive: ci };
}

const isLower = (c: number): boolean => c >= 97 && c <= 122;
const isUpper = (c: number): boolean => c >= 65 && c <= 90;
const isLetter = (c: number): boolean => isLower(c) || isUpper(c);
const other = (ch: string): string => (isLower(ch.charCodeAt(0)) ? ch.toUpperCase() : ch.toLowerCase());

/**
 * Rewrites a pattern so that ASCII letters match both cases: `ab` → `[aA][bB]`,
 * `[a-f]` → `[a-fA-F]`. Escapes (`\s`, `\x41`, `\u0041`, `\cJ`) and group
 * syntax (`(?:`, `(?<name>`) are left alone.
 */
export function foldCase(src: string): string {
  let out = "";
  let i = 0;
  const n = src.length;
  while (i < n) {
    const ch = src[i]!;
    if (ch === "\\") {
      out += escapeAt(src, i);
      i += escapeAt(src, i).length;
      continue;
    }
    if (ch === "[") {
      const end = classEnd(src, i);
      out += foldClass(src.slice(i, end));
      i = end;
      continue;
    }
    if (ch === "(" && src[i + 1] === "?") {
      // (?: (?= (?! (?<= (?<! (?<name>
      let j = i + 2;
      if (src[j] === "<" && src[j + 1] !== "=" && src[j + 1] !== "!") {
        const close = src.indexOf(">", j);
        j = close < 0 ? n : close + 1;
      } else {
        j += src[j] === "<" ? 2 : 1;
      }
      out += src.slice(i, j);
      i = j;
      continue;
    }
    if (ch === "{") {
      // quantifier {n,m}: copied as is
      const close = src.indexOf("}", i);
      if (close > 0 && /^\{\d*,?\d*\}$/.test(src.slice(i, close + 1))) {
        out += src.slice(i, close + 1);
        i = close + 1;
        continue;
      }
    }
    const c = src.charCodeAt(i);
    out += isLetter(c) ? `[${ch}${other(ch)}]` : ch;
    i++;
  }
  return out;
}

/** The whole escape sequence starting at i (a backslash). */
function escapeAt(src: string, i: number): string {
  const next = src[i + 1];
  if (next === undefined) return "\\";
  if (next === "x") return src.slice(i, i + 4);
  if (next === "u") return src[i + 2] === "{" ? src.slice(i, src.indexOf("}", i) + 1 || src.length) : src.slice(i, i + 6);
  if (next === "c") return src.slice(i, i + 3);
  if (next === "p" || next === "P") return src.slice(i, src.indexOf("}", i) + 1 || src.length);
  return src.slice(i, i + 2);
}

/** Index just past the `]` closing the class that starts at i. */
function classEnd(src: string, i: number): number {
  let j = i + 1;
  if (src[j] === "^") j++;
  if (src[j] === "]") j++;
  while (j < src.length && src[j] !== "]") j += src[j] === "\\" ? escapeAt(src, j).length : 1;
  return Math.min(j + 1, src.length);
}

/** Adds the other case of every letter and letter range of a class. */
function foldClass(cls: string): string {
  const start = cls[1] === "^" ? 2 : 1;
  const body = cls.slice(start, cls.endsWith("]") ? -1 : undefined);
  let extra = "";
  let i = 0;
  while (i < body.length) {
    if (body[i] === "\\") {
      i += escapeAt(body, i).length;
      continue;
    }
    const a = body.charCodeAt(i);
    if (body[i + 1] === "-" && i + 2 < body.length && body[i + 2] !== "\\") {
      const b = body.charCodeAt(i + 2);
      if (isLower(a) && isLower(b)) extra += `${body[i]!.toUpperCase()}-${body[i + 2]!.toUpperCase()}`;
      else if (isUpper(a) && isUpper(b)) extra += `${body[i]!.toLowerCase()}-${body[i + 2]!.toLowerCase()}`;
      i += 3;
      continue;
    }
    if (isLetter(a)) extra += other(body[i]!);
    i++;
  }
  // a literal "-" at the end must stay last, or the added letters would turn it into a range
  if (body.endsWith("-") && !body.endsWith("\\-")) return `${cls.slice(0, start)}${body.slice(0, -1)}${extra}-]`;
  return cls.slice(0, start) + body + extra + "]";
}
