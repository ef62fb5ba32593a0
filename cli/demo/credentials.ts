/**
 * Demo credentials for the ingress's protected routes, made once per state
 * directory: an ES256 key pair for JWTs (public JWKS for the proxy, private
 * JWK for the user to sign test tokens), an HMAC consumer, a Basic user
 * (scrypt-hashed in an htpasswd file) and an API key (stored as SHA-256).
 * Secret files are 0600; demo-credentials.json gathers what a user needs.
 */
import { createHash, generateKeyPairSync, randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { stringify } from "yaml";
import { writePublicFile, writeSecretFile } from "../../pki/keys.js";
import { hashPassword } from "../../proxy/auth/htpasswd-hash.js";

export interface DemoCredentials {
  jwt: { issuer: string; audience: string; kid: string; alg: "ES256"; private_jwk_file: string; jwks_file: string };
  hmac: { username: string; secret: string; consumers_file: string };
  basic: { username: string; password: string; htpasswd_file: string };
  apikey: { header: string; key: string; keys_file: string };
}

export const DEMO_ISSUER = "https://issuer.demo.mesh";
export const DEMO_AUDIENCE = "demo-api";

/** Loads <dir>/demo-credentials.json, or creates every file it names. */
export async function demoCredentials(dir: string): Promise<{ file: string; creds: DemoCredentials }> {
  const file = join(dir, "demo-credentials.json");
  if (existsSync(file)) return { file, creds: JSON.parse(readFileSync(file, "utf8")) as DemoCredentials };
  const auth = join(dir, "auth");
  mkdirSync(auth, { recursive: true, mode: 0o700 });
  const kid = `demo-${randomBytes(4).toString("hex")}`;
  const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
  const priv = { ...privateKey.export({ format: "jwk" }), kid, alg: "ES256", use: "sig" };
  const pub = { ...publicKey.export({ format: "jwk" }), kid, alg: "ES256", use: "sig" };
  const privateJwk = join(auth, "jwt-private.jwk");
  const jwks = join(auth, "jwks.json");
  writeSecretFile(privateJwk, JSON.stringify(priv, null, 2) + "\n");
  writePublicFile(jwks, JSON.stringify({ keys: [pub] }, null, 2) + "\n");

  const hmacSecret = randomBytes(32).toString("base64url");
  const consumers = join(auth, "hmac-consumers.yaml");
  writeSecretFile(consumers, stringify([{ username: "partner-co", secret: hmacSecret }]));

  const password = randomBytes(12).toString("base64url");
  const htpasswd = join(auth, "admins.htpasswd");
  writeSecretFile(htpasswd, `admin:${await hashPassword(password, "scrypt")}\n`);

  const key = `demo_${randomBytes(24).toString("base64url")}`;
  const keys = join(auth, "api-keys.yaml");
  writeSecretFile(keys, stringify([{ consumer: "ci-bot", key_sha256: createHash("sha256").update(key).digest("hex") }]));

  const creds: DemoCredentials = {
    jwt: { issuer: DEMO_ISSUER, audience: DEMO_AUDIENCE, kid, alg: "ES256", private_jwk_file: privateJwk, jwks_file: jwks },
    hmac: { username: "partner-co", secret: hmacSecret, consumers_file: consumers },
    basic: { username: "admin", password, htpasswd_file: htpasswd },
    apikey: { header: "apikey", key, keys_file: keys },
  };
  writeSecretFile(file, JSON.stringify(creds, null, 2) + "\n");
  return { file, creds };
}
