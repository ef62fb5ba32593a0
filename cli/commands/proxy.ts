/** `mesh proxy --config FILE`: one sidecar (or ingress gateway) until SIGTERM, which drains it. */
import { openSignedAudit } from "../audit-sink.js";
import type { Command } from "commander";
import { readFileSync, writeFileSync } from "node:fs";
import { AuditLog } from "../../audit/store.js";
import { NullAuditSink } from "../../audit/memory.js";
import { loadProxyConfigFile } from "../../proxy/config/load.js";
import { Sidecar } from "../../proxy/sidecar.js";
import { createLogger } from "../logger.js";

interface ProxyFlags {
  config: string;
  readyFile?: string;
  logLevel: string;
}

export function registerProxy(program: Command): void {
  program
    .command("proxy")
    .description("run a sidecar proxy or ingress gateway: mTLS with the SDS identity, filters, routing")
    .requiredOption("--config <file>", "proxy config (YAML); see docs/proxy.md")
    .option("--ready-file <file>", "write {ports, admin_port, pid} here once listening")
    .option("--log-level <level>", "debug | info | warn | error", process.env.MESH_LOG_LEVEL ?? "info")
    .action(async (o: ProxyFlags) => {
      const loaded = loadProxyConfigFile(o.config);
      const cfg = loaded.config;
      const logger = createLogger(`proxy:${cfg.name}`, o.logLevel);
      const audit = cfg.audit_db ? openSignedAudit(cfg.audit_db) : new NullAuditSink();
      const appToken = cfg.sds.app_token_file ? readFileSync(cfg.sds.app_token_file, "utf8").trim() : undefined;
      const sidecar = await Sidecar.start({ loaded, audit, logger, appToken });
      const ports = sidecar.ports();
      logger.info({ listeners: ports.listeners, admin_port: ports.admin }, "proxy running");
      if (o.readyFile) writeFileSync(o.readyFile, JSON.stringify({ listeners: ports.listeners, admin_port: ports.admin, pid: process.pid }) + "\n");
      await new Promise<void>((resolve) => {
        process.once("SIGINT", () => resolve());
        process.once("SIGTERM", () => resolve());
      });
      logger.info({ drain_timeout_ms: cfg.drain_timeout }, "draining");
      await sidecar.drain();
      if (audit instanceof AuditLog) audit.close();
      logger.info("proxy stopped");
    });
}
