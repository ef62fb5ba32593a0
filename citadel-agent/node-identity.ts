/**
 * The node's own SVID: obtained once with a join token, kept in the data
 * directory (key 0600), renewed over mTLS with itself. Later starts never use
 * the token again.
 */
import { X509Certificate, createPrivateKey } from "node:crypto";
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { buildCsr } from "../pki/csr.js";
import { generateKeyPair, privateKeyToPem, writePublicFile, writeSecretFile } from "../pki/keys.js";
import { pemDecodeLabel } from "../pki/pem.js";
import type { CaClient, IssuedResponse } from "./ca-client.js";
import { AgentError } from "./errors.js";

export interface Svid {
  spiffeId: string;
  serial: string;
  certPem: string;
  keyPem: string;
  bundlePem: string;
  notBefore: Date;
  notAfter: Date;
}

const FILES = { key: "node.key", cert: "node.pem", bundle: "bundle.pem" };

/** A fresh key and CSR, signed by `issue`; returns the SVID with its key. */
export async function obtainSvid(issue: (csrPem: string) => Promise<IssuedResponse>): Promise<Svid> {
  const keys = generateKeyPair("ec-p256");
  const r = await issue(buildCsr(keys));
  return svidFromResponse(r, privateKeyToPem(keys.privateKey));
}

export function svidFromResponse(r: IssuedResponse, keyPem: string): Svid {
  const certs = pemDecodeLabel(r.svid_chain ?? "", "CERTIFICATE");
  if (certs.length === 0 || typeof r.bundle !== "string") throw new AgentError("ca_bad_response", "CA response holds no certificate chain or bundle");
  const leaf = new X509Certificate(certs[0]!);
  if (!leaf.checkPrivateKey(createPrivateKey(keyPem))) throw new AgentError("ca_bad_response", "CA returned a certificate for another key");
  return {
    spiffeId: r.spiffe_id,
    serial: r.serial,
    certPem: r.svid_chain,
    keyPem,
    bundlePem: r.bundle,
    notBefore: new Date(leaf.validFrom),
    notAfter: new Date(leaf.validTo),
  };
}

export function saveNodeSvid(dataDir: string, svid: Svid): void {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  writeSecretFile(join(dataDir, FILES.key), svid.keyPem);
  writePublicFile(join(dataDir, FILES.cert), svid.certPem);
  writePublicFile(join(dataDir, FILES.bundle), svid.bundlePem);
}

/** The saved node SVID, if there is one that is still valid at `now`. */
export function loadNodeSvid(dataDir: string, now: Date): Svid | undefined {
  const paths = { key: join(dataDir, FILES.key), cert: join(dataDir, FILES.cert), bundle: join(dataDir, FILES.bundle) };
  if (!existsSync(paths.key) || !existsSync(paths.cert)) return undefined;
  try {
    const keyPem = readFileSync(paths.key, "utf8");
    const certPem = readFileSync(paths.cert, "utf8");
    const bundlePem = existsSync(paths.bundle) ? readFileSync(paths.bundle, "utf8") : "";
    const leaf = new X509Certificate(pemDecodeLabel(certPem, "CERTIFICATE")[0]!);
    if (!leaf.checkPrivateKey(createPrivateKey(keyPem))) return undefined;
    const notAfter = new Date(leaf.validTo);
    if (notAfter <= now) return undefined;
    const uri = /URI:([^,\s]+)/.exec(leaf.subjectAltName ?? "");
    return { spiffeId: uri?.[1] ?? "", serial: leaf.serialNumber.toLowerCase(), certPem, keyPem, bundlePem, notBefore: new Date(leaf.validFrom), notAfter };
  } catch {
    return undefined; // unreadable or corrupt: attest again if a token is available
  }
}

/** Attests with the join token file's token. */
export async function attestNode(client: CaClient, tokenFile: string | undefined): Promise<Svid> {
  if (!tokenFile) throw new AgentError("not_attested", "no valid node identity in the data directory and no join token file to attest with");
  let token: string;
  try {
    token = readFileSync(tokenFile, "utf8").trim();
  } catch {
    throw new AgentError("not_attested", `cannot read join token file ${tokenFile}`);
  }
  if (!token) throw new AgentError("not_attested", `join token file ${tokenFile} is empty`);
  return obtainSvid((csr) => client.attest(token, csr));
}
