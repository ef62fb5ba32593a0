/**
 * The API-key provider's keys file. Keys are stored only as SHA-256 hashes
 * (lower-case hex), so the file can be read by anyone who may see the
 * config without giving away a key:
 *
 *   - consumer: ci-bot
 *     key_sha256: 3f7a...            # hashApiKey(key); 64 hex digits
 *
 * A consumer may have several keys (rotation: add the new one, then remove
 * the old one). Two entries with the same hash are refused: one key would
 * name two consumers.
 */
import { createHash } from "node:crypto";
import { z } from "zod";
import { checkDocument, credentialError, MAX_CREDENTIAL_FILE_BYTES, parseYamlText, readBoundedText, type LoadedTable } from "./consumers.js";

export const API_KEY_FILE_LIMITS = {
  keys: 10_000,
  consumerLength: 256,
  /** Longest key presented or hashed. */
  keyLength: 4096,
} as const;

/** Printable ASCII with no space at either end: it becomes the x-consumer-username header. */
export const CONSUMER_NAME = /^[\x21-\x7e](?:[\x20-\x7e]*[\x21-\x7e])?$/;

const entrySchema = z.strictObject({
  consumer: z
    .string()
    .min(1)
    .max(API_KEY_FILE_LIMITS.consumerLength)
    .regex(CONSUMER_NAME, "a consumer name is printable ASCII without spaces at either end"),
  key_sha256: z
    .string()
    .regex(/^[0-9a-fA-F]{64}$/, "expected the key's SHA-256 as 64 hex digits (see hashApiKey)")
    .transform((h) => h.toLowerCase()),
});

const fileSchema = z
  .array(entrySchema, { error: "expected a list of { consumer, key_sha256 }" })
  .max(API_KEY_FILE_LIMITS.keys, `at most ${API_KEY_FILE_LIMITS.keys} keys`);

/** SHA-256 of the key (UTF-8) as lower-case hex: how keys are stored and looked up. */
export function sha256Hex(key: string): string {
  return createHash("sha256").update(key, "utf8").digest("hex");
}

/** Key hash → consumer name. */
export type ApiKeyTable = ReadonlyMap<string, string>;

/** Reads and checks a keys file; throws ProxyError("invalid_config") naming the entry. */
export function loadApiKeys(path: string): LoadedTable<ApiKeyTable> {
  const doc = parseYamlText(readBoundedText(path, MAX_CREDENTIAL_FILE_BYTES, "keys file"), path);
  const entries = checkDocument(fileSchema, doc, path);
  const table = new Map<string, string>();
  const first = new Map<string, number>();
  entries.forEach((e, i) => {
    const j = first.get(e.key_sha256);
    if (j !== undefined) throw credentialError(path, `[${i}].key_sha256: the same key is already listed at [${j}]`);
    first.set(e.key_sha256, i);
    table.set(e.key_sha256, e.consumer);
  });
  return { value: table, files: [path], entries: table.size };
}
