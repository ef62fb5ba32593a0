/**
 * The HMAC provider's consumers file (Kong's hmacauth_credentials):
 *
 *   - username: alice
 *     secret: "at least 16 characters"
 *   - username: bob
 *     secret_file: secrets/bob.hmac     # relative to this file's folder
 *
 * A secret is the HMAC key as UTF-8 bytes, exactly as Kong uses it. A
 * secret_file holds the secret alone; trailing line breaks are dropped.
 */
import { dirname } from "node:path";
import { z } from "zod";
import {
  checkDocument,
  credentialError,
  MAX_CREDENTIAL_FILE_BYTES,
  parseYamlText,
  readBoundedText,
  resolveFrom,
  type LoadedTable,
} from "./consumers.js";

export const HMAC_CONSUMER_LIMITS = {
  consumers: 10_000,
  usernameLength: 256,
  /** Shorter secrets can be brute-forced offline from one captured signature. */
  secretMinLength: 16,
  secretMaxLength: 4096,
  secretFileBytes: 8192,
  pathLength: 4096,
} as const;

/**
 * A username as it can appear in Kong's quoted plain-string (printable ASCII
 * without `"` and `\`), with no space at either end since it also becomes the
 * x-consumer-username header.
 */
export const HMAC_USERNAME = /^[\x21\x23-\x5b\x5d-\x7e](?:[\x20\x21\x23-\x5b\x5d-\x7e]*[\x21\x23-\x5b\x5d-\x7e])?$/;

const SECRET_HELP = `a secret needs ${HMAC_CONSUMER_LIMITS.secretMinLength} to ${HMAC_CONSUMER_LIMITS.secretMaxLength} characters (e.g. openssl rand -base64 32)`;

const entrySchema = z
  .strictObject({
    username: z
      .string()
      .min(1)
      .max(HMAC_CONSUMER_LIMITS.usernameLength)
      .regex(HMAC_USERNAME, 'a username is printable ASCII without ", \\ or spaces at either end'),
    secret: z.string().min(HMAC_CONSUMER_LIMITS.secretMinLength, SECRET_HELP).max(HMAC_CONSUMER_LIMITS.secretMaxLength, SECRET_HELP).optional(),
    secret_file: z.string().min(1).max(HMAC_CONSUMER_LIMITS.pathLength).optional(),
  })
  .refine((e) => (e.secret === undefined) !== (e.secret_file === undefined), {
    message: "give exactly one of secret or secret_file",
  });

const fileSchema = z
  .array(entrySchema, { error: "expected a list of { username, secret | secret_file }" })
  .max(HMAC_CONSUMER_LIMITS.consumers, `at most ${HMAC_CONSUMER_LIMITS.consumers} consumers`);

/** username → secret (HMAC key bytes). */
export type HmacSecrets = ReadonlyMap<string, Buffer>;

function readSecretFile(path: string, source: string, where: string): Buffer {
  const text = readBoundedText(path, HMAC_CONSUMER_LIMITS.secretFileBytes, "secret file").replace(/[\r\n]+$/, "");
  if (text.length < HMAC_CONSUMER_LIMITS.secretMinLength || text.length > HMAC_CONSUMER_LIMITS.secretMaxLength) {
    throw credentialError(source, `${where}.secret_file: ${SECRET_HELP}`);
  }
  return Buffer.from(text, "utf8");
}

/** Reads and checks a consumers file; throws ProxyError("invalid_config") naming the entry, never a secret. */
export function loadHmacConsumers(path: string): LoadedTable<HmacSecrets> {
  const doc = parseYamlText(readBoundedText(path, MAX_CREDENTIAL_FILE_BYTES, "consumers file"), path);
  const entries = checkDocument(fileSchema, doc, path);
  const secrets = new Map<string, Buffer>();
  const files = [path];
  const dir = dirname(path);
  entries.forEach((e, i) => {
    const where = `[${i}]`;
    if (secrets.has(e.username)) throw credentialError(path, `${where}.username: ${JSON.stringify(e.username)} is listed twice`);
    let secret: Buffer;
    if (e.secret_file !== undefined) {
      const file = resolveFrom(dir, e.secret_file);
      secret = readSecretFile(file, path, where);
      files.push(file);
    } else {
      secret = Buffer.from(e.secret!, "utf8");
    }
    secrets.set(e.username, secret);
  });
  return { value: secrets, files, entries: secrets.size };
}
