/**
 * A small DER writer and a strict, bounded DER reader. The CA's hot path (CSR
 * parse, leaf build) uses these instead of @peculiar/x509, which is ~10x slower.
 */
export * from "./der-common.js";
export * from "./der-writer.js";
export * from "./der-reader.js";
