/**
 * `mesh up`: the demo mesh on an embedded default (SQLite, Unix sockets,
 * loopback) under --dir (default .mesh/): the CA (in this process), a node
 * agent, the frontend and backend apps each behind a sidecar, and an ingress
 * gateway, as child processes. backend's inbound admits only frontend's
 * identity; frontend's only the ingress's. Ctrl-C or SIGTERM stops it all.
 */
import { openSignedAudit } from "../audit-sink.js";
import type { Command } from "commander";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, rmSync } from "node:fs";
import { join, resolve } from "node:path";
import { stringify } from "yaml";
import { trustBundle } from "../../pki/bundle.js";
import { CA_DB_FILE, CertificateAuthority } from "../../pki/ca.js";
import { writePublicFile, writeSecretFile } from "../../pki/keys.js";
import { createEntry, createJoinToken, NodeApi } from "../../pki/node-api.js";
import { startCaServer } from "../../pki/service/server.js";
import { workloadSpiffeId } from "../../pki/spiffe-id.js";
import { parseListen } from "../args.js";
import { startDemoApp } from "../demo/app.js";
import { demoCredentials } from "../demo/credentials.js";
import { freePorts, spawnMesh, stopAll, waitReady, type Child } from "../demo/children.js";
import { agentConfig, DEMO_NAMESPACE, ingressConfig, sidecarConfig, type DemoPorts } from "../demo/configs.js";
import { createLogger } from "../logger.js";
import { UsageError } from "../run.js";

export const DEMO_TRUST_DOMAIN = "demo.mesh";
export const DEMO_NODE = "demo-node";
export const DEMO_WORKLOADS = ["frontend", "backend", "ingress"] as const;

/** The demo CA's passphrase: MESH_CA_PASSPHRASE, else one generated once and kept 0600 beside the CA. */
function demoPassphrase(dir: string): string {
  if (process.env.MESH_CA_PASSPHRASE) return process.env.MESH_CA_PASSPHRASE;
  const file = join(dir, "ca-passphrase");
  if (!existsSync(file)) writeSecretFile(file, randomBytes(24).toString("base64url") + "\n");
  return readFileSync(file, "utf8").trim();
}

const writeYaml = (file: string, obj: unknown) => writePublicFile(file, `# written by mesh up; edit and restart to experiment\n${stringify(obj)}`);

export function registerUp(program: Command): void {
  program
    .command("demo-app", { hidden: true })
    .description("one of the demo mesh's apps (used by mesh up)")
    .requiredOption("--name <name>", "frontend | backend")
    .requiredOption("--listen <host:port>", "where to listen (loopback)")
    .option("--outbound <host:port>", "frontend: its sidecar's outbound listener")
    .option("--ready-file <file>", "write {port, pid} here once listening")
    .action(async (o: { name: string; listen: string; outbound?: string; readyFile?: string }) => {
      if (o.name !== "frontend" && o.name !== "backend") throw new UsageError("--name must be frontend or backend");
      const l = parseListen(o.listen);
      const app = await startDemoApp({ name: o.name, host: l.host, port: l.port, outbound: o.outbound });
      if (o.readyFile) writePublicFile(o.readyFile, JSON.stringify({ port: app.port, pid: process.pid }) + "\n");
      await new Promise<void>((r) => {
        process.once("SIGINT", () => r());
        process.once("SIGTERM", () => r());
      });
      app.server.close();
      app.server.closeAllConnections();
    });

  program
    .command("up")
    .description("run the demo mesh on loopback and Unix sockets (Ctrl-C stops it)")
    .option("--dir <dir>", "state directory", ".mesh")
    .option("--ca-listen <host:port>", "CA API address", "127.0.0.1:0")
    .option("--log-level <level>", "debug | info | warn | error", process.env.MESH_LOG_LEVEL ?? "info")
    .action(async (o: { dir: string; caListen: string; logLevel: string }) => {
      const dir = resolve(o.dir);
      const logger = createLogger("up", o.logLevel);
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      const caDir = join(dir, "ca");
      const auditDb = join(dir, "audit.db");
      const audit = openSignedAudit(auditDb);
      const passphrase = demoPassphrase(dir);
      const fresh = !existsSync(join(caDir, CA_DB_FILE));
      const ca = fresh
        ? CertificateAuthority.init(caDir, { trustDomain: DEMO_TRUST_DOMAIN, passphrase, audit })
        : CertificateAuthority.open(caDir, { passphrase, audit });
      const td = ca.trustDomain;
      for (const w of DEMO_WORKLOADS) {
        const id = workloadSpiffeId(td, DEMO_NAMESPACE, w).toString();
        if (!ca.store.entryFor(DEMO_NODE, id)) createEntry(ca, { spiffeId: id, node: DEMO_NODE, workload: w });
      }
      const agentDir = join(dir, "agent");
      mkdirSync(agentDir, { recursive: true, mode: 0o700 });
      const tokenFile = join(agentDir, "join-token");
      writeSecretFile(tokenFile, createJoinToken(ca, DEMO_NODE, 3600).token + "\n");
      const listen = parseListen(o.caListen);
      const srv = await startCaServer({ ca, api: new NodeApi(ca), host: listen.host, port: listen.port, logger });
      const bundle = join(dir, "bundle.pem");
      writePublicFile(bundle, trustBundle(ca).pem);

      const [frontendApp, backendApp, frontendInbound, frontendOutbound, backendInbound, ingress, agentAdmin, frontendAdmin, backendAdmin, ingressAdmin] = await freePorts(10);
      const p: DemoPorts = { frontendApp: frontendApp!, backendApp: backendApp!, frontendInbound: frontendInbound!, frontendOutbound: frontendOutbound!, backendInbound: backendInbound!, ingress: ingress!, agentAdmin: agentAdmin!, frontendAdmin: frontendAdmin!, backendAdmin: backendAdmin!, ingressAdmin: ingressAdmin! };
      const sdsDir = join(dir, "sds");
      const logs = join(dir, "logs");
      const run = join(dir, "run");
      const conf = join(dir, "config");
      for (const d of [sdsDir, logs, conf]) mkdirSync(d, { recursive: true, mode: 0o700 });
      rmSync(run, { recursive: true, force: true });
      mkdirSync(run, { recursive: true, mode: 0o700 });
      writeYaml(join(conf, "agent.yaml"), agentConfig({ node: DEMO_NODE, caUrl: srv.url, bundle, dataDir: agentDir, sdsDir, joinTokenFile: tokenFile, auditDb, adminPort: p.agentAdmin }));
      writeYaml(join(conf, "backend.yaml"), sidecarConfig({ td, name: "backend", allowFrom: "frontend", sdsDir, auditDb, p, accessLog: join(logs, "backend-access.log") }));
      writeYaml(join(conf, "frontend.yaml"), sidecarConfig({ td, name: "frontend", allowFrom: "ingress", sdsDir, auditDb, p, accessLog: join(logs, "frontend-access.log") }));
      const demo = await demoCredentials(dir);
      const c = demo.creds;
      const auth = { issuer: c.jwt.issuer, audience: c.jwt.audience, jwksFile: c.jwt.jwks_file, hmacConsumersFile: c.hmac.consumers_file, htpasswdFile: c.basic.htpasswd_file, apiKeysFile: c.apikey.keys_file };
      writeYaml(join(conf, "ingress.yaml"), ingressConfig({ td, sdsDir, auditDb, p, accessLog: join(logs, "ingress-access.log"), auth }));

      const children: Child[] = [];
      const stopping = { now: false };
      const start = async (name: string, args: string[]): Promise<void> => {
        const ready = join(run, `${name}.json`);
        const c = spawnMesh(name, [...args, "--ready-file", ready], join(logs, `${name}.log`));
        children.push(c);
        c.proc.once("exit", (code, sig) => {
          if (!stopping.now) logger.error({ child: name, code, signal: sig, log: c.log }, "a demo mesh process exited");
        });
        await waitReady(c, ready, 60_000);
      };
      const shutdown = async (): Promise<void> => {
        stopping.now = true;
        await stopAll(children);
        await srv.close();
        ca.close();
        audit.close();
      };
      try {
        await start("agent", ["agent", "--config", join(conf, "agent.yaml"), "--log-level", o.logLevel]);
        await start("backend-app", ["demo-app", "--name", "backend", "--listen", `127.0.0.1:${p.backendApp}`]);
        await start("frontend-app", ["demo-app", "--name", "frontend", "--listen", `127.0.0.1:${p.frontendApp}`, "--outbound", `127.0.0.1:${p.frontendOutbound}`]);
        for (const name of ["backend", "frontend", "ingress"]) await start(`${name}-proxy`, ["proxy", "--config", join(conf, `${name}.yaml`), "--log-level", o.logLevel]);
      } catch (err) {
        await shutdown();
        throw err;
      }

      const up = {
        trust_domain: td,
        ca_dir: caDir,
        ca_url: srv.url,
        ca_bundle: bundle,
        audit_db: auditDb,
        node: DEMO_NODE,
        sds_dir: sdsDir,
        ingress_url: `http://127.0.0.1:${p.ingress}`,
        frontend_inbound: `127.0.0.1:${p.frontendInbound}`,
        backend_inbound: `127.0.0.1:${p.backendInbound}`,
        frontend_outbound: `127.0.0.1:${p.frontendOutbound}`,
        apps: { frontend: `127.0.0.1:${p.frontendApp}`, backend: `127.0.0.1:${p.backendApp}` },
        identities: Object.fromEntries(DEMO_WORKLOADS.map((w) => [w, workloadSpiffeId(td, DEMO_NAMESPACE, w).toString()])),
        admin: {
          agent: `http://127.0.0.1:${p.agentAdmin}`,
          frontend: `http://127.0.0.1:${p.frontendAdmin}`,
          backend: `http://127.0.0.1:${p.backendAdmin}`,
          ingress: `http://127.0.0.1:${p.ingressAdmin}`,
        },
        demo_credentials: demo.file,
        config_dir: conf,
        logs_dir: logs,
        pid: process.pid,
      };
      writePublicFile(join(dir, "up.json"), JSON.stringify(up, null, 2) + "\n");
      const out = (s: string) => process.stdout.write(s + "\n");
      const env = `MESH_CA_PASSPHRASE=$(cat ${join(dir, "ca-passphrase")})`;
      out(`mesh up: demo mesh running (trust domain ${td})`);
      out(`  CA            ${srv.url} (TLS 1.3; bundle ${bundle})`);
      out(`  agent         node ${DEMO_NODE}, SDS sockets in ${sdsDir}, admin ${up.admin.agent}`);
      out(`  ingress       ${up.ingress_url} → frontend (mTLS, ${up.identities.frontend}); /api/ JWT, /partner/ HMAC, /admin/ Basic, /keyed/ API key, the rest public`);
      out(`  credentials   ${demo.file} (0600)`);
      out(`  frontend      inbound ${up.frontend_inbound} (admits ingress only), outbound ${up.frontend_outbound} → backend`);
      out(`  backend       inbound ${up.backend_inbound} (admits frontend only)`);
      out(`  audit log     ${auditDb}; logs in ${logs}; configs in ${conf}`);
      out("");
      out("try:");
      out(`  curl -s ${up.ingress_url}/                       # ingress → frontend → backend, over mTLS`);
      out(`  curl -s ${up.admin.backend}/certs                # backend's identity`);
      out(`  curl -s -u admin:$(node -p 'require("${demo.file}").basic.password') ${up.ingress_url}/admin/   # Basic`);
      out(`  curl -s -H "apikey: $(node -p 'require("${demo.file}").apikey.key')" ${up.ingress_url}/keyed/   # API key`);
      out(`  curl -s -i ${up.ingress_url}/api/                  # 401: needs a JWT (sign one with the private JWK in the credentials file)`);
      out(`  curl -sk https://${up.backend_inbound}/          # refused: no client certificate`);
      out(`  ${env} npx mesh ca issue --dir ${caDir} --spiffe-id ${up.identities.frontend} --out-dir /tmp/fe`);
      out(`  curl -sk --cert /tmp/fe/svid.pem --key /tmp/fe/svid.key https://${up.backend_inbound}/   # admitted as frontend (-k: SVIDs name no host)`);
      out(`  npx mesh audit verify --db ${auditDb}`);
      out(`state in ${join(dir, "up.json")}; Ctrl-C stops everything`);
      await new Promise<void>((r) => {
        process.once("SIGINT", () => r());
        process.once("SIGTERM", () => r());
      });
      logger.info("stopping");
      await shutdown();
    });
}
