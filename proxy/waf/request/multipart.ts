/**
 * multipart/form-data bodies. Each part's headers go to multipart_headers,
 * file parts to files/files_names, other parts to body_args. Anything a
 * strict parser would refuse (missing or odd boundary, LF-only lines, data
 * before the first or after the last boundary, header folding, a missing or
 * repeated Content-Disposition, repeated or conflicting parameters, no final
 * boundary) becomes body_error: two parsers that disagree on a multipart
 * body are how attacks slip past a WAF, so the rules refuse such bodies.
 */
import type { Collector } from "./collector.js";
import { boundaryProblem, parseParams } from "./params.js";
import { BYTE_CHARS, allWs, hexValue, isOws, isTchar, trimOws } from "./text.js";

interface Part {
  readonly headers: [string, string][];
  readonly data: string;
}

export function parseMultipart(s: string, contentType: string, c: Collector, truncated: boolean): void {
  new MultipartParser(s, c, truncated).run(contentType);
}

class MultipartParser {
  private readonly n: number;
  private dash = "";

  constructor(
    private readonly s: string,
    private readonly c: Collector,
    private readonly truncated: boolean,
  ) {
    this.n = s.length;
  }

  private error(what: string): void {
    // Only the first reason is kept; do not build strings for the rest.
    if (this.c.bodyError === undefined) this.c.error(`multipart: ${what}`);
  }

  /** The body ended early: an error unless the body was cut by the inspection limit. */
  private eof(what: string): void {
    if (!this.truncated) this.error(what);
  }

  run(contentType: string): void {
    const ct = parseParams(contentType);
    const bs = ct.params.filter((p) => p.name === "boundary");
    if (bs.length === 0) return this.error("missing boundary");
    if (bs.length > 1) this.error("more than one boundary parameter");
    if (ct.problem !== undefined) this.error(`Content-Type: ${ct.problem}`);
    const problem = boundaryProblem(bs[0]!);
    if (problem !== undefined) this.error(problem);
    if (bs[0]!.value.length === 0) return;
    this.dash = "--" + bs[0]!.value;
    const s = this.s;
    let pos = this.findDelimiter(0);
    if (pos === -1) return this.eof("no boundary in the body");
    if (pos > 0) this.error("data before the first boundary");
    let parts = 0;
    for (;;) {
      let k = pos + this.dash.length;
      if (s.startsWith("--", k)) {
        k = this.skipPadding(k + 2);
        if (!allWs(s, k, this.n)) this.error("data after the final boundary");
        return;
      }
      k = this.lineEnd(this.skipPadding(k));
      if (k === -1) return this.eof("missing final boundary");
      if (k === -2) return this.error("invalid boundary line");
      if (++parts > this.c.maxParts) {
        this.c.exceed("parts");
        return;
      }
      const headers: [string, string][] = [];
      const bodyStart = this.readHeaders(k, headers);
      if (bodyStart === -1) {
        this.eof("part headers not terminated");
        // Cut by the limit, the last header may be cut too: keep the headers, judge nothing.
        if (this.truncated) for (const [n, v] of headers) this.c.push(this.c.multipartHeaders, n, v);
        else if (headers.length > 0) this.part({ headers, data: "" });
        return;
      }
      if (bodyStart < -1) {
        // A delimiter line inside the header block: a part with no blank line and no data.
        this.part({ headers, data: "" });
        pos = -bodyStart - 2;
        continue;
      }
      const next = this.findDelimiter(bodyStart);
      if (next === -1) {
        this.eof("missing final boundary");
        this.part({ headers, data: s.slice(bodyStart) });
        return;
      }
      let dataEnd = next;
      if (dataEnd > bodyStart && s.charCodeAt(dataEnd - 1) === 0x0a) dataEnd--;
      if (dataEnd > bodyStart && s.charCodeAt(dataEnd - 1) === 0x0d) dataEnd--;
      this.part({ headers, data: s.slice(bodyStart, dataEnd) });
      pos = next;
    }
  }

  private skipPadding(k: number): number {
    while (k < this.n && isOws(this.s.charCodeAt(k))) k++;
    return k;
  }

  /** Index after the line break at k; -1 at the end of input, -2 when k is not a line break. */
  private lineEnd(k: number): number {
    if (k >= this.n) return -1;
    const ch = this.s.charCodeAt(k);
    if (ch === 0x0d) {
      if (k + 1 >= this.n) return -1;
      if (this.s.charCodeAt(k + 1) === 0x0a) return k + 2;
      return -2;
    }
    if (ch === 0x0a) {
      this.error("LF line ending without CR");
      return k + 1;
    }
    return -2;
  }

  /**
   * Next delimiter at or after `from` that starts a line (or the body) and is
   * followed by "--", padding and a line break, or the end of input. A
   * boundary string that is not a delimiter is content, but suspicious.
   */
  private findDelimiter(from: number): number {
    const s = this.s;
    const len = this.dash.length;
    let q = s.indexOf(this.dash, from);
    while (q !== -1) {
      const atLineStart = q === 0 || s.charCodeAt(q - 1) === 0x0a;
      if (atLineStart) {
        let k = q + len;
        const close = s.startsWith("--", k);
        if (!close) k = this.skipPadding(k);
        if (close || k >= this.n || s.charCodeAt(k) === 0x0d || s.charCodeAt(k) === 0x0a) {
          if (q > 0 && (q < 2 || s.charCodeAt(q - 2) !== 0x0d)) this.error("LF line ending without CR");
          return q;
        }
        this.error("boundary followed by other characters");
      }
      q = s.indexOf(this.dash, q + 1);
    }
    return -1;
  }

  /**
   * Reads header lines from k into headers. Returns the index after the blank
   * line, -1 at the end of input, or -(i + 2) when a delimiter line starts at i.
   */
  private readHeaders(k: number, headers: [string, string][]): number {
    const s = this.s;
    for (;;) {
      const lf = s.indexOf("\n", k);
      if (lf === -1) return -1;
      let end = lf;
      if (end > k && s.charCodeAt(end - 1) === 0x0d) end--;
      else this.error("LF line ending without CR");
      if (end === k) return lf + 1;
      if (s.startsWith(this.dash, k)) {
        this.error("part without a blank line after its headers");
        return -(k + 2);
      }
      const first = s.charCodeAt(k);
      if (isOws(first)) {
        this.error("header folding");
        const last = headers[headers.length - 1];
        if (last !== undefined) last[1] += " " + trimOws(s.slice(k, end));
      } else {
        let colon = k;
        while (colon < end && s.charCodeAt(colon) !== 0x3a) colon++;
        const name = colon < end ? trimOws(s.slice(k, colon)).toLowerCase() : "";
        if (name.length === 0 || !isToken(name)) this.error("invalid part header");
        else headers.push([name, trimOws(s.slice(colon + 1, end))]);
      }
      k = lf + 1;
    }
  }

  private part(p: Part): void {
    const c = this.c;
    let disposition: string | undefined;
    for (const [name, value] of p.headers) {
      c.push(c.multipartHeaders, name, value);
      if (name !== "content-disposition") continue;
      if (disposition === undefined) disposition = value;
      else this.error("more than one Content-Disposition in a part");
    }
    if (disposition === undefined) return this.error("part without Content-Disposition");
    const cd = parseParams(disposition);
    if (cd.type !== "form-data") this.error("Content-Disposition is not form-data");
    if (cd.problem !== undefined) this.error(`Content-Disposition: ${cd.problem}`);
    let name: string | undefined;
    let filename: string | undefined;
    let filenameStar: string | undefined;
    const seen = new Set<string>();
    for (const prm of cd.params) {
      if (seen.has(prm.name) && c.bodyError === undefined) this.error(`repeated Content-Disposition parameter ${prm.name}`);
      seen.add(prm.name);
      if (prm.name === "name") name ??= prm.value;
      else if (prm.name === "filename") filename ??= prm.value;
      else if (prm.name === "filename*") filenameStar ??= this.extValue(prm.value);
    }
    if (name === undefined) {
      this.error("part without a name");
      name = "";
    }
    if (filename === undefined && filenameStar === undefined) {
      c.bodyArg(name, p.data);
      return;
    }
    if (filename !== undefined && filenameStar !== undefined && filename !== filenameStar) {
      this.error("filename and filename* disagree");
    }
    // Both names are inspected when they differ: the app may use either.
    if (filename !== undefined) this.file(name, filename);
    if (filenameStar !== undefined && filenameStar !== filename) this.file(name, filenameStar);
  }

  private file(field: string, filename: string): void {
    this.c.push(this.c.files, field, filename);
    this.c.push(this.c.filesNames, field, field);
  }

  /** RFC 8187 ext-value (charset'lang'%XX…) as bytes; the raw value if it is not one. */
  private extValue(v: string): string {
    const a = v.indexOf("'");
    const b = a === -1 ? -1 : v.indexOf("'", a + 1);
    if (b === -1) {
      this.error("malformed filename*");
      return v;
    }
    let out = "";
    let run = b + 1;
    for (let i = run; i < v.length; i++) {
      if (v.charCodeAt(i) !== 0x25) continue;
      const hi = hexValue(v.charCodeAt(i + 1));
      const lo = hexValue(v.charCodeAt(i + 2));
      if (hi < 0 || lo < 0) continue;
      out += v.slice(run, i) + BYTE_CHARS[(hi << 4) | lo];
      i += 2;
      run = i + 1;
    }
    return out + v.slice(run);
  }
}

/** RFC 9110 token characters. */
function isToken(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (!isTchar(s.charCodeAt(i))) return false;
  return true;
}
