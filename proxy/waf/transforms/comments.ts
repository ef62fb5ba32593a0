/**
 * Comment handling for SQL/HTML/shell evasion (`SEL/**\/ECT`, `1--`, `<!--`):
 * remove_comments, replace_comments and remove_comments_char. The patterns
 * are alternations of fixed strings, found left to right, so linear.
 */
import { StringBuilder } from "./support.js";

/** Comment openers for remove_comments; `<!--` comes first so it wins over the `--` inside it. */
const OPENER = /<!--|\/\*|--|#/g;
const HAS_OPENER = /<!--|\/\*|--|#/;

/** Index of the first \n or \r at or after `from`, or s.length. */
function lineEnd(s: string, from: number): number {
  const n = s.length;
  for (let i = from; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x0a || c === 0x0d) return i;
  }
  return n;
}

/** Index just past `close` found from `from`, or s.length when the comment is unterminated. */
function pastClose(s: string, close: string, from: number): number {
  const e = s.indexOf(close, from);
  return e < 0 ? s.length : e + close.length;
}

/**
 * Removes `/* ... *\/` and `<!-- ... -->` (unterminated ones to the end) and
 * `--` / `#` up to the end of the line (the line break stays).
 */
export function removeComments(s: string): string {
  if (!HAS_OPENER.test(s)) return s;
  const n = s.length;
  const out = new StringBuilder();
  let last = 0;
  OPENER.lastIndex = 0;
  let m = OPENER.exec(s);
  while (m !== null) {
    const k = m.index;
    out.addRange(s, last, k);
    const open = m[0];
    if (open === "/*") last = pastClose(s, "*/", k + 2);
    else if (open === "<!--") last = pastClose(s, "-->", k + 4);
    else last = lineEnd(s, k + open.length);
    if (last >= n) break;
    OPENER.lastIndex = last;
    m = OPENER.exec(s);
  }
  OPENER.lastIndex = 0;
  out.addRange(s, last, n);
  return out.done();
}

/** Each `/* ... *\/` (or unterminated `/* ...`) becomes one space; a lone `*\/` stays. */
export function replaceComments(s: string): string {
  let k = s.indexOf("/*");
  if (k < 0) return s;
  const out = new StringBuilder();
  let last = 0;
  while (k >= 0) {
    out.addRange(s, last, k);
    out.add(" ");
    last = pastClose(s, "*/", k + 2);
    k = s.indexOf("/*", last);
  }
  out.addRange(s, last, s.length);
  return out.done();
}

/** Longer markers first so `-->` is removed whole rather than as `--` + `>`. */
const COMMENT_CHARS = /<!--|-->|\/\*|\*\/|--|#/g;
const HAS_COMMENT_CHARS = /\/\*|\*\/|--|#/;

/** Deletes the comment markers themselves: `/*`, `*\/`, `<!--`, `-->`, `--`, `#`. */
export function removeCommentsChar(s: string): string {
  return HAS_COMMENT_CHARS.test(s) ? s.replace(COMMENT_CHARS, "") : s;
}
