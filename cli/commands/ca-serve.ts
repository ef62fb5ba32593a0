/** `mesh ca serve`: the CA's HTTPS API until SIGINT/SIGTERM. */
import type { Command } from "commander";
import { renameSync, writeFileSync } from "node:fs";
import { CertificateAuthority } from "../../pki/ca.js";
import { NodeApi } from "../../pki/node-api.js";
import { startCaServer } from "../../pki/service/server.js";
import { caPassphrase, parseListen, parsePositiveInt } from "../args.js";
import { openCaAudit } from "../audit-sink.js";
import { createLogger } from "../logger.js";

export function registerCaServe(ca: Command, dirOptions: (c: Command) => Command): void {
  dirOptions(ca.command("serve").description("serve the CA API over HTTPS (TLS 1.3)"))
    .option("--listen <host:port>", "address to listen on", "127.0.0.1:8443")
    .option("--dns <name...>", "extra DNS names for the CA's serving certificate")
    .option("--sign-rate <n>", "CSR signings per second allowed per node", "500")
    .option("--sign-burst <n>", "burst of CSR signings allowed per node", "1000")
    .option("--ready-file <file>", "write {url, port, pid} here once listening")
    .option("--log-level <level>", "debug | info | warn | error", process.env.MESH_LOG_LEVEL ?? "info")
    .action(async (o) => {
      const logger = createLogger("ca", o.logLevel);
      const listen = parseListen(o.listen);
      const audit = openCaAudit(o.dir, o.auditDb);
      const authority = CertificateAuthority.open(o.dir, { passphrase: caPassphrase(o.passphraseFile), audit });
      const api = new NodeApi(authority, { signRatePerSecond: parsePositiveInt(o.signRate, "--sign-rate"), signBurst: parsePositiveInt(o.signBurst, "--sign-burst") });
      const srv = await startCaServer({ ca: authority, api, host: listen.host, port: listen.port, logger, dnsNames: o.dns });
      logger.info({ url: srv.url, trust_domain: authority.trustDomain }, "CA serving");
      if (o.readyFile) {
        // written whole then renamed, so a watcher never reads a half-written file
        writeFileSync(`${o.readyFile}.tmp`, JSON.stringify({ url: srv.url, port: srv.port, pid: process.pid }) + "\n");
        renameSync(`${o.readyFile}.tmp`, o.readyFile);
      }
      await new Promise<void>((resolve) => {
        const stop = (sig: string) => {
          logger.info({ signal: sig }, "CA stopping");
          resolve();
        };
        process.once("SIGINT", () => stop("SIGINT"));
        process.once("SIGTERM", () => stop("SIGTERM"));
      });
      await srv.close();
      authority.close();
      audit.close();
    });
}
