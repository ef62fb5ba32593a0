/**
 * XML bodies: a small tolerant tokenizer (no DTD processing, no entity
 * expansion, no recursion). Text runs become xml args named by the element
 * path ("/root/a"), attribute values "/root/a@href". The five predefined
 * entities and character references are decoded (an app reading the XML
 * would see them decoded); any other entity reference is kept as written and
 * never resolved. A DOCTYPE is reported whole as "!doctype" and each ENTITY
 * declaration in it as "!entity", so rules can refuse XXE.
 */
import type { Collector } from "./collector.js";
import { BYTE_CHARS, allWs, hexValue, isWs, utf8Bytes } from "./text.js";

class XmlError {
  constructor(
    readonly reason: string,
    readonly eof: boolean,
  ) {}
}

export function parseXml(s: string, c: Collector, truncated: boolean): void {
  const err = new XmlTokenizer(s, c).run();
  if (err !== undefined && !(err.eof && truncated)) c.error(err.reason);
}

/** A character reference that runs longer than this is malformed. */
const MAX_REF = 32;

class XmlTokenizer {
  private i = 0;
  private readonly n: number;
  private readonly names: string[] = [];
  private readonly paths: string[] = [];
  private rootSeen = false;
  private doctypeSeen = false;
  private text = "";
  private refError: XmlError | undefined;
  private full = false;
  /** Next "<" after the current attribute, reused so a tag with many attributes stays linear. */
  private nextLt = 0;

  constructor(
    private readonly s: string,
    private readonly c: Collector,
  ) {
    this.n = s.length;
  }

  run(): XmlError | undefined {
    const s = this.s;
    if (s.startsWith("\u00ef\u00bb\u00bf")) this.i = 3;
    while (this.i < this.n) {
      const err = s.charCodeAt(this.i) === 0x3c ? this.markup() : this.textRun();
      if (err !== undefined) return err;
    }
    this.flushText();
    if (this.refError !== undefined) return this.refError;
    if (this.names.length > 0) return new XmlError(`xml: unclosed element <${this.names[this.names.length - 1]}>`, true);
    if (!this.rootSeen) return new XmlError("xml: no root element", true);
    return undefined;
  }

  private fail(what: string): XmlError {
    return new XmlError(`xml: ${what} at offset ${this.i}`, false);
  }

  private eof(): XmlError {
    return new XmlError("xml: unexpected end of input", true);
  }

  private emitting(): boolean {
    return !this.full && this.names.length <= this.c.maxDepth;
  }

  private emit(name: string, value: string): void {
    if (!this.c.push(this.c.xml, name, value)) this.full = true;
  }

  private textRun(): XmlError | undefined {
    const s = this.s;
    const lt = s.indexOf("<", this.i);
    const end = lt === -1 ? this.n : lt;
    if (this.names.length === 0) {
      if (!allWs(s, this.i, end)) return this.fail("text outside the root element");
    } else if (this.emitting()) {
      this.text += this.decodeRefs(this.i, end);
    }
    this.i = end;
    return undefined;
  }

  private flushText(): void {
    if (this.text.length === 0) return;
    if (this.emitting() && !allWs(this.text, 0, this.text.length)) this.emit(this.paths[this.paths.length - 1]!, this.text);
    this.text = "";
  }

  private markup(): XmlError | undefined {
    const s = this.s;
    const i = this.i;
    if (i + 1 >= this.n) return this.eof();
    const next = s.charCodeAt(i + 1);
    if (s.startsWith("<![CDATA[", i)) {
      if (this.names.length === 0) return this.fail("CDATA outside the root element");
      const end = s.indexOf("]]>", i + 9);
      if (end === -1) return this.eof();
      if (this.emitting()) this.text += s.slice(i + 9, end);
      this.i = end + 3;
      return undefined;
    }
    this.flushText();
    if (next === 0x3f /* ? */) return this.skipTo("?>", i + 2);
    if (s.startsWith("<!--", i)) return this.skipTo("-->", i + 4);
    if (next === 0x21 /* ! */) {
      if (s.slice(i + 2, i + 9).toUpperCase() === "DOCTYPE") return this.doctype();
      if (this.n - i < 9 && "<!DOCTYPE".startsWith(s.slice(i).toUpperCase())) return this.eof();
      return this.fail("unexpected markup declaration");
    }
    if (next === 0x2f /* / */) return this.endTag();
    return this.startTag();
  }

  private skipTo(close: string, from: number): XmlError | undefined {
    const end = this.s.indexOf(close, from);
    if (end === -1) return this.eof();
    this.i = end + close.length;
    return undefined;
  }

  /** End of the name starting at i (stops at whitespace and markup characters). */
  private nameEnd(i: number): number {
    const s = this.s;
    while (i < this.n) {
      const c = s.charCodeAt(i);
      if (isWs(c) || c === 0x2f || c === 0x3e || c === 0x3d || c === 0x3c || c === 0x22 || c === 0x27) break;
      i++;
    }
    return i;
  }

  private skipWs(): boolean {
    const start = this.i;
    while (this.i < this.n && isWs(this.s.charCodeAt(this.i))) this.i++;
    return this.i > start;
  }

  private endTag(): XmlError | undefined {
    const s = this.s;
    const start = this.i + 2;
    const end = this.nameEnd(start);
    this.i = end;
    this.skipWs();
    if (this.i >= this.n) return this.eof();
    if (s.charCodeAt(this.i) !== 0x3e) return this.fail("malformed end tag");
    const name = s.slice(start, end);
    const depth = this.names.length;
    if (depth === 0 || this.names[depth - 1] !== name) return this.fail(`mismatched end tag </${name}>`);
    this.names.pop();
    this.paths.pop();
    this.i++;
    return undefined;
  }

  private startTag(): XmlError | undefined {
    const s = this.s;
    const start = this.i + 1;
    const end = this.nameEnd(start);
    if (end === start) return end >= this.n ? this.eof() : this.fail("invalid tag");
    if (this.rootSeen && this.names.length === 0) return this.fail("more than one root element");
    this.rootSeen = true;
    const name = s.slice(start, end);
    const parentOk = this.emitting();
    const path = parentOk ? (this.paths.length === 0 ? "/" : this.paths[this.paths.length - 1]! + "/") + name : "";
    this.names.push(name);
    this.paths.push(path);
    if (this.names.length > this.c.maxDepth) this.c.exceed("depth");
    this.i = end;
    let seen: Set<string> | undefined;
    let first: string | undefined;
    for (;;) {
      const hadWs = this.skipWs();
      if (this.i >= this.n) return this.eof();
      const ch = s.charCodeAt(this.i);
      if (ch === 0x3e) {
        this.i++;
        return undefined;
      }
      if (ch === 0x2f) {
        if (this.i + 1 >= this.n) return this.eof();
        if (s.charCodeAt(this.i + 1) !== 0x3e) return this.fail("malformed tag");
        this.i += 2;
        this.names.pop();
        this.paths.pop();
        return undefined;
      }
      if (!hadWs) return this.fail("missing whitespace before attribute");
      const aStart = this.i;
      const aEnd = this.nameEnd(aStart);
      if (aEnd === aStart) return this.fail("invalid attribute");
      const aname = s.slice(aStart, aEnd);
      // Duplicate attributes are not well-formed (and a classic way to confuse two parsers).
      if (first === undefined) first = aname;
      else {
        seen ??= new Set([first]);
        if (seen.has(aname)) return this.fail(`duplicate attribute ${aname}`);
        seen.add(aname);
      }
      this.i = aEnd;
      this.skipWs();
      if (this.i >= this.n) return this.eof();
      if (s.charCodeAt(this.i) !== 0x3d) return this.fail("attribute without value");
      this.i++;
      this.skipWs();
      if (this.i >= this.n) return this.eof();
      const q = s.charCodeAt(this.i);
      if (q !== 0x22 && q !== 0x27) return this.fail("unquoted attribute value");
      const vEnd = s.indexOf(q === 0x22 ? '"' : "'", this.i + 1);
      if (vEnd === -1) return this.eof();
      if (this.nextLt !== -1 && this.nextLt <= this.i) this.nextLt = s.indexOf("<", this.i + 1);
      if (this.nextLt !== -1 && this.nextLt < vEnd) return this.fail('"<" in attribute value');
      if (this.emitting()) this.emit(path + "@" + aname, this.decodeRefs(this.i + 1, vEnd));
      this.i = vEnd + 1;
    }
  }

  /** A DOCTYPE (with its internal subset) reported whole; never interpreted. */
  private doctype(): XmlError | undefined {
    if (this.rootSeen || this.doctypeSeen) return this.fail("misplaced DOCTYPE");
    this.doctypeSeen = true;
    const s = this.s;
    const start = this.i;
    let j = start + 9;
    let quote = 0;
    let subset = false;
    let entity = -1;
    for (; j < this.n; j++) {
      const ch = s.charCodeAt(j);
      if (quote !== 0) {
        if (ch === quote) quote = 0;
      } else if (ch === 0x22 || ch === 0x27) {
        quote = ch;
      } else if (subset) {
        if (ch === 0x5d /* ] */) subset = false;
        else if (ch === 0x3c && s.startsWith("<!--", j)) {
          const end = s.indexOf("-->", j + 4);
          if (end === -1) break;
          j = end + 2;
        } else if (ch === 0x3c && s.startsWith("<?", j)) {
          const end = s.indexOf("?>", j + 2);
          if (end === -1) break;
          j = end + 1;
        } else if (ch === 0x3c && s.slice(j + 2, j + 8).toUpperCase() === "ENTITY" && s.charCodeAt(j + 1) === 0x21) {
          entity = j;
        } else if (ch === 0x3e && entity !== -1) {
          if (this.emitting()) this.emit("!entity", s.slice(entity, j + 1));
          entity = -1;
        }
      } else if (ch === 0x5b /* [ */) {
        subset = true;
      } else if (ch === 0x3e) {
        if (this.emitting()) this.emit("!doctype", s.slice(start, j + 1));
        this.i = j + 1;
        return undefined;
      }
    }
    // Even cut short, the declaration is what XXE rules need to see.
    if (this.emitting()) this.emit("!doctype", s.slice(start));
    this.i = this.n;
    return this.eof();
  }

  /** s[start, end) with the predefined entities and character references decoded. */
  private decodeRefs(start: number, end: number): string {
    const s = this.s;
    let amp = s.indexOf("&", start);
    if (amp === -1 || amp >= end) return s.slice(start, end);
    let out = "";
    let run = start;
    while (amp !== -1 && amp < end) {
      let semi = -1;
      const limit = Math.min(end, amp + MAX_REF);
      for (let k = amp + 1; k < limit; k++) {
        if (s.charCodeAt(k) === 0x3b) {
          semi = k;
          break;
        }
      }
      const rep = semi === -1 ? undefined : this.reference(s.slice(amp + 1, semi));
      if (rep === undefined) {
        this.refError ??= new XmlError(`xml: invalid reference at offset ${amp}`, end === this.n);
        amp = s.indexOf("&", amp + 1);
        continue;
      }
      out += s.slice(run, amp) + rep;
      run = semi + 1;
      amp = s.indexOf("&", run);
    }
    return out + s.slice(run, end);
  }

  /** Replacement text of "&ref;" (ref without & and ;), the reference itself when it names a DTD entity, or undefined when malformed. */
  private reference(ref: string): string | undefined {
    switch (ref) {
      case "lt":
        return "<";
      case "gt":
        return ">";
      case "amp":
        return "&";
      case "quot":
        return '"';
      case "apos":
        return "'";
    }
    if (ref.charCodeAt(0) === 0x23 /* # */) {
      const hex = ref.charCodeAt(1) === 0x78;
      let cp = 0;
      const from = hex ? 2 : 1;
      if (ref.length === from || ref.length - from > 8) return undefined;
      for (let k = from; k < ref.length; k++) {
        const d = hex ? hexValue(ref.charCodeAt(k)) : ref.charCodeAt(k) - 48;
        if (d < 0 || d > (hex ? 15 : 9)) return undefined;
        cp = cp * (hex ? 16 : 10) + d;
      }
      if (cp === 0 || cp > 0x10ffff) return undefined;
      return cp < 0x80 ? BYTE_CHARS[cp] : utf8Bytes(cp);
    }
    if (ref.length === 0 || ref.indexOf("&") !== -1 || !isNameLike(ref)) return undefined;
    // A general entity: kept as written, never expanded.
    return "&" + ref + ";";
  }
}

function isNameLike(ref: string): boolean {
  for (let k = 0; k < ref.length; k++) {
    const c = ref.charCodeAt(k);
    if (isWs(c) || c === 0x3c || c === 0x3e || c === 0x22 || c === 0x27) return false;
  }
  return true;
}
