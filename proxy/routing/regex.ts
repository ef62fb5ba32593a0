/**
 * Regexes in routes, in the spirit of Envoy's safe_regex (RE2): always a
 * full match, and without the features that make JS regexes super-linear or
 * non-RE2 (lookaround, backreferences). Nested unbounded quantifiers such as
 * `(a+)+` are refused too, because V8 backtracks where RE2 would not.
 */
export const MAX_REGEX_LENGTH = 1024;

/** Why `src` is not an acceptable route regex, or undefined when it is. */
export function regexProblem(src: string): string | undefined {
  if (src.length === 0) return "empty regex";
  if (src.length > MAX_REGEX_LENGTH) return `regex longer than ${MAX_REGEX_LENGTH} characters`;
  try {
    // Compiled alone first: a fragment like "a)|(b" must not escape the anchors added later.
    new RegExp(src, "u");
  } catch (err) {
    return `invalid regex: ${(err as Error).message}`;
  }
  return scan(src);
}

/** How a quantifier starting at `i` repeats: "none", "bounded" (at most one repeat, e.g. `?`), or "many". */
function quantifierAt(src: string, i: number): { kind: "none" | "once" | "many"; unbounded: boolean } {
  const c = src[i];
  if (c === "*" || c === "+") return { kind: "many", unbounded: true };
  if (c === "?") return { kind: "once", unbounded: false };
  if (c === "{") {
    const m = /^\{(\d+)(,(\d*))?\}/.exec(src.slice(i, i + 24));
    if (!m) return { kind: "none", unbounded: false };
    if (m[2] === undefined) return { kind: Number(m[1]) > 1 ? "many" : "once", unbounded: false };
    if (m[3] === "") return { kind: "many", unbounded: true };
    return { kind: Number(m[3]) > 1 ? "many" : "once", unbounded: false };
  }
  return { kind: "none", unbounded: false };
}

function scan(src: string): string | undefined {
  // One frame per open group: does it hold an unbounded quantifier?
  const frames: boolean[] = [false];
  let inClass = false;
  for (let i = 0; i < src.length; i++) {
    const c = src[i];
    if (c === "\\") {
      const n = src[i + 1] ?? "";
      if (!inClass && n >= "1" && n <= "9") return "backreferences are not supported";
      if (!inClass && n === "k") return "named backreferences are not supported";
      i++;
      continue;
    }
    if (inClass) {
      if (c === "]") inClass = false;
      continue;
    }
    if (c === "[") {
      inClass = true;
      continue;
    }
    if (c === "(") {
      if (src.startsWith("(?=", i) || src.startsWith("(?!", i) || src.startsWith("(?<=", i) || src.startsWith("(?<!", i)) {
        return "lookahead and lookbehind are not supported";
      }
      frames.push(false);
      continue;
    }
    if (c === ")") {
      const inner = frames.pop() ?? false;
      const q = quantifierAt(src, i + 1);
      if (inner && q.kind === "many") return "nested repetition such as (a+)+ is not supported (catastrophic backtracking)";
      if (inner || q.unbounded) frames[frames.length - 1] = true;
      continue;
    }
    if (quantifierAt(src, i).unbounded) frames[frames.length - 1] = true;
  }
  return undefined;
}

/** The regex anchored as a full match (Envoy's safe_regex semantics). Throws when regexProblem() would complain. */
export function compileFullMatch(src: string): RegExp {
  const problem = regexProblem(src);
  if (problem !== undefined) throw new Error(problem);
  return new RegExp(`^(?:${src})$`, "u");
}
