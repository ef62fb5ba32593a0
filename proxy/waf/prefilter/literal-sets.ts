/**
 * Literal sets for the regex prefilter (see literals.ts): a cost model that
 * estimates how often a set triggers on benign text, the choice between two
 * sound sets, and keeping sets small (dropping literals that contain another
 * one, shortening big word lists to substring windows).
 */

/** A required set larger than this is shortened to substring windows. */
export const MAX_REQUIRED = 64;
/** The most literals a shortened set may keep; beyond it the pattern gets no constraint. */
export const MAX_SHORTENED = 256;
/** Window lengths tried when shortening a set. */
const MIN_WINDOW = 3;
const MAX_WINDOW = 4;

/** ASCII-only lower-casing: the matcher folds only ASCII, so a literal must not fold more. */
export const lowerAscii = (s: string): string => (/[A-Z]/.test(s) ? s.replace(/[A-Z]/g, (c) => String.fromCharCode(c.charCodeAt(0) + 32)) : s);

// ---- cost model --------------------------------------------------------

/**
 * Rough chance that a benign value (name, e-mail, price, date, sentence,
 * URL, JSON key) contains a character: frequent English letters 0.5, other
 * letters 0.2, j q x z 0.05, digits/space/'.' 0.3, '-' 0.25, '_' '/' ':'
 * 0.15, ',' '@' '+' 0.1, other punctuation 0.03, control and non-ASCII 0.02.
 */
const CHAR_P = new Float64Array(128).fill(0.03);
for (let c = 0; c < 32; c++) CHAR_P[c] = 0.02;
CHAR_P[127] = 0.02;
for (let c = 97; c <= 122; c++) CHAR_P[c] = CHAR_P[c - 32] = 0.2;
for (const [chars, p] of [["etaoinsrhl", 0.5], ["jqxz", 0.05], ["0123456789 .", 0.3], ["-", 0.25], ["_/:", 0.15], [",@+", 0.1]] as const) {
  for (const ch of chars) {
    const c = ch.charCodeAt(0);
    CHAR_P[c] = p;
    if (c >= 97 && c <= 122) CHAR_P[c - 32] = p;
  }
}
const charP = (c: number): number => (c < 128 ? CHAR_P[c]! : 0.02);
const isAlpha = (c: number): boolean => (c >= 97 && c <= 122) || (c >= 65 && c <= 90);
const isDigit = (c: number): boolean => c >= 48 && c <= 57;

/**
 * Letter runs that English text is full of (the most frequent trigrams, and a few more met in names,
 * addresses and product text): a literal holding one ("prin" of printf, "pres" of compress, "top") turns up
 * in benign prose far more often than its letters alone say ("spring", "express", "desktop").
 */
const COMMON_TRIGRAMS = new Set(
  (
    "the and ing ion tio ent ati for her ter hat tha ere ate his con res ver all ons nce men ith ted ers pro thi wit are ess not ive was ect " +
    "rea com eve per int est sta cti ica ist ear ain one our iti rat ell ill ome ore ort ove ice ine pri rin pre rom fro out ret urn day age " +
    "ack top ase ame art ord ard red ree een eet tre str ste ner nte sto man ley ble ght igh ous ant end ind par"
  ).split(" "),
);
/** How much more often a literal with a common English trigram turns up than the character model says. */
const COMMON_FACTOR = 8;

/** Whether lit holds a letter trigram of COMMON_TRIGRAMS (ASCII case ignored). */
function hasCommonTrigram(lit: string): boolean {
  const low = lit.toLowerCase();
  for (let i = 0; i + 3 <= low.length; i++) if (COMMON_TRIGRAMS.has(low.slice(i, i + 3))) return true;
  return false;
}

/**
 * Chance that a benign value contains `lit`: p(first char) times, for each
 * next character, 0.6·p(c) after a letter when c is a letter (words: "on"
 * 0.15, "script" ~0.0002), 0.5·p(c) for a digit after a digit, and
 * min(0.1, p(c)) at any other junction ("a(" 0.015, "%2e" 0.0003); times
 * COMMON_FACTOR when it holds a common English trigram.
 */
export function literalCost(lit: string): number {
  if (lit.length === 0) return 1;
  let p = charP(lit.charCodeAt(0));
  for (let i = 1; i < lit.length; i++) {
    const a = lit.charCodeAt(i - 1);
    const b = lit.charCodeAt(i);
    const pb = charP(b);
    p *= isAlpha(a) && isAlpha(b) ? 0.6 * pb : isDigit(a) && isDigit(b) ? 0.5 * pb : Math.min(0.1, pb);
  }
  return hasCommonTrigram(lit) ? Math.min(1, p * COMMON_FACTOR) : p;
}

const sums = new WeakMap<Set<string>, number>();

/** Σ literalCost, unbounded: sets are compared by it so that among near-useless sets the least bad still wins. */
function rawCost(set: Set<string>): number {
  let c = sums.get(set);
  if (c === undefined) {
    c = 0;
    for (const s of set) c += literalCost(s);
    sums.set(set, c);
  }
  return c;
}

/** Estimated chance that a set triggers on a benign value: min(1, Σ literalCost); 1 for no set. */
export function literalSetCost(lits: Iterable<string> | undefined): number {
  return lits === undefined ? 1 : Math.min(1, rawCost(new Set([...lits].map(lowerAscii))));
}

/** Whether every literal of x contains one of y: then x triggers only where y does, whatever the model says. */
function implies(x: Set<string>, y: Set<string>): boolean {
  if (x.size * y.size > 4096) return false; // not worth finding out
  for (const s of x) {
    let found = false;
    for (const t of y) {
      if (s.includes(t)) {
        found = true;
        break;
      }
    }
    if (!found) return false;
  }
  return true;
}

/**
 * The set less likely to trigger on benign text (no set = worst): one that
 * implies the other (its literals extend the other's: "0." … "9." against
 * ".") wins outright, since the model's sum over many literals overstates
 * them; otherwise the lower cost, ties keeping the smaller, then the first.
 */
export function better(a: Set<string> | undefined, b: Set<string> | undefined): Set<string> | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  if (a !== b) {
    const ab = implies(a, b);
    const ba = implies(b, a);
    if (ab !== ba) return ab ? a : b;
  }
  const ca = rawCost(a);
  const cb = rawCost(b);
  return cb < ca || (cb === ca && b.size < a.size) ? b : a;
}

// ---- set simplification ------------------------------------------------

/** Drops every literal that contains another one (containing it implies containing the shorter); undefined when "" is in the set. */
function simplify(set: Set<string>): Set<string> | undefined {
  if (set.has("")) return undefined;
  if (set.size < 2) return set;
  const byLen = [...set].sort((x, y) => x.length - y.length);
  const kept = new Set<string>();
  const lens: number[] = [];
  for (const s of byLen) {
    if (!containsAny(s, kept, lens)) {
      kept.add(s);
      if (lens[lens.length - 1] !== s.length) lens.push(s.length);
    }
  }
  return kept.size === set.size ? set : new Set([...set].filter((s) => kept.has(s)));
}

/** Whether s contains one of `kept` (strings of the ascending lengths `lens`, all no longer than s). */
function containsAny(s: string, kept: Set<string>, lens: number[]): boolean {
  if (kept.size <= 16) {
    for (const k of kept) if (k.length < s.length && s.includes(k)) return true;
    return false;
  }
  for (const n of lens) {
    if (n >= s.length) break;
    for (let i = 0; i + n <= s.length; i++) if (kept.has(s.slice(i, i + n))) return true;
  }
  return false;
}

/** A required set in canonical form: simplified, and shortened when large; undefined = no usable constraint. */
export function normalize(set: Set<string> | undefined): Set<string> | undefined {
  const s = set === undefined ? undefined : simplify(set);
  if (s === undefined || s.size <= MAX_REQUIRED) return s;
  return shorten([...s]);
}

/**
 * Replaces each literal by a substring window of MIN_WINDOW..MAX_WINDOW
 * characters (any substring of a required literal is implied by it) so
 * that big word alternations keep a bounded set. Literals are covered one
 * by one, each by its window with the best (literals sharing it) / (cost +
 * penalty); a literal already containing a chosen window is skipped. The
 * penalty grows until the set fits: 0 picks the most selective windows, a
 * large one the most shared (fewest literals).
 */
function shorten(lits: string[]): Set<string> | undefined {
  const windowsOf = lits.map((s) => {
    const ws = new Set<string>();
    if (s.length <= MIN_WINDOW) ws.add(s);
    else for (let k = MIN_WINDOW; k <= Math.min(MAX_WINDOW, s.length); k++) for (let i = 0; i + k <= s.length; i++) ws.add(s.slice(i, i + k));
    return [...ws];
  });
  const shared = new Map<string, number>();
  for (const ws of windowsOf) for (const w of ws) shared.set(w, (shared.get(w) ?? 0) + 1);
  for (const penalty of [0, 0.02, 0.2, Number.POSITIVE_INFINITY]) {
    const chosen = new Set<string>();
    for (const ws of windowsOf) {
      if (ws.some((w) => chosen.has(w))) continue;
      let best = ws[0]!;
      let bestScore = -1;
      for (const w of ws) {
        const n = shared.get(w)!;
        const score = Number.isFinite(penalty) ? n / (literalCost(w) + penalty) : n - literalCost(w);
        if (score > bestScore) {
          best = w;
          bestScore = score;
        }
      }
      chosen.add(best);
      if (chosen.size > MAX_SHORTENED * 2) break;
    }
    const out = simplify(chosen);
    if (out !== undefined && out.size <= MAX_SHORTENED) return out;
  }
  return undefined;
}
