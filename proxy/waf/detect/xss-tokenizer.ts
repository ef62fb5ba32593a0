/**
 * A pull tokenizer following the HTML5 tokenization states (WHATWG HTML §13.2.5)
 * closely enough to find what a browser would see as tags, attributes and
 * comments in a piece of text, starting either in the data state or in the
 * middle of a tag (inside an attribute value or between attributes).
 *
 * Differences from a browser, all on the side of seeing more:
 * - a tag cut off by the end of the input is still reported (the page the input
 *   lands in will usually close it);
 * - raw-text elements (script, style, textarea, title …) are not switched into:
 *   their content is tokenized like any other (the detector also runs again from
 *   their end tag, which is where a browser resumes);
 * - character references are left to the caller (attribute values only).
 *
 * Tokens are ranges into the source; nothing is copied. Every state consumes at
 * least one character or changes to a state that does, so the work is linear.
 */
import type { DataSpans } from "./xss-spans.js";

export const TOKEN_EOF = 0;
export const TOKEN_START_TAG = 1;
export const TOKEN_END_TAG = 2;
export const TOKEN_ATTR = 3;
export const TOKEN_COMMENT = 4; // <!-- … -->
export const TOKEN_BOGUS_COMMENT = 5; // <? … >, <!x … >, </0 … >, doctype, CDATA in HTML content
export type TokenType = 0 | 1 | 2 | 3 | 4 | 5;

/** Where the text is assumed to start. */
export const START_DATA = 0;
export const START_UNQUOTED_VALUE = 1;
export const START_SINGLE_VALUE = 2;
export const START_DOUBLE_VALUE = 3;
export const START_BEFORE_ATTR = 4;
export type StartState = 0 | 1 | 2 | 3 | 4;

const S_DATA = 0;
const S_TAG_OPEN = 1;
const S_END_TAG_OPEN = 2;
const S_TAG_NAME = 3;
const S_BEFORE_ATTR = 4;
const S_ATTR_NAME = 5;
const S_AFTER_ATTR_NAME = 6;
const S_BEFORE_VALUE = 7;
const S_VALUE_DOUBLE = 8;
const S_VALUE_SINGLE = 9;
const S_VALUE_UNQUOTED = 10;
const S_AFTER_QUOTED_VALUE = 11;
const S_SELF_CLOSING = 12;
const S_MARKUP_DECL = 13;
const S_COMMENT = 14;
const S_BOGUS = 15;
const S_EOF = 16;
const S_RESUME = 17; // back in the data state after a tag or comment

const GT = 0x3e;
const SLASH = 0x2f;
const EQ = 0x3d;
const DQ = 0x22;
const SQ = 0x27;

/** Character classes of ASCII codes (HTML whitespace is tab, LF, FF, CR and space; CR stands for the LF it becomes). */
const C_WS = 1;
const C_TAG_NAME_END = 2; // whitespace, "/", ">"
const C_ATTR_NAME_END = 4; // whitespace, "/", ">", "="
const C_UNQUOTED_END = 8; // whitespace, ">"
const CLASSES = new Uint8Array(128);
for (const c of [0x09, 0x0a, 0x0c, 0x0d, 0x20]) CLASSES[c] = C_WS | C_TAG_NAME_END | C_ATTR_NAME_END | C_UNQUOTED_END;
CLASSES[SLASH] = C_TAG_NAME_END | C_ATTR_NAME_END;
CLASSES[GT] = C_TAG_NAME_END | C_ATTR_NAME_END | C_UNQUOTED_END;
CLASSES[EQ] = C_ATTR_NAME_END;

function is(c: number, cls: number): boolean {
  return c < 128 && (CLASSES[c] & cls) !== 0;
}

/** First index from i (or n) whose character is in class cls. */
function findClass(s: string, i: number, n: number, cls: number): number {
  while (i < n && !is(s.charCodeAt(i), cls)) i++;
  return i;
}

/** First index from i (or n) that is not HTML whitespace. */
function skipWs(s: string, i: number, n: number): number {
  while (i < n && is(s.charCodeAt(i), C_WS)) i++;
  return i;
}

function isAlpha(c: number): boolean {
  const l = c | 0x20;
  return l >= 0x61 && l <= 0x7a;
}

export class HtmlTokenizer {
  /** Name range of the last tag or attribute token. */
  nameStart = 0;
  nameEnd = 0;
  /** Value range of the last attribute token; -1 when it has no "=". */
  valueStart = -1;
  valueEnd = -1;
  /** Content range of the last comment token. */
  contentStart = 0;
  contentEnd = 0;
  /** Whether the tag being tokenized is an end tag (its attributes are ignored by browsers). */
  inEndTag = false;

  private pos = 0;
  private state: number;
  private readonly src: string;
  private readonly len: number;
  private readonly record: DataSpans | undefined;
  private readonly sync: DataSpans | undefined;

  /**
   * `record`: note where the data state is left and re-entered (for a run from START_DATA).
   * `sync`: such a record of the same text; stop (report the end) on coming back to the
   * data state where that run was in it too, as everything from there on was seen by it.
   */
  constructor(src: string, start: StartState, from = 0, record?: DataSpans, sync?: DataSpans) {
    this.src = src;
    this.pos = from;
    this.len = src.length;
    this.record = record;
    this.sync = sync;
    switch (start) {
      case START_DATA:
        this.state = S_DATA;
        break;
      case START_BEFORE_ATTR:
        this.state = S_BEFORE_ATTR;
        break;
      default:
        // Inside the value of an attribute whose name lies before the input: an empty name.
        this.state = start === START_DOUBLE_VALUE ? S_VALUE_DOUBLE : start === START_SINGLE_VALUE ? S_VALUE_SINGLE : S_VALUE_UNQUOTED;
        this.valueStart = from;
    }
  }

  next(): TokenType {
    const s = this.src;
    const n = this.len;
    for (;;) {
      switch (this.state) {
        case S_DATA: {
          const lt = s.indexOf("<", this.pos);
          if (lt < 0) {
            this.pos = n;
            this.state = S_EOF;
            return TOKEN_EOF;
          }
          this.record?.open(lt);
          this.pos = lt + 1;
          this.state = S_TAG_OPEN;
          break;
        }
        case S_RESUME:
          this.record?.close(this.pos);
          if (this.sync?.inData(this.pos)) return this.eof();
          this.state = S_DATA;
          break;
        case S_TAG_OPEN: {
          if (this.pos >= n) return this.eof();
          const c = s.charCodeAt(this.pos);
          if (isAlpha(c)) {
            this.inEndTag = false;
            this.state = S_TAG_NAME;
          } else if (c === 0x21 /* ! */) {
            this.pos++;
            this.state = S_MARKUP_DECL;
          } else if (c === SLASH) {
            this.pos++;
            this.state = S_END_TAG_OPEN;
          } else if (c === 0x3f /* ? */) {
            this.contentStart = this.pos; // the "?" is part of the bogus comment
            this.state = S_BOGUS;
          } else {
            this.record?.cancel();
            this.state = S_DATA; // "<" was text ("a < b", "<3"); reconsume
          }
          break;
        }
        case S_END_TAG_OPEN: {
          if (this.pos >= n) return this.eof();
          const c = s.charCodeAt(this.pos);
          if (isAlpha(c)) {
            this.inEndTag = true;
            this.state = S_TAG_NAME;
          } else if (c === GT) {
            this.pos++; // "</>" is dropped
            this.state = S_RESUME;
          } else {
            this.contentStart = this.pos;
            this.state = S_BOGUS;
          }
          break;
        }
        case S_TAG_NAME: {
          const i = findClass(s, this.pos, n, C_TAG_NAME_END);
          this.nameStart = this.pos;
          this.nameEnd = i;
          this.pos = i;
          this.state = S_BEFORE_ATTR;
          return this.inEndTag ? TOKEN_END_TAG : TOKEN_START_TAG;
        }
        case S_BEFORE_ATTR: {
          const i = skipWs(s, this.pos, n);
          this.pos = i;
          if (i >= n) return this.eof();
          const c = s.charCodeAt(i);
          if (c === SLASH) {
            this.pos++;
            this.state = S_SELF_CLOSING;
          } else if (c === GT) {
            this.pos++;
            this.state = S_RESUME;
          } else {
            // Any other character, "=" included, starts a name.
            this.nameStart = i;
            this.pos++;
            this.state = S_ATTR_NAME;
          }
          break;
        }
        case S_ATTR_NAME: {
          const i = findClass(s, this.pos, n, C_ATTR_NAME_END);
          this.nameEnd = i;
          this.pos = i;
          if (i < n && s.charCodeAt(i) === EQ) {
            this.pos++;
            this.state = S_BEFORE_VALUE;
            break;
          }
          this.state = S_AFTER_ATTR_NAME;
          break;
        }
        case S_AFTER_ATTR_NAME: {
          const i = skipWs(s, this.pos, n);
          this.pos = i;
          if (i < n && s.charCodeAt(i) === EQ) {
            this.pos++;
            this.state = S_BEFORE_VALUE;
            break;
          }
          // "/", ">", another name or the end: this attribute had no value.
          this.state = i < n ? S_BEFORE_ATTR : S_EOF;
          return this.attr(-1, -1);
        }
        case S_BEFORE_VALUE: {
          const i = skipWs(s, this.pos, n);
          this.pos = i;
          if (i >= n) {
            this.state = S_EOF;
            return this.attr(i, i);
          }
          const c = s.charCodeAt(i);
          if (c === DQ || c === SQ) {
            this.pos++;
            this.valueStart = i + 1;
            this.state = c === DQ ? S_VALUE_DOUBLE : S_VALUE_SINGLE;
          } else if (c === GT) {
            this.state = S_BEFORE_ATTR; // consumes the ">"
            return this.attr(i, i);
          } else {
            this.valueStart = i;
            this.state = S_VALUE_UNQUOTED;
          }
          break;
        }
        case S_VALUE_DOUBLE:
        case S_VALUE_SINGLE: {
          const close = s.indexOf(this.state === S_VALUE_DOUBLE ? '"' : "'", this.pos);
          const end = close < 0 ? n : close;
          this.pos = close < 0 ? n : close + 1;
          this.state = close < 0 ? S_EOF : S_AFTER_QUOTED_VALUE;
          return this.attr(this.valueStart, end);
        }
        case S_VALUE_UNQUOTED: {
          const i = findClass(s, this.pos, n, C_UNQUOTED_END);
          this.pos = i;
          this.state = i < n ? S_BEFORE_ATTR : S_EOF;
          return this.attr(this.valueStart, i);
        }
        case S_AFTER_QUOTED_VALUE: {
          if (this.pos >= n) return this.eof();
          const c = s.charCodeAt(this.pos);
          if (is(c, C_WS)) {
            this.pos++;
            this.state = S_BEFORE_ATTR;
          } else if (c === SLASH) {
            this.pos++;
            this.state = S_SELF_CLOSING;
          } else if (c === GT) {
            this.pos++;
            this.state = S_RESUME;
          } else {
            this.state = S_BEFORE_ATTR; // missing whitespace between attributes: reconsume
          }
          break;
        }
        case S_SELF_CLOSING: {
          if (this.pos >= n) return this.eof();
          if (s.charCodeAt(this.pos) === GT) {
            this.pos++;
            this.state = S_RESUME;
          } else {
            this.state = S_BEFORE_ATTR; // "<svg/onload=…>": the slash only separated
          }
          break;
        }
        case S_MARKUP_DECL: {
          const p = this.pos;
          if (s.startsWith("--", p)) {
            this.pos = p + 2;
            this.state = S_COMMENT;
          } else {
            // DOCTYPE, CDATA (outside foreign content) and anything else end at the next ">".
            this.contentStart = p;
            this.state = S_BOGUS;
          }
          break;
        }
        case S_COMMENT:
          return this.comment();
        case S_BOGUS: {
          const gt = s.indexOf(">", this.pos);
          this.contentEnd = gt < 0 ? n : gt;
          this.pos = gt < 0 ? n : gt + 1;
          this.state = gt < 0 ? S_EOF : S_RESUME;
          return TOKEN_BOGUS_COMMENT;
        }
        default:
          return TOKEN_EOF;
      }
    }
  }

  private eof(): TokenType {
    this.pos = this.len;
    this.state = S_EOF;
    return TOKEN_EOF;
  }

  private attr(valueStart: number, valueEnd: number): TokenType {
    this.valueStart = valueStart;
    this.valueEnd = valueEnd;
    return TOKEN_ATTR;
  }

  /** After "<!--": the comment ends at "-->" or "--!>", or at once for "<!-->" and "<!--->". */
  private comment(): TokenType {
    const s = this.src;
    const n = this.len;
    const p = this.pos;
    this.contentStart = p;
    this.state = S_RESUME;
    if (s.charCodeAt(p) === GT) {
      this.contentEnd = p;
      this.pos = p + 1;
      return TOKEN_COMMENT;
    }
    if (s.charCodeAt(p) === 0x2d && s.charCodeAt(p + 1) === GT) {
      this.contentEnd = p;
      this.pos = p + 2;
      return TOKEN_COMMENT;
    }
    let i = s.indexOf("--", p);
    while (i >= 0) {
      const c = s.charCodeAt(i + 2);
      if (c === GT) {
        this.contentEnd = i;
        this.pos = i + 3;
        return TOKEN_COMMENT;
      }
      if (c === 0x21 /* ! */ && s.charCodeAt(i + 3) === GT) {
        this.contentEnd = i;
        this.pos = i + 4;
        return TOKEN_COMMENT;
      }
      i = s.indexOf("--", i + 1);
    }
    this.contentEnd = n;
    this.pos = n;
    this.state = S_EOF;
    return TOKEN_COMMENT;
  }
}
