/**
 * The CA's HTTPS service (DESIGN.md §4): TLS 1.3 only; client certificates
 * are asked for but optional, because attestation and bundle fetches come
 * from callers with no identity yet. Calls that need a node are refused
 * unless the peer presented a valid, unrevoked node SVID of this trust domain.
 */
import { X509Certificate } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { createServer, type Server } from "node:https";
import type { AddressInfo } from "node:net";
import type { TLSSocket } from "node:tls";
import type { Logger } from "pino";
import { trustBundle } from "../bundle.js";
import { chainPem, type CertificateAuthority, type IssuedSvid } from "../ca.js";
import { PkiError } from "../errors.js";
import { generateKeyPair, privateKeyToPem } from "../keys.js";
import type { NodeApi } from "../node-api.js";
import { pemEncode } from "../pem.js";
import { currentCrlsPem } from "../revocation.js";
import type { SpiffeId } from "../spiffe-id.js";
import { validateX509Svid } from "../svid-validate.js";
import { HttpError, readJsonBody, sendError, sendJson, sendText, toHttpError } from "./http-util.js";

export interface CaServerOptions {
  ca: CertificateAuthority;
  api: NodeApi;
  host: string;
  port: number;
  logger: Logger;
  /** Extra DNS names for the serving certificate (localhost is always there). */
  dnsNames?: string[];
  maxBodyBytes?: number;
  /** How often the server checks whether its certificate or the bundle changed. */
  maintenanceIntervalMs?: number;
}

export interface CaServer {
  server: Server;
  url: string;
  port: number;
  close(): Promise<void>;
}

/** SPIFFE ID the CA serves with; agents check it instead of a host name. */
export function caServerSpiffeId(trustDomain: string): string {
  return `spiffe://${trustDomain}/mesh/ca`;
}

export async function startCaServer(opts: CaServerOptions): Promise<CaServer> {
  const { ca, api, logger } = opts;
  const maxBody = opts.maxBodyBytes ?? 64 * 1024;
  const peers = new WeakMap<TLSSocket, SpiffeId | PkiError>();

  let current = servingIdentity(ca, opts.dnsNames ?? []);
  const server = createServer({
    ...current.tls,
    minVersion: "TLSv1.3",
    requestCert: true,
    rejectUnauthorized: false,
  });
  server.headersTimeout = 10_000;
  server.requestTimeout = 15_000;
  server.keepAliveTimeout = 30_000;
  server.maxHeadersCount = 64;
  server.on("tlsClientError", (err) => logger.debug({ err: err.message }, "tls handshake failed"));
  // every raw socket, so close() can end even connections that never became HTTP
  const sockets = new Set<import("node:net").Socket>();
  server.on("connection", (s: import("node:net").Socket) => {
    sockets.add(s);
    s.once("close", () => sockets.delete(s));
  });

  /** The caller's node identity, validated once per TLS connection. */
  const callerOf = (req: IncomingMessage): SpiffeId => {
    const sock = req.socket as TLSSocket;
    let who = peers.get(sock);
    if (who === undefined) {
      try {
        who = validatePeer(ca, sock).spiffeId;
      } catch (err) {
        who = err instanceof PkiError ? err : new PkiError("unauthenticated", "client certificate could not be validated");
      }
      peers.set(sock, who);
    }
    if (who instanceof PkiError) throw new PkiError("unauthenticated", `client certificate refused: ${who.message}`);
    return who;
  };

  const issued = (svid: IssuedSvid) => {
    const bundle = trustBundle(ca);
    return {
      spiffe_id: svid.spiffeId,
      serial: svid.serial,
      svid_chain: chainPem(svid.chainDer),
      bundle: bundle.pem,
      bundle_sequence: bundle.sequence,
      not_before: svid.notBefore.toISOString(),
      expires_at: svid.notAfter.toISOString(),
    };
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? "/", "https://ca.invalid");
    const route = `${req.method} ${url.pathname}`;
    switch (route) {
      case "POST /v1/attest": {
        const body = await readJsonBody(req, maxBody);
        const svid = api.attest(body.token, body.csr, req.socket.remoteAddress ?? "unknown");
        logger.info({ spiffe_id: svid.spiffeId, serial: svid.serial }, "node attested");
        return sendJson(res, 200, issued(svid));
      }
      case "POST /v1/sign": {
        const caller = callerOf(req);
        const body = await readJsonBody(req, maxBody);
        return sendJson(res, 200, issued(api.sign(caller, body)));
      }
      case "GET /v1/entries": {
        const caller = callerOf(req);
        const entries = api.entries(caller).map((e) => ({ id: e.id, spiffe_id: e.spiffeId, workload: e.workload, ttl_seconds: e.ttlSeconds ?? null, dns_names: e.dnsNames }));
        return sendJson(res, 200, { entries });
      }
      case "GET /v1/bundle": {
        const b = trustBundle(ca);
        const format = url.searchParams.get("format") ?? "json";
        if (format === "pem") return sendText(res, 200, b.pem, "application/x-pem-file");
        if (format === "spiffe") return sendJson(res, 200, b.spiffe);
        if (format !== "json") throw new HttpError(400, "invalid_argument", "format must be json, pem or spiffe");
        return sendJson(res, 200, { trust_domain: b.trustDomain, sequence: b.sequence, pem: b.pem, spiffe_bundle: b.spiffe });
      }
      case "GET /v1/crl":
        return sendText(res, 200, currentCrlsPem(ca), "application/x-pem-file");
      case "GET /healthz":
        return sendJson(res, 200, { status: "ok" });
      default: {
        const known = ["/v1/attest", "/v1/sign", "/v1/entries", "/v1/bundle", "/v1/crl", "/healthz"];
        if (known.includes(url.pathname)) throw new HttpError(405, "method_not_allowed", `${req.method} is not allowed on ${url.pathname}`);
        throw new HttpError(404, "not_found", `no route ${url.pathname}`);
      }
    }
  };

  server.on("request", (req: IncomingMessage, res: ServerResponse) => {
    handle(req, res).catch((err: unknown) => {
      const h = toHttpError(err);
      if (h.status >= 500) logger.error({ err: err instanceof Error ? err.message : String(err), path: req.url }, "request failed");
      else logger.debug({ code: h.code, path: req.url }, "request refused");
      // drain what is left of an oversized body without reading it into memory
      if (h.status === 413) res.setHeader("connection", "close");
      sendError(res, h);
    });
  });

  // Keep the serving certificate fresh and the accepted client CAs equal to the bundle.
  const interval = opts.maintenanceIntervalMs ?? 10_000;
  const timer = setInterval(() => {
    try {
      const seq = trustBundle(ca).sequence;
      if (seq !== current.bundleSequence || ca.now() >= current.renewAt) {
        current = servingIdentity(ca, opts.dnsNames ?? []);
        server.setSecureContext({ ...current.tls, minVersion: "TLSv1.3" });
        logger.info({ serial: current.serial }, "CA serving certificate renewed");
      }
    } catch (err) {
      logger.error({ err: err instanceof Error ? err.message : String(err) }, "CA maintenance failed");
    }
  }, interval);
  timer.unref();

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port, opts.host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const host = opts.host.includes(":") ? `[${opts.host}]` : opts.host;
  return {
    server,
    port,
    url: `https://${host}:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        clearInterval(timer);
        server.close(() => resolve());
        server.closeAllConnections();
        for (const s of sockets) s.destroy();
      }),
  };
}

function servingIdentity(ca: CertificateAuthority, dnsNames: string[]) {
  const keys = generateKeyPair("ec-p256");
  const svid = ca.issue({ spiffeId: caServerSpiffeId(ca.trustDomain), publicKey: keys.publicKey, kind: "server", dnsNames: ["localhost", ...dnsNames] });
  const bundle = trustBundle(ca);
  const lifetime = svid.notAfter.getTime() - ca.now().getTime();
  return {
    serial: svid.serial,
    bundleSequence: bundle.sequence,
    renewAt: new Date(ca.now().getTime() + lifetime / 2),
    tls: {
      cert: chainPem(svid.chainDer),
      key: privateKeyToPem(keys.privateKey),
      ca: bundle.anchorsDer.map((d) => pemEncode("CERTIFICATE", d)),
    },
  };
}

function validatePeer(ca: CertificateAuthority, sock: TLSSocket) {
  const peer = sock.getPeerCertificate(true);
  if (!peer || !peer.raw) throw new PkiError("unauthenticated", "no client certificate");
  const chain: X509Certificate[] = [];
  const seen = new Set<string>();
  // walk the presented chain; Node links it through the issuerCertificate fields
  for (let c = peer; c && c.raw && !seen.has(c.fingerprint256) && chain.length < 6; c = c.issuerCertificate) {
    seen.add(c.fingerprint256);
    chain.push(new X509Certificate(c.raw));
  }
  const now = ca.now();
  return validateX509Svid(chain, {
    now,
    roots: ca.bundleAnchors(now),
    trustDomain: ca.trustDomain,
    isRevoked: (serial) => ca.store.getCertificate(serial)?.revokedAt !== undefined,
  });
}
