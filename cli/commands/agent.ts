/** `mesh agent`: the node agent with its SDS server and admin endpoint, until SIGINT/SIGTERM. */
import { openSignedAudit } from "../audit-sink.js";
import type { Command } from "commander";
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { NodeAgent } from "../../citadel-agent/agent.js";
import { startAdmin } from "../../citadel-agent/admin.js";
import { loadAgentConfigFile, parseAgentConfig, type AgentConfig } from "../../citadel-agent/config.js";
import { AgentMetrics } from "../../citadel-agent/metrics.js";
import { SdsServer } from "../../sds-server/server.js";
import { parseListen } from "../args.js";
import { createLogger } from "../logger.js";

interface AgentFlags {
  config?: string;
  caUrl?: string;
  caBundle?: string;
  node?: string;
  trustDomain?: string;
  joinTokenFile?: string;
  dataDir?: string;
  sdsDir?: string;
  adminListen?: string;
  auditDb?: string;
  pollInterval?: string;
  readyFile?: string;
  logLevel: string;
}

/** Flags override the file; the result is validated as a whole. */
export function agentConfigFrom(o: AgentFlags): AgentConfig {
  const raw = (o.config ? loadAgentConfigFile(o.config) : {}) as Record<string, unknown>;
  const set = (key: string, v: unknown) => {
    if (v !== undefined) raw[key] = v;
  };
  set("node", o.node);
  set("trust_domain", o.trustDomain);
  set("join_token_file", o.joinTokenFile);
  set("data_dir", o.dataDir);
  set("sds_dir", o.sdsDir);
  set("audit_db", o.auditDb);
  set("poll_interval", o.pollInterval);
  if (o.caUrl !== undefined || o.caBundle !== undefined) {
    const ca = (raw.ca ?? {}) as Record<string, unknown>;
    if (o.caUrl !== undefined) ca.url = o.caUrl;
    if (o.caBundle !== undefined) ca.bundle_file = o.caBundle;
    raw.ca = ca;
  }
  if (o.adminListen !== undefined) raw.admin = { ...((raw.admin as object) ?? {}), listen: o.adminListen };
  return parseAgentConfig(raw, o.config ? dirname(o.config) : process.cwd());
}

export function registerAgent(program: Command): void {
  program
    .command("agent")
    .description("run the node agent: node attestation, workload identities, SDS over Unix sockets")
    .option("--config <file>", "agent config (YAML); flags override it")
    .option("--ca-url <url>", "CA API, e.g. https://127.0.0.1:8443")
    .option("--ca-bundle <file>", "PEM roots to trust the CA by")
    .option("--node <name>", "this node's name")
    .option("--trust-domain <td>", "trust domain (default: from the CA bundle)")
    .option("--join-token-file <file>", "single-use join token for the first start")
    .option("--data-dir <dir>", "where the node identity is kept")
    .option("--sds-dir <dir>", "where the per-workload SDS sockets go")
    .option("--admin-listen <host:port>", "admin endpoint (loopback only)")
    .option("--audit-db <file>", "audit log (default <data-dir>/audit.db)")
    .option("--poll-interval <duration>", "how often to sync entries, bundle and CRL")
    .option("--ready-file <file>", "write {admin_port, pid} here once running")
    .option("--log-level <level>", "debug | info | warn | error", process.env.MESH_LOG_LEVEL ?? "info")
    .action(async (o: AgentFlags) => {
      const config = agentConfigFrom(o);
      const logger = createLogger("agent", o.logLevel);
      mkdirSync(config.data_dir, { recursive: true, mode: 0o700 });
      const audit = openSignedAudit(config.audit_db ?? join(config.data_dir, "audit.db"));
      const metrics = new AgentMetrics();
      const sds = new SdsServer({
        dir: config.sds_dir,
        onEvent: (e) => {
          if (e.type === "connection_denied") audit.append({ component: "sds", action: "sds.connection_denied", outcome: "deny", subject: e.workload, reason: e.reason });
          else if (e.type === "nack") audit.append({ component: "sds", action: "sds.nack", outcome: "failure", subject: e.workload, reason: e.message, details: { version: e.version } });
          else if (e.type === "protocol_error") logger.warn({ workload: e.workload, reason: e.reason }, "SDS protocol error");
        },
      });
      const agent = new NodeAgent({ config, sds, audit, logger, metrics });
      const listen = parseListen(config.admin.listen);
      const admin = await startAdmin(listen.host, listen.port, agent, metrics);
      await agent.start();
      logger.info({ node: config.node, sds_dir: config.sds_dir, admin_port: admin.port }, "agent running");
      if (o.readyFile) writeFileSync(o.readyFile, JSON.stringify({ admin_port: admin.port, pid: process.pid }) + "\n");
      await new Promise<void>((resolve) => {
        process.once("SIGINT", () => resolve());
        process.once("SIGTERM", () => resolve());
      });
      logger.info("agent stopping");
      await agent.stop();
      await admin.close();
      await sds.close();
      audit.close();
    });
}
