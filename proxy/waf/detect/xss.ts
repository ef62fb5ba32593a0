/**
 * XSS detection by tokenizing the input as an HTML5 parser would and asking
 * whether any token it produces runs script: a dangerous element, an event
 * handler, a script URL in a URL attribute, an active style, or a comment an
 * old browser would act on.
 *
 * The input lands somewhere in a page we do not see, so it is tokenized from
 * each place an injection can start: as text (data state), inside a double-,
 * single- or un-quoted attribute value ("\"><script>", "' onmouseover='…"),
 * between attributes ("onerror=…"), and as a whole attribute value
 * ("javascript:…" reflected into href). Each run is linear, there are a
 * bounded number of them (runs after the first stop where they rejoin it), and
 * only the first 64 KiB are looked at.
 */
import { checkAttribute, localName } from "./xss-attr.js";
import { decodeEntities } from "./xss-decode.js";
import { DANGEROUS_TAGS, RAW_TEXT_TAGS } from "./xss-tables.js";
import { DataSpans } from "./xss-spans.js";
import {
  HtmlTokenizer,
  START_BEFORE_ATTR,
  START_DATA,
  START_DOUBLE_VALUE,
  START_SINGLE_VALUE,
  START_UNQUOTED_VALUE,
  TOKEN_ATTR,
  TOKEN_BOGUS_COMMENT,
  TOKEN_COMMENT,
  TOKEN_END_TAG,
  TOKEN_EOF,
  TOKEN_START_TAG,
  type StartState,
} from "./xss-tokenizer.js";
import { dangerousCss, dangerousUrl, suspiciousBogusComment, suspiciousComment } from "./xss-values.js";

/** Where the injection was found to act. */
export type XssContext = "data" | "attr-unquoted" | "attr-single" | "attr-double" | "comment";

export interface XssMatch {
  /** What acts: "tag:script", "attr:onerror", "url:javascript", "attr:style-expression", "comment:conditional" … */
  readonly reason: string;
  /** Where the input was assumed to start when the reason was found; "comment" for findings in or about a comment. */
  readonly context: XssContext;
}

/** Only this much of the input is inspected. */
export const XSS_MAX_INPUT = 64 * 1024;

/** Characters the passes depend on, found in one sweep over the input. */
const F_LT = 1;
const F_EQ = 2;
const F_COLON = 4;
const F_AMP = 8;
const F_DQ = 16;
const F_SQ = 32;
const F_BREAK = 64; // HTML whitespace or ">": ends an unquoted value
const F_NUL = 128;
const F_CSS = 256; // "(" or "\": a CSS call or escape
const FLAGS = new Uint16Array(128);
FLAGS[0x3c] = F_LT;
FLAGS[0x3d] = F_EQ;
FLAGS[0x3a] = F_COLON;
FLAGS[0x26] = F_AMP;
FLAGS[0x22] = F_DQ;
FLAGS[0x27] = F_SQ;
for (const c of [0x09, 0x0a, 0x0c, 0x0d, 0x20, 0x3e]) FLAGS[c] = F_BREAK;
FLAGS[0] = F_NUL;
FLAGS[0x28] = F_CSS;
FLAGS[0x5c] = F_CSS;

/**
 * Without one of these nothing can act: no tag or comment without "<", no
 * attribute value without "=", no script URL or style without ":" (or "&colon;").
 */
const F_ANY = F_LT | F_EQ | F_COLON | F_AMP;

function scanFlags(s: string): number {
  let f = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 128) f |= FLAGS[c];
  }
  return f;
}

/** End-tag finders of the elements whose content browsers read as text (RCDATA/RAWTEXT not already flagged). */
const RAW_TEXT_END: ReadonlyMap<string, RegExp> = new Map(
  RAW_TEXT_TAGS.map((tag) => [tag, new RegExp("</" + tag, "gi")] as const),
);

/** First characters of a bare value worth decoding as a URL (schemes j/v/l/m/d, references), after junk a URL parser skips. */
const URL_LEAD = /^[\0-\x20`'"]*[jvlmd&]/i;

export function detectXss(input: string): XssMatch | undefined {
  let s = input.length > XSS_MAX_INPUT ? input.slice(0, XSS_MAX_INPUT) : input;
  const f = scanFlags(s);
  if ((f & F_ANY) === 0) return undefined;
  // Old parsers skipped NULs ("<scr\0ipt>", "java\0script:"); modern ones make them U+FFFD. Seeing through them is safe either way.
  if ((f & F_NUL) !== 0) s = s.replaceAll("\0", "");
  return injections(s, f) ?? bareValue(s, f);
}

/** The whole input used as an attribute value: reflected into href or src, or into a style. */
function bareValue(s: string, f: number): XssMatch | undefined {
  const colon = (f & (F_COLON | F_AMP)) !== 0;
  const url = colon && URL_LEAD.test(s);
  const css = colon && (f & F_CSS) !== 0;
  if (!url && !css) return undefined;
  const v = decodeEntities(s);
  const reason = (url ? dangerousUrl(v) : undefined) ?? (css ? dangerousCss(v) : undefined);
  return reason === undefined ? undefined : { reason, context: "attr-unquoted" };
}

/** Raw-text end searches (and re-scans) per input; a re-scan stops once it rejoins the data run, the cap bounds the rest. */
const MAX_RAW_TEXT_RESCANS = 4;

function injections(s: string, f: number): XssMatch | undefined {
  // Past this point only tags (need "<") and attributes with values (need "=") can act.
  if ((f & (F_LT | F_EQ)) === 0) return undefined;
  if ((f & F_LT) === 0) return attributeRuns(s, f, undefined);
  // The data-state run records where it was between tags; the other runs stop once they rejoin it.
  const spans = new DataSpans();
  const rawTextEnds: number[] = [];
  const found = scan(s, START_DATA, "data", 0, spans, undefined, rawTextEnds);
  if (found !== undefined) return found;
  // Browsers read title, textarea, noscript … as text up to their end tag, so
  // "<title><a title='</title><img onerror=…>'>" runs the img: look from each such end tag too.
  for (const at of rawTextEnds) {
    if (at < 0) continue;
    const inner = scan(s, START_DATA, "data", at, undefined, spans, undefined);
    if (inner !== undefined) return inner;
  }
  return attributeRuns(s, f, spans);
}

function attributeRuns(s: string, f: number, spans: DataSpans | undefined): XssMatch | undefined {
  return (
    ((f & F_DQ) !== 0 ? scan(s, START_DOUBLE_VALUE, "attr-double", 0, undefined, spans, undefined) : undefined) ??
    ((f & F_SQ) !== 0 ? scan(s, START_SINGLE_VALUE, "attr-single", 0, undefined, spans, undefined) : undefined) ??
    ((f & F_BREAK) !== 0 ? scan(s, START_UNQUOTED_VALUE, "attr-unquoted", 0, undefined, spans, undefined) : undefined) ??
    ((f & F_EQ) !== 0 ? scan(s, START_BEFORE_ATTR, "attr-unquoted", 0, undefined, spans, undefined) : undefined)
  );
}

/** Where the raw text of element `tag` ends ("</tag" after `from`, any case), or -1. */
function rawTextEnd(s: string, tag: string, from: number): number {
  const re = RAW_TEXT_END.get(tag);
  if (re === undefined) return -1;
  re.lastIndex = from;
  return re.exec(s)?.index ?? -1;
}

/**
 * One tokenizer run from `from`. `record`/`sync` as for HtmlTokenizer;
 * `rawTextEnds` (data run only) collects where raw-text elements end. Comment
 * bodies are scanned again as markup (once, never nested: context "comment"),
 * which is how "<!--<script>…-->" and payloads aimed at parsers that do not
 * know comments are seen.
 */
function scan(
  s: string,
  start: StartState,
  context: XssContext,
  from: number,
  record: DataSpans | undefined,
  sync: DataSpans | undefined,
  rawTextEnds: number[] | undefined,
): XssMatch | undefined {
  const inComment = context === "comment";
  const t = new HtmlTokenizer(s, start, from, record, sync);
  let tag = "";
  let ownTag = false;
  for (;;) {
    const token = t.next();
    switch (token) {
      case TOKEN_EOF:
        return undefined;
      case TOKEN_START_TAG:
        tag = localName(s.slice(t.nameStart, t.nameEnd));
        ownTag = true;
        if (DANGEROUS_TAGS.has(tag)) return { reason: "tag:" + tag, context };
        // Each search is linear, so their number is capped whether they find an end (-1 when not).
        if (rawTextEnds !== undefined && rawTextEnds.length < MAX_RAW_TEXT_RESCANS && RAW_TEXT_END.has(tag)) {
          rawTextEnds.push(rawTextEnd(s, tag, t.nameEnd));
        }
        break;
      case TOKEN_END_TAG:
        tag = "";
        ownTag = true;
        break;
      case TOKEN_ATTR: {
        // Bare names do nothing, end-tag attributes are dropped, and the nameless
        // first value of an attribute start was judged by bareValue.
        if (t.valueStart < 0 || t.inEndTag || t.nameEnd === t.nameStart) break;
        const reason = checkAttribute(s.slice(t.nameStart, t.nameEnd), s.slice(t.valueStart, t.valueEnd), tag, ownTag);
        if (reason !== undefined) return { reason, context };
        break;
      }
      case TOKEN_COMMENT:
      case TOKEN_BOGUS_COMMENT: {
        if (inComment) break;
        const found = judgeComment(s.slice(t.contentStart, t.contentEnd), token === TOKEN_COMMENT);
        if (found !== undefined) return found;
        break;
      }
    }
  }
}

function judgeComment(body: string, real: boolean): XssMatch | undefined {
  const reason = real ? suspiciousComment(body) : suspiciousBogusComment(body);
  if (reason === "comment:conditional") return { reason, context: "comment" };
  const inner = body.includes("<") ? scan(body, START_DATA, "comment", 0, undefined, undefined, undefined) : undefined;
  if (inner !== undefined) return inner;
  return reason === undefined ? undefined : { reason, context: "comment" };
}
