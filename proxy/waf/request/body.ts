/**
 * Picks the body processor from the media type and runs it on the
 * inspected part of the body.
 */
import type { Collector } from "./collector.js";
import { parseJson } from "./json.js";
import { parseMultipart } from "./multipart.js";
import { parseUrlencoded } from "./urlencoded.js";
import { trimOws } from "./text.js";
import { parseXml } from "./xml.js";

export type BodyProcessor = "urlencoded" | "json" | "multipart" | "xml" | "none";

/** "Application/JSON; charset=utf-8" → "application/json". */
export function mediaType(contentType: string): string {
  const semi = contentType.indexOf(";");
  return trimOws(semi === -1 ? contentType : contentType.slice(0, semi)).toLowerCase();
}

export function processorFor(mediaType: string): BodyProcessor {
  switch (mediaType) {
    case "application/x-www-form-urlencoded":
      return "urlencoded";
    case "multipart/form-data":
      return "multipart";
    case "application/json":
      return "json";
    case "application/xml":
    case "text/xml":
      return "xml";
  }
  if (mediaType.endsWith("+json")) return "json";
  if (mediaType.endsWith("+xml")) return "xml";
  return "none";
}

/** Runs the processor; a parser bug becomes body_error rather than an exception out of the WAF. */
export function parseBody(
  processor: BodyProcessor,
  text: string,
  contentType: string,
  c: Collector,
  truncated: boolean,
): void {
  try {
    switch (processor) {
      case "urlencoded":
        parseUrlencoded(text, 0, text.length, c, true);
        break;
      case "json":
        parseJson(text, c, truncated);
        break;
      case "multipart":
        parseMultipart(text, contentType, c, truncated);
        break;
      case "xml":
        parseXml(text, c, truncated);
        break;
      case "none":
        break;
    }
  } catch (err) {
    c.error(`${processor}: parser failure (${err instanceof Error ? err.name : "unknown"})`);
  }
}
