/**
 * Failures of the raw HTTP/1.x reader (parseRawHttp). parseRequest itself
 * never throws: a body it cannot take apart becomes the body_error
 * collection, so these errors only concern bytes that are not a request.
 */
export type WafInputErrorCode =
  | "bad_request_line" // empty input, or not "METHOD SP target SP HTTP/x.y"
  | "bad_header" // a header line without a colon, an empty or invalid name, a fold with nothing to fold into
  | "too_many_headers" // more than 200 header lines
  | "headers_too_large" // header section over 64 KiB
  | "bad_content_length" // not digits, or several Content-Length values that disagree
  | "bad_transfer_encoding" // a transfer coding other than "chunked"
  | "bad_chunk" // malformed chunk size line or chunk terminator
  | "incomplete_body" // fewer body bytes than Content-Length or the chunks announce
  | "body_too_large"; // body over 8 MiB

export class WafInputError extends Error {
  override readonly name = "WafInputError";
  constructor(
    readonly code: WafInputErrorCode,
    message: string,
  ) {
    super(message);
  }
}

export function isWafInputError(err: unknown): err is WafInputError {
  return err instanceof WafInputError;
}
