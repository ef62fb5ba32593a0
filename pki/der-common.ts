/** DER tag numbers and the error the reader throws; shared by der-writer.ts and der-reader.ts. */
import { PkiError } from "./errors.js";

export const TAG = {
  BOOLEAN: 0x01, INTEGER: 0x02, BIT_STRING: 0x03, OCTET_STRING: 0x04, NULL: 0x05, OID: 0x06, ENUMERATED: 0x0a,
  UTF8_STRING: 0x0c, PRINTABLE_STRING: 0x13, IA5_STRING: 0x16, UTC_TIME: 0x17, GENERALIZED_TIME: 0x18,
  SEQUENCE: 0x30, SET: 0x31,
} as const;

/** Malformed DER. A PkiError (invalid_argument) so callers that do not re-wrap still report a typed failure. */
export class DerError extends PkiError {
  constructor(message: string) {
    super("invalid_argument", `malformed DER: ${message}`);
    this.name = "DerError";
  }
}
