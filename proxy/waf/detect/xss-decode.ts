/**
 * Decoding a browser applies to attribute values before it uses them:
 * character references (HTML) and, for style attributes, CSS escapes and
 * comments. All functions are linear and never throw.
 */
import { hexValue } from "../transforms/support.js";

/**
 * Named references that matter for hiding script: punctuation used to spell
 * URLs and calls, the whitespace a URL parser drops, and the common ones.
 * Not the whole HTML table: a name missing here stays literal, which can only
 * hide an attack that uses an exotic name for a character that is harmless anyway.
 */
const NAMED: ReadonlyMap<string, string> = new Map([
  ["amp", "&"], ["lt", "<"], ["gt", ">"], ["quot", '"'], ["apos", "'"],
  ["nbsp", "\u00a0"], ["Tab", "\t"], ["NewLine", "\n"], ["colon", ":"],
  ["semi", ";"], ["comma", ","], ["period", "."], ["sol", "/"], ["bsol", "\\"],
  ["lpar", "("], ["rpar", ")"], ["lsqb", "["], ["rsqb", "]"], ["lbrack", "["],
  ["rbrack", "]"], ["lcub", "{"], ["rcub", "}"], ["lbrace", "{"], ["rbrace", "}"],
  ["excl", "!"], ["quest", "?"], ["num", "#"], ["dollar", "$"], ["percnt", "%"],
  ["ast", "*"], ["midast", "*"], ["plus", "+"], ["equals", "="], ["commat", "@"],
  ["Hat", "^"], ["lowbar", "_"], ["UnderBar", "_"], ["grave", "`"], ["DiacriticalGrave", "`"],
  ["vert", "|"], ["verbar", "|"], ["VerticalLine", "|"], ["tilde", "~"],
  ["hyphen", "\u2010"], ["dash", "\u2010"], ["QUOT", '"'], ["AMP", "&"], ["LT", "<"], ["GT", ">"],
]);

/** Names the HTML parser also recognises without the ";" (legacy references). */
const LEGACY: ReadonlySet<string> = new Set(["amp", "lt", "gt", "quot", "nbsp", "AMP", "LT", "GT", "QUOT"]);

/** Longest reference name we look at; longer runs of letters are not references we know. */
const MAX_NAME = 32;

function isAlnum(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || ((c | 0x20) >= 0x61 && (c | 0x20) <= 0x7a);
}

/** Code point to text; 0 is dropped (a filter-evasion NUL), invalid values become U+FFFD as in HTML. */
function codePointText(cp: number): string {
  if (cp === 0) return "";
  if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return "\ufffd";
  return String.fromCodePoint(cp);
}

/**
 * Decodes character references the way an HTML parser does inside an attribute
 * value: numeric ones with or without ";" (any number of leading zeros), named
 * ones with ";", legacy names without ";" unless followed by an alphanumeric or "=".
 */
export function decodeEntities(s: string): string {
  let amp = s.indexOf("&");
  if (amp < 0) return s;
  const n = s.length;
  let out = "";
  let last = 0;
  while (amp >= 0) {
    let i = amp + 1;
    let text: string | undefined;
    if (i < n && s.charCodeAt(i) === 0x23 /* # */) {
      i++;
      const hex = i < n && (s.charCodeAt(i) | 0x20) === 0x78; /* x */
      if (hex) i++;
      const digitsStart = i;
      let cp = 0;
      for (; i < n; i++) {
        const c = s.charCodeAt(i);
        const d = hex ? hexValue(c) : c >= 0x30 && c <= 0x39 ? c - 0x30 : -1;
        if (d < 0) break;
        // Saturate instead of overflowing: a long run of digits is still one (invalid) reference.
        cp = cp > 0x10ffff ? cp : cp * (hex ? 16 : 10) + d;
      }
      if (i > digitsStart) {
        if (i < n && s.charCodeAt(i) === 0x3b) i++;
        text = codePointText(cp);
      }
    } else {
      let j = i;
      while (j < n && j - i < MAX_NAME && isAlnum(s.charCodeAt(j))) j++;
      if (j > i) {
        const name = s.slice(i, j);
        const hit = NAMED.get(name);
        if (hit !== undefined && j < n && s.charCodeAt(j) === 0x3b) {
          text = hit;
          i = j + 1;
        } else if (hit !== undefined && LEGACY.has(name)) {
          const next = j < n ? s.charCodeAt(j) : 0;
          if (!isAlnum(next) && next !== 0x3d) {
            text = hit;
            i = j;
          }
        }
      }
    }
    if (text === undefined) {
      amp = s.indexOf("&", amp + 1);
      continue;
    }
    out += s.slice(last, amp) + text;
    last = i;
    amp = s.indexOf("&", i);
  }
  return out + s.slice(last);
}

/**
 * A style attribute reduced to what the CSS parser acts on: escapes resolved,
 * comments removed, lower case, and without whitespace, control characters,
 * quotes and backslashes, so that "expr/**\/ession (", "url( 'java\\73 cript:"
 * and "-MOZ-binding" all read plainly.
 */
export function normalizeCss(s: string): string {
  const n = s.length;
  let out = "";
  let run = 0; // start of the pending run of ordinary characters
  let i = 0;
  while (i < n) {
    const c = s.charCodeAt(i);
    if (c > 0x20 && c !== 0x22 && c !== 0x27 && c !== 0x2f && c !== 0x5c) {
      i++;
      continue;
    }
    out += s.slice(run, i);
    if (c === 0x2f /* / */) {
      if (i + 1 < n && s.charCodeAt(i + 1) === 0x2a /* * */) {
        const close = s.indexOf("*/", i + 2);
        i = close < 0 ? n : close + 2;
      } else {
        out += "/";
        i++;
      }
    } else if (c === 0x5c /* \ */) {
      i++;
      let cp = 0;
      let digits = 0;
      while (i < n && digits < 6) {
        const d = hexValue(s.charCodeAt(i));
        if (d < 0) break;
        cp = cp * 16 + d;
        digits++;
        i++;
      }
      if (digits > 0) {
        // One whitespace after a hex escape belongs to the escape.
        if (i < n && s.charCodeAt(i) <= 0x20) i++;
        const t = codePointText(cp);
        const tc = t.charCodeAt(0);
        if (tc > 0x20 && tc !== 0x22 && tc !== 0x27) out += t;
      } else if (i < n) {
        if (s.charCodeAt(i) > 0x20) out += s[i];
        i++;
      }
    } else {
      i++; // whitespace, control character or quote: dropped
    }
    run = i;
  }
  return (out + s.slice(run, n)).toLowerCase();
}
