/** `mesh audit export --to tcp://…|tls://…`: the shipping half of export, kept apart from audit.ts. */
import { X509Certificate } from "node:crypto";
import { existsSync, realpathSync } from "node:fs";
import { resolve } from "node:path";
import { createSecureContext } from "node:tls";
import type { ExportFormat } from "../../audit/export/export.js";
import type { ExportFilter } from "../../audit/export/reader.js";
import { defaultStatePath } from "../../audit/export/ship-cursor.js";
import { ShipError } from "../../audit/export/ship-errors.js";
import { parseShipTarget, type ShipTarget, type TlsSettings } from "../../audit/export/ship-transport.js";
import { shipAuditLog } from "../../audit/export/ship.js";
import { parseDuration, readTextFile } from "../args.js";
import { UsageError } from "../run.js";

export interface ShipFlags {
  db: string;
  out?: string;
  follow?: boolean;
  to?: string;
  state?: string;
  ca?: string;
  cert?: string;
  key?: string;
  servername?: string;
  timeout?: string;
}

const TLS_FLAGS = ["ca", "cert", "key", "servername"] as const;

/** Refuses shipping flags given without --to (they would silently do nothing). */
export function checkNoShipFlags(o: ShipFlags): void {
  for (const f of [...TLS_FLAGS, "state", "timeout"] as const) {
    if (o[f] !== undefined) throw new UsageError(`--${f} needs --to`);
  }
}

function tlsSettings(o: ShipFlags, tls: boolean): TlsSettings {
  if (!tls) {
    const given = TLS_FLAGS.find((f) => o[f] !== undefined);
    if (given !== undefined) throw new UsageError(`--${given} needs a tls:// destination`);
    return {};
  }
  if ((o.cert === undefined) !== (o.key === undefined)) throw new UsageError("--cert and --key go together");
  if (o.servername !== undefined && !/^[A-Za-z0-9.-]{1,253}$/.test(o.servername)) throw new UsageError(`--servername '${o.servername}' is not a host name`);
  const ca = o.ca === undefined ? undefined : readTextFile(o.ca, "--ca file");
  const settings: TlsSettings = {
    ca,
    cert: o.cert === undefined ? undefined : readTextFile(o.cert, "--cert file"),
    key: o.key === undefined ? undefined : readTextFile(o.key, "--key file"),
    servername: o.servername,
  };
  if (ca !== undefined) {
    // Node silently ignores text that is not a certificate in ca: an empty trust list would fail every handshake later.
    const blocks = ca.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
    try {
      if (blocks.length === 0) throw new Error("no PEM certificate in it");
      for (const b of blocks) new X509Certificate(b);
    } catch (err) {
      throw new UsageError(`--ca file ${o.ca}: ${(err as Error).message}`);
    }
  }
  // Bad PEM (or a key that does not match the certificate) is a mistake to report now, not to retry for --timeout.
  try {
    createSecureContext({ ca: settings.ca, cert: settings.cert, key: settings.key });
  } catch (err) {
    throw new UsageError(`--ca/--cert/--key: ${(err as Error).message}`);
  }
  return settings;
}

function targetFlag(text: string): ShipTarget {
  try {
    return parseShipTarget(text);
  } catch (err) {
    throw new UsageError(err instanceof ShipError ? err.message : String(err));
  }
}

export interface ShipRun {
  format: ExportFormat;
  filter: ExportFilter;
  facility: number;
  productVersion: string;
}

/** Ships instead of writing; prints one summary line on stdout, retries on stderr. */
export async function runShip(o: ShipFlags, run: ShipRun): Promise<void> {
  if (o.out !== undefined) throw new UsageError("--out and --to exclude each other");
  const target = targetFlag(o.to ?? "");
  const tls = tlsSettings(o, target.protocol === "tls");
  let timeoutMs = 30_000;
  if (o.timeout !== undefined) {
    timeoutMs = parseDuration(o.timeout, "--timeout") * 1000;
    if (timeoutMs <= 0) throw new UsageError("--timeout must be longer than 0");
  }
  const statePath = o.state ?? defaultStatePath(resolve(o.db), target.host, target.port);
  // Saving the cursor renames over the state file: never let that be the log itself.
  if (existsSync(statePath) && existsSync(o.db) && realpathSync(statePath) === realpathSync(o.db)) throw new UsageError("--state must not be the audit database");

  const stop = new AbortController();
  const onSignal = (): void => stop.abort();
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  try {
    const r = await shipAuditLog({
      db: o.db,
      format: run.format,
      filter: run.filter,
      target,
      tls,
      statePath,
      follow: o.follow === true,
      timeoutMs,
      signal: stop.signal,
      facility: run.facility,
      productVersion: run.productVersion,
      onRetry: ({ attempt, delayMs, error }) => {
        process.stderr.write(`mesh: ${target.url}: ${error.message}; retry ${attempt} in ${(delayMs / 1000).toFixed(1)} s\n`);
      },
    });
    const resent = r.resent > 0 ? ` (${r.resent} sent again after lost connections)` : "";
    process.stdout.write(`shipped ${r.delivered} events to ${target.url}${resent}; cursor at seq ${r.lastSeq} in ${statePath}\n`);
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
}
