/**
 * normalize_path / normalize_path_win: collapse `//`, drop `.` segments and
 * resolve `..` against the segments before it, never climbing above the
 * start (`/../etc` → `/etc`). Nothing is percent-decoded here.
 */

const SLASH = 0x2f;
const DOT = 0x2e;

/** True when s has `//` or a `.`/`..` segment, i.e. normalisation would change it. */
function needsWork(s: string): boolean {
  if (s.indexOf("//") >= 0) return true;
  const n = s.length;
  let dot = s.indexOf(".");
  while (dot >= 0) {
    if (dot === 0 || s.charCodeAt(dot - 1) === SLASH) {
      let e = dot + 1;
      if (e < n && s.charCodeAt(e) === DOT) e++;
      if (e === n || s.charCodeAt(e) === SLASH) return true;
    }
    dot = s.indexOf(".", dot + 1);
  }
  return false;
}

export function normalizePath(s: string): string {
  if (!needsWork(s)) return s;
  const n = s.length;
  const absolute = s.charCodeAt(0) === SLASH;
  const stack: string[] = [];
  // Whether the last segment was empty, "." or "..": the result then ends with '/' (as RFC 3986 does).
  let trailing = false;
  let i = 0;
  while (i <= n) {
    let j = s.indexOf("/", i);
    if (j < 0) j = n;
    const len = j - i;
    if (len === 0 || (len === 1 && s.charCodeAt(i) === DOT)) {
      trailing = true;
    } else if (len === 2 && s.charCodeAt(i) === DOT && s.charCodeAt(i + 1) === DOT) {
      stack.pop();
      trailing = true;
    } else {
      stack.push(s.slice(i, j));
      trailing = false;
    }
    i = j + 1;
  }
  if (stack.length === 0) return absolute ? "/" : "";
  return (absolute ? "/" : "") + stack.join("/") + (trailing ? "/" : "");
}

/** Backslashes become slashes first (`c:\windows\..\boot.ini` → `c:/boot.ini`). */
export function normalizePathWin(s: string): string {
  return normalizePath(s.indexOf("\\") < 0 ? s : s.replace(/\\/g, "/"));
}
