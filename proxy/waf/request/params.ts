/**
 * Header values with parameters (`type; a=b; c="d"`), as in Content-Type and
 * Content-Disposition. Parsing is lenient (it keeps going so the WAF sees
 * every parameter) but notes each irregularity, because an irregular
 * multipart header is how parsers are made to disagree.
 */
import { isWs, trimOws } from "./text.js";

export interface Param {
  /** Lower-case name. */
  readonly name: string;
  readonly value: string;
  readonly quoted: boolean;
  /** Whitespace around "=" (allowed by nobody, tolerated by some parsers). */
  readonly spaced: boolean;
}

export interface ParsedParams {
  /** The part before the first ";", trimmed and lower-case ("multipart/form-data"). */
  readonly type: string;
  readonly params: Param[];
  /** The first irregularity found, if any. */
  readonly problem: string | undefined;
}

/** A parameter name ends at these: whitespace, "=", ";" or a quote. */
function endsName(c: number): boolean {
  return isWs(c) || c === 0x3d || c === 0x3b || c === 0x22;
}

export function parseParams(v: string): ParsedParams {
  const n = v.length;
  let semi = v.indexOf(";");
  if (semi === -1) semi = n;
  const type = trimOws(v.slice(0, semi)).toLowerCase();
  const params: Param[] = [];
  let problem: string | undefined;
  let i = semi;
  while (i < n) {
    // Here v[i] is ";" or where a ";" should have been.
    if (v.charCodeAt(i) === 0x3b) i++;
    while (i < n && isWs(v.charCodeAt(i))) i++;
    if (i >= n) break;
    if (v.charCodeAt(i) === 0x3b) {
      problem ??= "empty parameter";
      continue;
    }
    const ns = i;
    while (i < n && !endsName(v.charCodeAt(i))) i++;
    const name = v.slice(ns, i).toLowerCase();
    let spaced = false;
    while (i < n && isWs(v.charCodeAt(i))) {
      i++;
      spaced = true;
    }
    if (name.length === 0 || i >= n || v.charCodeAt(i) !== 0x3d) {
      problem ??= name.length === 0 ? "parameter without a name" : `parameter ${name} without a value`;
      while (i < n && v.charCodeAt(i) !== 0x3b) i++;
      continue;
    }
    i++;
    while (i < n && isWs(v.charCodeAt(i))) {
      i++;
      spaced = true;
    }
    let value: string;
    let quoted = false;
    if (i < n && v.charCodeAt(i) === 0x22) {
      quoted = true;
      const r = readQuoted(v, i + 1);
      if (r.end === -1) problem ??= "unterminated quoted string";
      value = r.value;
      i = r.end === -1 ? n : r.end + 1;
    } else {
      const vs = i;
      while (i < n && v.charCodeAt(i) !== 0x3b && !isWs(v.charCodeAt(i))) i++;
      value = v.slice(vs, i);
      if (value.indexOf('"') !== -1) problem ??= `stray quote in parameter ${name}`;
    }
    params.push({ name, value, quoted, spaced });
    while (i < n && isWs(v.charCodeAt(i))) i++;
    if (i < n && v.charCodeAt(i) !== 0x3b) problem ??= "missing semicolon between parameters";
  }
  return { type, params, problem };
}

/**
 * A quoted string starting after the opening quote. A backslash escapes only
 * `"` and `\`; before anything else it is kept (browsers send Windows paths
 * unescaped). end is the index of the closing quote, -1 when there is none.
 */
function readQuoted(v: string, start: number): { value: string; end: number } {
  const n = v.length;
  let out = "";
  let run = start;
  for (let i = start; i < n; i++) {
    const c = v.charCodeAt(i);
    if (c === 0x22) return { value: out + v.slice(run, i), end: i };
    if (c === 0x5c && i + 1 < n) {
      const e = v.charCodeAt(i + 1);
      if (e === 0x22 || e === 0x5c) {
        out += v.slice(run, i);
        run = i + 1;
        i++;
      }
    }
  }
  return { value: out + v.slice(run), end: -1 };
}

/** bchars of RFC 2046: DIGIT / ALPHA / "'()+_,-./:=?" and space (not last). */
function isBchar(c: number): boolean {
  const l = c | 0x20;
  return (
    (c >= 0x30 && c <= 0x39) ||
    (l >= 0x61 && l <= 0x7a && c >= 0x41) ||
    c === 0x27 ||
    c === 0x28 ||
    c === 0x29 ||
    c === 0x2b ||
    c === 0x5f ||
    c === 0x2c ||
    c === 0x2d ||
    c === 0x2e ||
    c === 0x2f ||
    c === 0x3a ||
    c === 0x3d ||
    c === 0x3f ||
    c === 0x20
  );
}

/** Characters of bchars that are tspecials: legal in a boundary only when it is quoted. */
function needsQuotes(c: number): boolean {
  return c === 0x28 || c === 0x29 || c === 0x2c || c === 0x2f || c === 0x3a || c === 0x3d || c === 0x3f || c === 0x20;
}

/** Why a multipart boundary is not acceptable, or undefined when it is. */
export function boundaryProblem(p: Param): string | undefined {
  const b = p.value;
  if (b.length === 0 || b.length > 70) return "boundary length must be 1 to 70";
  if (p.spaced) return "whitespace around the boundary parameter";
  for (let i = 0; i < b.length; i++) {
    const c = b.charCodeAt(i);
    if (!isBchar(c)) return "invalid character in boundary";
    if (!p.quoted && needsQuotes(c)) return "unquoted boundary with special characters";
  }
  if (b.charCodeAt(b.length - 1) === 0x20) return "boundary ends with a space";
  return undefined;
}
