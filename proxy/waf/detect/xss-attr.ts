/**
 * Judging one attribute of a tag the tokenizer found: event handlers, style,
 * URL-valued attributes and the few element-specific attributes that act.
 */
import { decodeEntities } from "./xss-decode.js";
import {
  ANIMATION_TAGS,
  EVENT_NAMES,
  META_HTTP_EQUIV,
  URL_ATTRS,
} from "./xss-tables.js";
import { dangerousStyle, dangerousUrl } from "./xss-values.js";

/** Reasons quote at most this much of an attacker-chosen name. */
const MAX_REASON_NAME = 40;

/** Character sets in which ASCII markup can be spelled without "<". */
const SMUGGLING_CHARSET = /utf-?7|iso-?2022/i;

/** Lower case, without a namespace prefix ("svg:script" → "script", "xlink:href" → "href"). */
export function localName(raw: string): string {
  const lower = raw.toLowerCase();
  const colon = lower.lastIndexOf(":");
  return colon >= 0 && colon < lower.length - 1 ? lower.slice(colon + 1) : lower;
}

function isBlank(v: string): boolean {
  for (let i = 0; i < v.length; i++) if (v.charCodeAt(i) > 0x20) return false;
  return true;
}

function isLetters(s: string, from: number): boolean {
  for (let i = from; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x61 || c > 0x7a) return false;
  }
  return true;
}

/** A listed URL attribute, or a name ending like one (ng-href, data-src, :href, data-url, formaction …). */
function isUrlAttr(name: string): boolean {
  if (URL_ATTRS.has(name)) return true;
  switch (name.charCodeAt(name.length - 1)) {
    case 0x66 /* f */:
      return name.endsWith("href");
    case 0x63 /* c */:
      return name.endsWith("src");
    case 0x6c /* l */:
      return name.endsWith("url");
    case 0x69 /* i */:
      return name.endsWith("uri");
    case 0x6e /* n */:
      return name.endsWith("action");
    default:
      return false;
  }
}

/**
 * The reason this attribute makes the tag dangerous, or undefined.
 * `rawName` and `raw` are the name and value as written (a bare name has no
 * value and is never dangerous by itself); `tag` is the local name of the
 * enclosing start tag, "" when that tag lies before the input; `ownTag` is true
 * when the input itself opened the tag.
 */
export function checkAttribute(rawName: string, raw: string, tag: string, ownTag: boolean): string | undefined {
  // Netscape's JavaScript entity "&{…};" ran in any attribute value.
  if (raw.charCodeAt(0) === 0x26 && raw.charCodeAt(1) === 0x7b) return "attr:js-entity";
  const name = localName(rawName);
  if (name.length > 2 && name.charCodeAt(0) === 0x6f /* o */ && name.charCodeAt(1) === 0x6e /* n */) {
    // Browsers add events every year, so in a tag the input opened any on<letters>= counts,
    // even with the value cut off. After a quote only known events with a value do:
    // "x' online=" or "… onboarding=…" is more likely prose.
    if (ownTag) return isLetters(name, 2) ? "attr:" + name.slice(0, MAX_REASON_NAME) : undefined;
    return EVENT_NAMES.has(name.slice(2)) && !isBlank(raw) ? "attr:" + name : undefined;
  }
  if (name === "style") return dangerousStyle(decodeEntities(raw));
  if (isUrlAttr(name)) {
    const value = decodeEntities(raw);
    const url = dangerousUrl(value);
    if (url !== undefined) return url;
    if (tag === "form" && name === "action" && !isBlank(value)) return "tag:form";
    return undefined;
  }
  if (name === "srcdoc") return decodeEntities(raw).includes("<") ? "attr:srcdoc" : undefined;
  if (tag === "meta" || tag === "link" || ANIMATION_TAGS.has(tag)) return checkElementSpecific(name, decodeEntities(raw), tag);
  return undefined;
}

function checkElementSpecific(name: string, value: string, tag: string): string | undefined {
  if (tag === "meta") {
    if (name === "http-equiv") return META_HTTP_EQUIV.has(value.trim().toLowerCase()) ? "tag:meta" : undefined;
    // A charset that smuggles "<" past filters (UTF-7 "+ADw-", ISO-2022 escapes), declared directly or in a content type.
    if (name === "charset") return SMUGGLING_CHARSET.test(value) ? "tag:meta" : undefined;
    if (name === "content") {
      if (/charset=/i.test(value) && SMUGGLING_CHARSET.test(value)) return "tag:meta";
      // "0;url=javascript:…" in a refresh
      const at = value.toLowerCase().indexOf("url=");
      return at >= 0 ? dangerousUrl(value.slice(at + 4)) : undefined;
    }
    return undefined;
  }
  // An injected stylesheet restyles and reads the page (and ran script in old browsers); an import loads HTML.
  if (tag === "link" && name === "rel") return /\b(?:import|stylesheet)\b/i.test(value) ? "tag:link" : undefined;
  if (ANIMATION_TAGS.has(tag)) {
    // <animate attributeName=href values="x;javascript:…">, <set to=javascript:…>
    if (name === "attributename") {
      const target = localName(value.trim());
      return target.startsWith("on") ? "attr:animate-handler" : undefined;
    }
    for (const part of value.split(";")) {
      const url = dangerousUrl(part);
      if (url !== undefined) return url;
    }
  }
  return undefined;
}
