import { parseRequest } from "../../../../proxy/waf/request/parse.js";
import type { Collection, InspectionLimits, ParsedRequest, WafInput } from "../../../../proxy/waf/types.js";
import { DEFAULT_LIMITS } from "../../../../proxy/waf/types.js";

/** [name, value] pairs of a collection ([] when absent). */
export function pairs(p: ParsedRequest, c: Collection): [string, string][] {
  return (p.collections.get(c) ?? []).map((a) => [a.name, a.value]);
}

/** Values of a collection. */
export function values(p: ParsedRequest, c: Collection): string[] {
  return (p.collections.get(c) ?? []).map((a) => a.value);
}

/** The value of a scalar collection, or undefined. */
export function one(p: ParsedRequest, c: Collection): string | undefined {
  return p.collections.get(c)?.[0]?.value;
}

export function req(over: Partial<Omit<WafInput, "body">> & { body?: Buffer | string } = {}): WafInput {
  const body = typeof over.body === "string" ? Buffer.from(over.body, "latin1") : over.body;
  return {
    method: over.method ?? "GET",
    uri: over.uri ?? "/",
    protocol: over.protocol ?? "HTTP/1.1",
    headers: over.headers ?? [["host", "example.test"]],
    ...(body === undefined ? {} : { body }),
  };
}

/** A POST with the given content type and body. */
export function post(contentType: string, body: string | Buffer, limits?: Partial<InspectionLimits>): ParsedRequest {
  return parseRequest(
    req({ method: "POST", headers: [["host", "x"], ["content-type", contentType]], body }),
    { ...DEFAULT_LIMITS, ...limits },
  );
}

export function limits(over: Partial<InspectionLimits>): InspectionLimits {
  return { ...DEFAULT_LIMITS, ...over };
}
