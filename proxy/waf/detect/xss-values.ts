/**
 * Judging attribute values and comment bodies: URLs that run script, style
 * declarations that do, and comments a browser (or an old one) would act on.
 * Inputs are already entity-decoded where the browser decodes them.
 */
import { normalizeCss } from "./xss-decode.js";
import { ACTIVE_MEDIA_MARKERS, ACTIVE_PI_TARGETS, SCRIPT_SCHEMES } from "./xss-tables.js";

/** Longest scheme we collect; every scheme we look for is shorter. */
const MAX_SCHEME = 12;

function isSchemeChar(c: number): boolean {
  const l = c | 0x20;
  return (l >= 0x61 && l <= 0x7a) || (c >= 0x30 && c <= 0x39) || c === 0x2b || c === 0x2d || c === 0x2e;
}

/** Skipped before a scheme: whitespace and controls, IE's backtick quote, and quotes (meta refresh strips them). */
function isLeadingJunk(c: number): boolean {
  return c <= 0x20 || c === 0x60 || c === 0x22 || c === 0x27;
}

/**
 * The reason a URL would run script ("url:javascript", "url:data"), or undefined.
 * As the URL parser does, leading C0 controls and spaces are skipped and tabs and
 * newlines anywhere ("java\tscript:"); a leading backtick is IE's attribute quote.
 */
export function dangerousUrl(v: string): string | undefined {
  const n = v.length;
  let i = 0;
  while (i < n && isLeadingJunk(v.charCodeAt(i))) i++;
  let scheme = "";
  for (; i < n; i++) {
    const c = v.charCodeAt(i);
    if (c === 0x09 || c === 0x0a || c === 0x0d) continue;
    if (c === 0x3a /* : */) break;
    if (!isSchemeChar(c) || scheme.length >= MAX_SCHEME) return undefined;
    scheme += v[i];
  }
  if (i >= n || scheme.length === 0) return undefined;
  scheme = scheme.toLowerCase();
  i++; // past ":"
  if (SCRIPT_SCHEMES.has(scheme)) {
    // "javascript:" alone does nothing; require a body.
    for (; i < n; i++) if (v.charCodeAt(i) > 0x20) return "url:" + scheme;
    return undefined;
  }
  if (scheme === "data") return activeDataUrl(v, i) ? "url:data" : undefined;
  return undefined;
}

/** data:[<media type>][;base64],… is active when the type is a document or a script, or absent (script src). */
function activeDataUrl(v: string, from: number): boolean {
  const n = v.length;
  let type = "";
  let i = from;
  for (; i < n && type.length < 64; i++) {
    const c = v.charCodeAt(i);
    if (c === 0x2c /* , */ || c === 0x3b /* ; */) break;
    if (c > 0x20) type += v[i];
  }
  if (type.length === 0) return i < n; // "data:,alert(1)" / "data:;base64,…" run as <script src>
  type = type.toLowerCase();
  return ACTIVE_MEDIA_MARKERS.some((m) => type.includes(m));
}

/** The reason a style attribute would run script or load behaviour, or undefined. */
export function dangerousStyle(v: string): string | undefined {
  if (v.length === 0) return undefined;
  const css = normalizeCss(v);
  if (css.includes("expression(")) return "attr:style-expression";
  if (css.includes("javascript:") || css.includes("vbscript:") || css.includes("livescript:")) return "attr:style-url";
  if (css.includes("-moz-binding")) return "attr:style-binding";
  if (css.includes("behavior:") || css.includes("behaviour:")) return "attr:style-behavior";
  if (css.includes("@import")) return "attr:style-import";
  return undefined;
}

/** Server-side include directives ("<!--#exec cmd=…-->"): the server runs them before the browser sees the page. */
const SSI_DIRECTIVE = /^#\s*(?:exec|include|echo|set|config|fsize|flastmod|printenv|if|elif)\b/i;

/**
 * The input used as CSS (reflected into a style attribute or a <style> block):
 * declarations that run script or bind behaviour. Shapes are anchored on CSS
 * syntax (":expression(", "url(javascript:") so prose like "regular expression (…)" stays quiet.
 */
export function dangerousCss(v: string): string | undefined {
  const css = normalizeCss(v);
  if (css.includes(":expression(")) return "attr:style-expression";
  if (/url\((?:java|vb|live)script:/.test(css)) return "attr:style-url";
  if (css.includes("-moz-binding:")) return "attr:style-binding";
  if (/behaviou?r:url\(/.test(css)) return "attr:style-behavior";
  return undefined;
}

/** "[if" / "[endif" at the start, ignoring whitespace: IE conditional comments (downlevel hidden or revealed). */
function isConditional(body: string): boolean {
  let i = 0;
  while (i < body.length && body.charCodeAt(i) <= 0x20) i++;
  if (body.charCodeAt(i) !== 0x5b /* [ */) return false;
  const word = body.slice(i + 1, i + 6).toLowerCase();
  return word.startsWith("if") || word.startsWith("endif");
}

/**
 * The reason a "<!-- … -->" comment body is suspicious: conditional comments
 * run their content in IE; backticks were IE attribute quotes; markup
 * declarations, processing instructions and end tags inside a comment are how
 * parser-differential payloads hide from filters that skip comments.
 */
export function suspiciousComment(body: string): string | undefined {
  if (body.length === 0) return undefined;
  if (isConditional(body)) return "comment:conditional";
  if (SSI_DIRECTIVE.test(body)) return "comment:ssi";
  if (body.includes("`")) return "comment:backtick";
  let lt = body.indexOf("<");
  while (lt >= 0 && lt + 1 < body.length) {
    const c = body.charCodeAt(lt + 1);
    if (c === 0x21 /* ! */ || c === 0x3f /* ? */ || c === 0x2f /* / */) return "comment:markup";
    lt = body.indexOf("<", lt + 1);
  }
  return undefined;
}

/** The reason a bogus comment (<?…>, <!…>) is suspicious: active processing instructions, conditionals, backticks. */
export function suspiciousBogusComment(body: string): string | undefined {
  if (body.length === 0) return undefined;
  if (body.charCodeAt(0) === 0x3f /* ? */) {
    const head = body.slice(1, 32).trimStart().toLowerCase();
    if (ACTIVE_PI_TARGETS.some((t) => head.startsWith(t))) return "comment:processing-instruction";
  }
  if (isConditional(body)) return "comment:conditional";
  if (body.includes("`")) return "comment:backtick";
  return undefined;
}
