/**
 * cmd_line, after ModSecurity's cmdLine: undo the shell tricks that keep a
 * command working while hiding it (`w"h"o"a"m"i`, `who^ami`, `cat${IFS}`-free
 * `cat,/etc/passwd`, `ping  (`...).
 */
import { StringBuilder } from "./support.js";
import { lowercase } from "./text.js";

const PLAIN = 0;
/** Deleted outright: \ " ' ^ */
const DELETE = 1;
/** Whitespace, `,` and `;`: collapse into one space. */
const SPACE = 2;
/** `/` and `(`: a space before them is dropped. */
const TIGHT = 3;

const CLASS = new Uint8Array(256);
for (const c of '\\"\'^') CLASS[c.charCodeAt(0)] = DELETE;
for (const c of " \t\n\v\f\r,;\u00a0") CLASS[c.charCodeAt(0)] = SPACE;
for (const c of "/(") CLASS[c.charCodeAt(0)] = TIGHT;

/** Anything the structural pass would change (lowering is checked separately). */
const NEEDS_WORK = /[\\"'^,;\t\n\v\f\r\u00a0]| [ /(]/;

function classOf(c: number): number {
  return c < 256 ? CLASS[c] : PLAIN;
}

function collapse(s: string): string {
  if (!NEEDS_WORK.test(s)) return s;
  const n = s.length;
  const out = new StringBuilder();
  // A space is held back until the next kept char shows whether it survives.
  let pendingSpace = false;
  let runStart = 0;
  const flushRun = (end: number): void => {
    if (end <= runStart) return;
    if (pendingSpace) out.unit(0x20);
    pendingSpace = false;
    out.addRange(s, runStart, end);
  };
  for (let i = 0; i < n; i++) {
    const cls = classOf(s.charCodeAt(i));
    if (cls === PLAIN) continue;
    flushRun(i);
    if (cls === TIGHT) {
      pendingSpace = false;
      runStart = i; // the char itself starts the next run
    } else {
      if (cls === SPACE) pendingSpace = true;
      runStart = i + 1;
    }
  }
  flushRun(n);
  if (pendingSpace) out.unit(0x20);
  return out.done();
}

/**
 * Deletes `\ " ' ^`, turns `,` and `;` into spaces, compresses whitespace,
 * drops spaces before `/` and `(`, and lowercases.
 */
export function cmdLine(s: string): string {
  return lowercase(collapse(s));
}
