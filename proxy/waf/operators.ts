/**
 * Operators: what a rule tests a (transformed) value with. Each compiles
 * once to a function returning the matched fragment (for the log) or
 * undefined. All run in linear time: regexes go through regex-safety.ts,
 * phrase lists through one Aho-Corasick pass.
 */
import { detectSqli, sqliCannotMatch } from "./detect/sqli.js";
import { detectXss } from "./detect/xss.js";
import { PhraseMatcher } from "./phrase.js";
import { compileSafeRegex } from "./regex-safety.js";
import { F_COMMENT, F_HIGH, F_MARKUP, F_PUNCT, F_SPACE } from "./prefilter/features.js";
import { hexValue } from "./transforms/support.js";

export type Operator = (value: string) => string | undefined;

/** The operator keys a rule may use (exactly one per condition). */
export const OPERATOR_KEYS = [
  "rx",
  "phrases",
  "contains",
  "begins",
  "ends",
  "equals",
  "within",
  "gt",
  "ge",
  "lt",
  "le",
  "eq",
  "byte_range",
  "validate_url_encoding",
  "validate_utf8",
  "sqli",
  "xss",
] as const;
export type OperatorKey = (typeof OPERATOR_KEYS)[number];

/**
 * Value features (prefilter/features.ts) one of which an operator's input must have for it to match: the
 * engine passes over a value without any of them, without calling the operator. The SQL detector finds
 * nothing in a value that is inert to it (detect/sqli.ts, isInert: letters, digits, `_ . : /`, single
 * dashes, units above 0x7F but 0xA0), nor the XSS detector in one without `<`, `=`, `:` or `&`. A test holds
 * the detectors to this.
 */
export const OPERATOR_NEEDS: Readonly<Partial<Record<OperatorKey, number>>> = {
  sqli: F_PUNCT | F_SPACE | F_COMMENT | F_HIGH,
  xss: F_MARKUP,
};

/**
 * Tests that answer "no match" for a value as it is and for any ASCII case of it, cheaper than the operator:
 * the engine asks them before lowering a value for a chain that would change nothing else (run-condition.ts).
 * A test holds each to its operator.
 */
export const OPERATOR_CANNOT_MATCH: Readonly<Partial<Record<OperatorKey, (value: string) => boolean>>> = {
  sqli: sqliCannotMatch,
};

/** Compiles operator `key` with its rule-file argument; throws Error(reason) when the argument is unusable. */
export function compileOperator(key: OperatorKey, arg: unknown): Operator {
  switch (key) {
    case "rx": {
      const { regex } = compileSafeRegex(String(arg));
      return (v) => {
        const m = regex.exec(v);
        return m === null ? undefined : m[0];
      };
    }
    case "phrases": {
      const pm = new PhraseMatcher(arg as string[]);
      return (v) => pm.find(v);
    }
    case "contains": {
      const s = String(arg);
      return (v) => (v.includes(s) ? s : undefined);
    }
    case "begins": {
      const s = String(arg);
      return (v) => (v.startsWith(s) ? s : undefined);
    }
    case "ends": {
      const s = String(arg);
      return (v) => (v.endsWith(s) ? s : undefined);
    }
    case "equals": {
      const s = String(arg);
      return (v) => (v === s ? v : undefined);
    }
    case "within": {
      const set = new Set(arg as string[]);
      return (v) => (set.has(v) ? v : undefined);
    }
    case "gt":
    case "ge":
    case "lt":
    case "le":
    case "eq":
      return numeric(key, Number(arg));
    case "byte_range":
      return byteRange(String(arg));
    case "validate_url_encoding":
      return invalidUrlEncoding;
    case "validate_utf8":
      return invalidUtf8;
    case "sqli":
      return (v) => {
        const m = detectSqli(v);
        return m === undefined ? undefined : `sqli:${m.fingerprint}`;
      };
    case "xss":
      return (v) => {
        const m = detectXss(v);
        return m === undefined ? undefined : `xss:${m.reason}`;
      };
  }
}

/** Integer value of the input (a non-number counts as 0, as in ModSecurity). */
function toNumber(v: string): number {
  const n = Number.parseInt(v, 10);
  return Number.isFinite(n) ? n : 0;
}

function numeric(key: "gt" | "ge" | "lt" | "le" | "eq", bound: number): Operator {
  if (!Number.isFinite(bound)) throw new Error(`${key} needs a number`);
  switch (key) {
    case "gt":
      return (v) => (toNumber(v) > bound ? v : undefined);
    case "ge":
      return (v) => (toNumber(v) >= bound ? v : undefined);
    case "lt":
      return (v) => (toNumber(v) < bound ? v : undefined);
    case "le":
      return (v) => (toNumber(v) <= bound ? v : undefined);
    case "eq":
      return (v) => (toNumber(v) === bound ? v : undefined);
  }
}

/** `"1-255"`, `"9,10,13,32-126"`: matches when a char code lies outside every range. */
function byteRange(spec: string): Operator {
  const allowed = new Uint8Array(256);
  for (const part of spec.split(",")) {
    const m = /^\s*(\d{1,3})(?:\s*-\s*(\d{1,3}))?\s*$/.exec(part);
    if (m === null) throw new Error(`byte_range: "${part.trim()}" is not N or N-M`);
    const a = Number(m[1]);
    const b = m[2] === undefined ? a : Number(m[2]);
    if (a > 255 || b > 255 || a > b) throw new Error(`byte_range: "${part.trim()}" must be within 0-255, low to high`);
    allowed.fill(1, a, b + 1);
  }
  return (v) => {
    for (let i = 0; i < v.length; i++) {
      const c = v.charCodeAt(i);
      if (c > 255 || allowed[c] === 0) return `byte ${c}`;
    }
    return undefined;
  };
}

/** Matches a `%` not followed by two hex digits. */
export function invalidUrlEncoding(v: string): string | undefined {
  let i = v.indexOf("%");
  while (i >= 0) {
    if (hexValue(v.charCodeAt(i + 1)) < 0 || hexValue(v.charCodeAt(i + 2)) < 0) return v.slice(i, i + 3);
    i = v.indexOf("%", i + 3);
  }
  return undefined;
}

/** Matches a value (bytes as latin1 chars) that is not well-formed UTF-8: bad lead, truncated, overlong, surrogate, > U+10FFFF. */
export function invalidUtf8(v: string): string | undefined {
  const n = v.length;
  let i = 0;
  while (i < n) {
    const c = v.charCodeAt(i);
    if (c < 0x80) {
      i++;
      continue;
    }
    if (c > 0xff) return "non-byte character";
    let need: number;
    let min: number;
    let cp: number;
    if (c >= 0xc2 && c <= 0xdf) [need, min, cp] = [1, 0x80, c & 0x1f];
    else if (c >= 0xe0 && c <= 0xef) [need, min, cp] = [2, 0x800, c & 0x0f];
    else if (c >= 0xf0 && c <= 0xf4) [need, min, cp] = [3, 0x10000, c & 0x07];
    else return `invalid byte 0x${c.toString(16)}`;
    if (i + need >= n) return "truncated sequence";
    for (let k = 1; k <= need; k++) {
      const d = v.charCodeAt(i + k);
      if (Number.isNaN(d) || (d & 0xc0) !== 0x80) return "truncated sequence";
      cp = (cp << 6) | (d & 0x3f);
    }
    if (cp < min) return "overlong sequence";
    if (cp >= 0xd800 && cp <= 0xdfff) return "surrogate";
    if (cp > 0x10ffff) return "above U+10FFFF";
    i += need + 1;
  }
  return undefined;
}
