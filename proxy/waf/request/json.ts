/**
 * JSON bodies: an iterative tokenizer (no recursion, so 100k "[" cannot blow
 * the stack) that turns every leaf into a body arg named by its path
 * ("json.a.b", "json.list.0"; a scalar root is "json"). Values are the JSON
 * text of numbers/booleans/null and the decoded bytes of strings. An empty
 * object or array is a leaf with the value "", so its key is still seen.
 * Containers deeper than limits.depth are checked for syntax but not emitted.
 */
import type { Collector } from "./collector.js";
import { rootName, type NameNode } from "./name-cache.js";
import { hexValue, isWs, utf8Bytes } from "./text.js";

const LITERALS = ["true", "false", "null"] as const;
const OBJ = 1;
const ARR = 2;

/** What the tokenizer expects next. */
const enum St {
  Value,
  FirstValue, // just after "[": a value or "]"
  FirstKey, // just after "{": a key or "}"
  Key,
  AfterValue,
}

class JsonError {
  constructor(
    readonly reason: string,
    /** The input ended early (not reported when the body was cut by the limit). */
    readonly eof: boolean,
  ) {}
}

export function parseJson(s: string, c: Collector, truncated: boolean): void {
  const p = new JsonTokenizer(s, c);
  const err = p.run();
  if (err !== undefined && !(err.eof && truncated)) c.error(err.reason);
}

class JsonTokenizer {
  private i = 0;
  private readonly n: number;
  /** Open containers, innermost last: kinds[0, depth) (a byte each, since 128 KiB of "[" is a legal depth to reach). */
  private kinds = new Uint8Array(16);
  private depth = 0;
  /** Name node of each open container within the depth limit (indexed by depth - 1). */
  private readonly nodes: NameNode[] = [];
  /** By open container within the depth limit: the array index, or the position of the object's key. */
  private readonly counters: number[] = [];
  /** The name of the value after the object key just read. */
  private keyNode: NameNode | undefined;
  private full = false;

  constructor(
    private readonly s: string,
    private readonly c: Collector,
  ) {
    this.n = s.length;
  }

  run(): JsonError | undefined {
    const s = this.s;
    // A UTF-8 byte order mark, seen as latin1.
    if (s.startsWith("\u00ef\u00bb\u00bf")) this.i = 3;
    let st = St.Value;
    for (;;) {
      this.skipWs();
      if (this.i >= this.n) {
        if (st === St.AfterValue && this.depth === 0) return undefined;
        // Value expected at depth 0 only happens before anything was read.
        const empty = st === St.Value && this.depth === 0;
        return new JsonError(empty ? "json: empty body" : "json: unexpected end of input", true);
      }
      const ch = s.charCodeAt(this.i);
      switch (st) {
        case St.FirstValue:
        case St.FirstKey:
          if (ch === (st === St.FirstValue ? 0x5d : 0x7d)) {
            this.i++;
            this.closeContainer(true);
            st = St.AfterValue;
            continue;
          }
          st = st === St.FirstValue ? St.Value : St.Key;
          continue;
        case St.Key: {
          if (ch !== 0x22) return this.unexpected("expected a key");
          const err = this.readKey();
          if (err !== undefined) return err;
          this.skipWs();
          if (this.i >= this.n) return new JsonError("json: unexpected end of input", true);
          if (s.charCodeAt(this.i) !== 0x3a) return this.unexpected('expected ":"');
          this.i++;
          st = St.Value;
          continue;
        }
        case St.Value: {
          if (ch === 0x7b || ch === 0x5b) {
            this.i++;
            this.openContainer(ch === 0x7b ? OBJ : ARR);
            st = ch === 0x7b ? St.FirstKey : St.FirstValue;
            continue;
          }
          const v = this.readScalar(ch);
          if (v instanceof JsonError) return v;
          this.leaf(v);
          st = St.AfterValue;
          continue;
        }
        case St.AfterValue: {
          const depth = this.depth;
          if (depth === 0) return this.unexpected("data after the JSON value");
          const kind = this.kinds[depth - 1]!;
          if (ch === 0x2c) {
            this.i++;
            if (kind === ARR) {
              if (depth <= this.c.maxDepth) this.counters[depth - 1]!++;
              st = St.Value;
            } else {
              st = St.Key;
            }
          } else if ((ch === 0x7d && kind === OBJ) || (ch === 0x5d && kind === ARR)) {
            this.i++;
            this.closeContainer(false);
          } else {
            return this.unexpected(kind === OBJ ? 'expected "," or "}"' : 'expected "," or "]"');
          }
          continue;
        }
      }
    }
  }

  private unexpected(what: string): JsonError {
    return new JsonError(`json: ${what} at offset ${this.i}`, false);
  }

  private skipWs(): void {
    const s = this.s;
    while (this.i < this.n && isWs(s.charCodeAt(this.i))) this.i++;
  }

  /** Whether values at the current nesting are emitted (within the depth limit and the args limit). */
  private emitting(): boolean {
    return !this.full && this.depth <= this.c.maxDepth;
  }

  /** Name of the value about to be read, from its container (only asked within the depth limit). */
  private currentName(): NameNode {
    const d = this.depth;
    if (d === 0) return rootName();
    return this.kinds[d - 1] === OBJ ? this.keyNode! : this.nodes[d - 1]!.indexChild(this.counters[d - 1]!);
  }

  /**
   * An object key, starting at its opening quote: sets keyNode when values at this depth are named. The key
   * the object had at this position before is compared with the input in place first (name-cache.ts).
   */
  private readKey(): JsonError | undefined {
    const d = this.depth;
    if (this.full || d > this.c.maxDepth) {
      const k = this.readString();
      return k instanceof JsonError ? k : undefined;
    }
    const parent = this.nodes[d - 1]!;
    const position = this.counters[d - 1]!++;
    const expected = parent.expectedKey(position);
    if (expected !== undefined) {
      const k = expected.plainKey!;
      const s = this.s;
      const at = this.i + 1;
      const end = at + k.length;
      if (s.charCodeAt(end) === 0x22) {
        // a loop, not startsWith: keys are short and the builtin's call costs more than the comparison
        let j = 0;
        while (j < k.length && s.charCodeAt(at + j) === k.charCodeAt(j)) j++;
        if (j === k.length) {
          this.i = end + 1;
          this.keyNode = expected;
          return undefined;
        }
      }
    }
    const start = this.i;
    const k = this.readString();
    if (k instanceof JsonError) return k;
    // escapes always shorten a string: a key spanning its own length and two quotes had none
    this.keyNode = parent.keyChild(k, this.i - start === k.length + 2, position);
    return undefined;
  }

  private openContainer(kind: number): void {
    const d = this.depth;
    if (d < this.c.maxDepth) {
      this.nodes[d] = this.full ? rootName() : this.currentName();
      this.counters[d] = 0;
    } else {
      this.c.exceed("depth");
    }
    if (d === this.kinds.length) {
      const grown = new Uint8Array(d * 2);
      grown.set(this.kinds);
      this.kinds = grown;
    }
    this.kinds[d] = kind;
    this.depth = d + 1;
  }

  private closeContainer(empty: boolean): void {
    const d = this.depth;
    if (empty && this.emitting()) this.emit(this.nodes[d - 1]!, "");
    this.depth = d - 1;
  }

  private leaf(value: string): void {
    if (this.emitting()) this.emit(this.currentName(), value);
  }

  private emit(node: NameNode, value: string): void {
    if (!this.c.bodyArg(node.name, value, node.arg)) this.full = true;
  }

  private readScalar(ch: number): string | JsonError {
    if (ch === 0x22) return this.readString();
    const s = this.s;
    if (ch === 0x2d || (ch >= 0x30 && ch <= 0x39)) return this.readNumber();
    for (const lit of LITERALS) {
      if (ch === lit.charCodeAt(0)) {
        if (s.startsWith(lit, this.i)) {
          this.i += lit.length;
          return lit;
        }
        if (this.n - this.i < lit.length && lit.startsWith(s.slice(this.i))) {
          return new JsonError("json: unexpected end of input", true);
        }
      }
    }
    return this.unexpected("unexpected character");
  }

  private readNumber(): string | JsonError {
    const s = this.s;
    const start = this.i;
    let i = start;
    if (s.charCodeAt(i) === 0x2d) i++;
    const intStart = i;
    i = this.digits(i);
    if (i === intStart) return this.numberError(i);
    if (s.charCodeAt(intStart) === 0x30 && i - intStart > 1) {
      this.i = intStart + 1;
      return this.unexpected("leading zero in number");
    }
    if (s.charCodeAt(i) === 0x2e) {
      const f = i + 1;
      i = this.digits(f);
      if (i === f) return this.numberError(i);
    }
    const e = s.charCodeAt(i) | 0x20;
    if (e === 0x65) {
      i++;
      const sign = s.charCodeAt(i);
      if (sign === 0x2b || sign === 0x2d) i++;
      const f = i;
      i = this.digits(f);
      if (i === f) return this.numberError(i);
    }
    this.i = i;
    return s.slice(start, i);
  }

  private numberError(at: number): JsonError {
    this.i = at;
    return at >= this.n ? new JsonError("json: unexpected end of input", true) : this.unexpected("malformed number");
  }

  private digits(i: number): number {
    const s = this.s;
    while (i < this.n) {
      const c = s.charCodeAt(i);
      if (c < 0x30 || c > 0x39) break;
      i++;
    }
    return i;
  }

  /** A string starting at the opening quote; escapes decoded to bytes. */
  private readString(): string | JsonError {
    const s = this.s;
    const start = this.i + 1;
    let i = start;
    for (; i < this.n; i++) {
      const c = s.charCodeAt(i);
      if (c === 0x22 || c === 0x5c || c < 0x20) break;
    }
    if (i < this.n && s.charCodeAt(i) === 0x22) {
      this.i = i + 1;
      return s.slice(start, i);
    }
    let out = s.slice(start, i);
    let run = i;
    while (i < this.n) {
      const c = s.charCodeAt(i);
      if (c === 0x22) {
        this.i = i + 1;
        return out + s.slice(run, i);
      }
      if (c < 0x20) {
        this.i = i;
        return this.unexpected("control character in string");
      }
      if (c !== 0x5c) {
        i++;
        continue;
      }
      out += s.slice(run, i);
      if (i + 1 >= this.n) break;
      const e = s.charCodeAt(i + 1);
      const simple = simpleEscape(e);
      if (simple !== undefined) {
        out += simple;
        i += 2;
      } else if (e === 0x75) {
        let cp = this.hex4(i + 2);
        if (cp < 0) {
          if (i + 6 > this.n) break;
          this.i = i;
          return this.unexpected("bad \\u escape");
        }
        i += 6;
        // A surrogate pair written as two escapes is one character.
        if (cp >= 0xd800 && cp <= 0xdbff && s.charCodeAt(i) === 0x5c && s.charCodeAt(i + 1) === 0x75) {
          const lo = this.hex4(i + 2);
          if (lo >= 0xdc00 && lo <= 0xdfff) {
            cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
            i += 6;
          }
        }
        out += utf8Bytes(cp);
      } else {
        this.i = i;
        return this.unexpected("bad escape");
      }
      run = i;
    }
    this.i = this.n;
    return new JsonError("json: unexpected end of input", true);
  }

  private hex4(at: number): number {
    if (at + 4 > this.n) return -1;
    let v = 0;
    for (let k = 0; k < 4; k++) {
      const h = hexValue(this.s.charCodeAt(at + k));
      if (h < 0) return -1;
      v = (v << 4) | h;
    }
    return v;
  }
}

function simpleEscape(e: number): string | undefined {
  switch (e) {
    case 0x22:
      return '"';
    case 0x5c:
      return "\\";
    case 0x2f:
      return "/";
    case 0x62:
      return "\b";
    case 0x66:
      return "\f";
    case 0x6e:
      return "\n";
    case 0x72:
      return "\r";
    case 0x74:
      return "\t";
    default:
      return undefined;
  }
}
