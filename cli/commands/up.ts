/**
 * `mesh up`: the demo mesh on an embedded default (SQLite, Unix sockets,
 * loopback), under --dir (default .mesh/). Today it brings up the control
 * plane: the CA with the demo registrations; the agent, sidecars and demo
 * apps join it as those parts land.
 */
import type { Command } from "commander";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { AuditLog } from "../../audit/store.js";
import { trustBundle } from "../../pki/bundle.js";
import { CA_DB_FILE, CertificateAuthority } from "../../pki/ca.js";
import { writePublicFile, writeSecretFile } from "../../pki/keys.js";
import { createEntry, createJoinToken, NodeApi } from "../../pki/node-api.js";
import { startCaServer } from "../../pki/service/server.js";
import { workloadSpiffeId } from "../../pki/spiffe-id.js";
import { parseListen } from "../args.js";
import { createLogger } from "../logger.js";

export const DEMO_TRUST_DOMAIN = "demo.mesh";
export const DEMO_NODE = "demo-node";
export const DEMO_WORKLOADS = ["frontend", "backend"] as const;

/** The demo CA's passphrase: MESH_CA_PASSPHRASE, else one generated once and kept 0600 beside the CA. */
function demoPassphrase(dir: string): string {
  if (process.env.MESH_CA_PASSPHRASE) return process.env.MESH_CA_PASSPHRASE;
  const file = join(dir, "ca-passphrase");
  if (!existsSync(file)) writeSecretFile(file, randomBytes(24).toString("base64url") + "\n");
  return readFileSync(file, "utf8").trim();
}

export function registerUp(program: Command): void {
  program
    .command("up")
    .description("run the demo mesh on loopback and Unix sockets (Ctrl-C stops it)")
    .option("--dir <dir>", "state directory", ".mesh")
    .option("--ca-listen <host:port>", "CA API address", "127.0.0.1:0")
    .option("--log-level <level>", "debug | info | warn | error", process.env.MESH_LOG_LEVEL ?? "info")
    .action(async (o) => {
      const dir = resolve(o.dir);
      const logger = createLogger("up", o.logLevel);
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      const caDir = join(dir, "ca");
      const auditDb = join(dir, "audit.db");
      const audit = AuditLog.open(auditDb);
      const passphrase = demoPassphrase(dir);
      const fresh = !existsSync(join(caDir, CA_DB_FILE));
      const ca = fresh
        ? CertificateAuthority.init(caDir, { trustDomain: DEMO_TRUST_DOMAIN, passphrase, audit })
        : CertificateAuthority.open(caDir, { passphrase, audit });
      const steps: string[] = [fresh ? `created CA for ${ca.trustDomain} in ${caDir}` : `opened CA in ${caDir}`];
      for (const w of DEMO_WORKLOADS) {
        const id = workloadSpiffeId(ca.trustDomain, "demo", w).toString();
        if (!ca.store.entryFor(DEMO_NODE, id)) {
          createEntry(ca, { spiffeId: id, node: DEMO_NODE, workload: w });
          steps.push(`registered ${id} on node ${DEMO_NODE}`);
        }
      }
      const token = createJoinToken(ca, DEMO_NODE, 3600);
      mkdirSync(join(dir, "agent"), { recursive: true, mode: 0o700 });
      writeSecretFile(join(dir, "agent", "join-token"), token.token + "\n");
      steps.push(`join token for ${DEMO_NODE} written to ${join(dir, "agent", "join-token")} (0600)`);
      const listen = parseListen(o.caListen);
      const srv = await startCaServer({ ca, api: new NodeApi(ca), host: listen.host, port: listen.port, logger });
      writePublicFile(join(dir, "bundle.pem"), trustBundle(ca).pem);
      const up = { trust_domain: ca.trustDomain, ca_dir: caDir, ca_url: srv.url, ca_bundle: join(dir, "bundle.pem"), audit_db: auditDb, node: DEMO_NODE, pid: process.pid };
      writePublicFile(join(dir, "up.json"), JSON.stringify(up, null, 2) + "\n");
      const out = (s: string) => process.stdout.write(s + "\n");
      out("mesh up: control plane running");
      for (const s of steps) out(`  - ${s}`);
      out(`  - CA API at ${srv.url} (TLS 1.3), trust bundle in ${up.ca_bundle}`);
      out(`  - audit log ${auditDb}`);
      out("");
      out("try:");
      out(`  curl --cacert ${up.ca_bundle} https://localhost:${srv.port}/v1/bundle`);
      out(`  MESH_CA_PASSPHRASE=$(cat ${join(dir, "ca-passphrase")}) npx mesh ca list --dir ${caDir}`);
      out(`  npx mesh audit verify --db ${auditDb}`);
      out(`state in ${join(dir, "up.json")}; Ctrl-C stops everything`);
      await new Promise<void>((resolveStop) => {
        process.once("SIGINT", () => resolveStop());
        process.once("SIGTERM", () => resolveStop());
      });
      logger.info("stopping");
      await srv.close();
      ca.close();
      audit.close();
    });
}
