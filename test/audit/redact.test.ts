import test from "ava";
import { REDACTED, isSecretKeyName, redactDetails, redactString } from "../../audit/redact.js";
import type { JsonValue } from "../../audit/event.js";

const PRIVATE_PEM =
  "-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg\n-----END PRIVATE KEY-----";
const CERT_PEM = "-----BEGIN CERTIFICATE-----\nMIIBkTCB+wIJAK\n-----END CERTIFICATE-----";
const JWT =
  "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.MEUCIQDx3Jc2nVq8p6tOz4bY0hwmQ3B5h4GQH3sxW0c-aR1LQ";

test("secret-looking key names are recognised", (t) => {
  const secret = [
    "password", "Password", "db_password", "passwd", "pwd", "passphrase", "secret", "client_secret",
    "token", "access_token", "x-auth-token", "api_key", "apiKey", "API-KEY", "private_key", "privateKey",
    "privkey", "key", "keys", "signing_keys", "signing_key", "hmacKey", "key_material", "cookie", "Set-Cookie", "signature",
    "authorization", "Proxy-Authorization", "credentials",
  ];
  for (const name of secret) t.true(isSecretKeyName(name), name);
  const plain = [
    "user", "path", "spiffe_id", "public_key", "publicKey", "public_keys", "keyring_path", "key_id", "kid", "keyUsage", "token_id",
    "token_type", "signature_alg", "key_type", "serial", "status", "secret_name", "password_valid",
    "method", "reason",
  ];
  for (const name of plain) t.false(isSecretKeyName(name), name);
});

test("values under secret keys are redacted at any depth, whatever their type", (t) => {
  const input: Record<string, JsonValue> = {
    user: "alice",
    password: "hunter2",
    request: {
      headers: { Authorization: "whatever", "x-request-id": "r1", cookie: ["a=1", "b=2"] },
      list: [{ api_key: 12345 }, { token: { nested: "deep" } }, "plain"],
    },
    private_key: { kty: "EC", d: "abc" },
    public_key: "-----BEGIN PUBLIC KEY-----\nMFkw\n-----END PUBLIC KEY-----",
  };
  const snapshot = JSON.stringify(input);
  const out = redactDetails(input);
  t.deepEqual(out, {
    user: "alice",
    password: REDACTED,
    request: {
      headers: { Authorization: REDACTED, "x-request-id": "r1", cookie: REDACTED },
      list: [{ api_key: REDACTED }, { token: REDACTED }, "plain"],
    },
    private_key: REDACTED,
    public_key: input.public_key,
  });
  t.is(JSON.stringify(input), snapshot, "the input is not modified");
  t.false(JSON.stringify(out).includes("hunter2"));
});

test("PEM private keys in strings are redacted, certificates kept", (t) => {
  t.is(redactString(PRIVATE_PEM), REDACTED);
  t.is(redactString(`key was: ${PRIVATE_PEM} (oops)`), `key was: ${REDACTED} (oops)`);
  t.is(
    redactString("-----BEGIN EC PRIVATE KEY-----\nMHcCAQEE\n-----END EC PRIVATE KEY-----"),
    REDACTED,
  );
  t.is(redactString("-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIF"), REDACTED, "truncated block");
  t.is(redactString(CERT_PEM), CERT_PEM);
  const details = redactDetails({ chain: [CERT_PEM, PRIVATE_PEM], note: `x ${PRIVATE_PEM}` });
  t.deepEqual(details, { chain: [CERT_PEM, REDACTED], note: `x ${REDACTED}` });
});

test("Bearer, Basic and JWT credentials in strings are redacted", (t) => {
  t.is(redactString("Bearer abc.DEF-123_~+/=="), `Bearer ${REDACTED}`);
  t.is(redactString("header was 'bearer s3cr3t' on /x"), `header was 'bearer ${REDACTED}' on /x`);
  const basic = Buffer.from("alice:hunter2").toString("base64");
  t.is(redactString(`Basic ${basic}`), `Basic ${REDACTED}`);
  t.is(redactString("Basic auth failed for alice"), "Basic auth failed for alice", "prose is kept");
  t.is(redactString(`token ${JWT} expired`), `token ${REDACTED} expired`);
  t.is(redactString("plain text, nothing here"), "plain text, nothing here");
  t.deepEqual(redactDetails({ headers: ["Accept: */*", `X-Fwd: Bearer ${JWT}`] }), {
    headers: ["Accept: */*", `X-Fwd: Bearer ${REDACTED}`],
  });
});

test("a __proto__ key stays an own data property", (t) => {
  const input = JSON.parse('{"__proto__":{"password":"p"},"a":1}') as Record<string, JsonValue>;
  const out = redactDetails(input);
  t.deepEqual(Object.keys(out), ["__proto__", "a"]);
  t.deepEqual(Object.getOwnPropertyDescriptor(out, "__proto__")?.value, { password: REDACTED });
  t.is(Object.getPrototypeOf(out), Object.prototype);
});
