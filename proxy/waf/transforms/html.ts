/**
 * html_entity_decode: numeric references (`&#DDD;`, `&#xHH;`, the `;` optional)
 * and named entities, including the punctuation ones used to smuggle
 * `javascript&colon;` or `&lpar;`/`&rpar;` past filters.
 * Numeric references decode to the real code point (what the browser sees),
 * not to its low byte.
 */
import { StringBuilder, codePointChar, hexValue, REPLACEMENT_CHAR } from "./support.js";

/** Entities decoded with or without `;` and in any case (`&LT`, `&Quot;`), as ModSecurity and browsers do. */
const LEGACY: ReadonlyMap<string, string> = new Map([
  ["quot", '"'],
  ["amp", "&"],
  ["lt", "<"],
  ["gt", ">"],
  ["nbsp", "\u00a0"],
  ["apos", "'"],
]);

/** Case-sensitive HTML5 names, decoded only with the trailing `;` (legacy ones included for a direct hit). */
const NAMED: ReadonlyMap<string, string> = new Map([
  ...LEGACY,
  ["Tab", "\t"],
  ["NewLine", "\n"],
  ["excl", "!"],
  ["QUOT", '"'],
  ["num", "#"],
  ["dollar", "$"],
  ["percnt", "%"],
  ["AMP", "&"],
  ["lpar", "("],
  ["rpar", ")"],
  ["ast", "*"],
  ["midast", "*"],
  ["plus", "+"],
  ["comma", ","],
  ["period", "."],
  ["sol", "/"],
  ["colon", ":"],
  ["semi", ";"],
  ["LT", "<"],
  ["equals", "="],
  ["GT", ">"],
  ["quest", "?"],
  ["commat", "@"],
  ["lsqb", "["],
  ["lbrack", "["],
  ["bsol", "\\"],
  ["rsqb", "]"],
  ["rbrack", "]"],
  ["Hat", "^"],
  ["lowbar", "_"],
  ["UnderBar", "_"],
  ["grave", "`"],
  ["DiacriticalGrave", "`"],
  ["lcub", "{"],
  ["lbrace", "{"],
  ["verbar", "|"],
  ["vert", "|"],
  ["VerticalLine", "|"],
  ["rcub", "}"],
  ["rbrace", "}"],
  ["NonBreakingSpace", "\u00a0"],
  ["shy", "\u00ad"],
  ["zwnj", "\u200c"],
  ["zwj", "\u200d"],
  ["lsquo", "\u2018"],
  ["rsquo", "\u2019"],
  ["ldquo", "\u201c"],
  ["rdquo", "\u201d"],
  ["lsaquo", "\u2039"],
  ["rsaquo", "\u203a"],
  ["laquo", "\u00ab"],
  ["raquo", "\u00bb"],
]);

/** Longest entity name looked at; longer alphanumeric runs cannot be entities. */
const MAX_NAME = 32;
const SEMI = 0x3b;

function isAlnum(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || ((c | 0x20) >= 0x61 && (c | 0x20) <= 0x7a);
}

interface Decoded {
  readonly text: string;
  readonly end: number;
}

/** A numeric reference at s[k] = '&', s[k+1] = '#'. */
function numericAt(s: string, k: number): Decoded | null {
  const n = s.length;
  let i = k + 2;
  const hex = i < n && (s.charCodeAt(i) | 0x20) === 0x78;
  if (hex) i++;
  const start = i;
  let v = 0;
  for (; i < n; i++) {
    const d = hex ? hexValue(s.charCodeAt(i)) : s.charCodeAt(i) - 0x30;
    if (d < 0 || d > (hex ? 15 : 9)) break;
    // Saturate instead of overflowing: any value past U+10FFFF is invalid anyway.
    if (v <= 0x10ffff) v = v * (hex ? 16 : 10) + d;
  }
  if (i === start) return null;
  if (i < n && s.charCodeAt(i) === SEMI) i++;
  return { text: v > 0x10ffff ? REPLACEMENT_CHAR : codePointChar(v), end: i };
}

/** A named reference at s[k] = '&'. */
function namedAt(s: string, k: number): Decoded | null {
  const n = s.length;
  let i = k + 1;
  while (i < n && i - k <= MAX_NAME && isAlnum(s.charCodeAt(i))) i++;
  if (i === k + 1 || i - k > MAX_NAME) return null;
  const name = s.slice(k + 1, i);
  if (i < n && s.charCodeAt(i) === SEMI) {
    const text = NAMED.get(name) ?? LEGACY.get(name.toLowerCase());
    return text === undefined ? null : { text, end: i + 1 };
  }
  const text = LEGACY.get(name.toLowerCase());
  return text === undefined ? null : { text, end: i };
}

export function htmlEntityDecode(s: string): string {
  let k = s.indexOf("&");
  if (k < 0) return s;
  const n = s.length;
  const out = new StringBuilder();
  let last = 0;
  while (k >= 0) {
    const d = s.charCodeAt(k + 1) === 0x23 ? numericAt(s, k) : namedAt(s, k);
    if (d === null) {
      k = s.indexOf("&", k + 1);
      continue;
    }
    out.addRange(s, last, k);
    out.add(d.text);
    last = d.end;
    k = s.indexOf("&", last);
  }
  if (last === 0) return s;
  out.addRange(s, last, n);
  return out.done();
}
