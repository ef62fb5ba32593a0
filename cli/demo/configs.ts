/**
 * The demo mesh's config files, as plain objects written out as YAML: they
 * double as worked examples of the agent and proxy configs (docs/proxy.md).
 */
export interface DemoPorts {
  frontendApp: number;
  backendApp: number;
  frontendInbound: number;
  frontendOutbound: number;
  backendInbound: number;
  ingress: number;
  agentAdmin: number;
  frontendAdmin: number;
  backendAdmin: number;
  ingressAdmin: number;
}

export const DEMO_NAMESPACE = "demo";

const principal = (td: string, sa: string) => `${td}/ns/${DEMO_NAMESPACE}/sa/${sa}`;
const spiffe = (td: string, sa: string) => `spiffe://${principal(td, sa)}`;

export function agentConfig(o: { node: string; caUrl: string; bundle: string; dataDir: string; sdsDir: string; joinTokenFile: string; auditDb: string; adminPort: number }) {
  return {
    node: o.node,
    ca: { url: o.caUrl, bundle_file: o.bundle },
    join_token_file: o.joinTokenFile,
    data_dir: o.dataDir,
    sds_dir: o.sdsDir,
    audit_db: o.auditDb,
    poll_interval: "5s",
    admin: { listen: `127.0.0.1:${o.adminPort}` },
  };
}

function allowOnly(td: string, sa: string) {
  return {
    authz: {
      policies: [{ name: `allow-${sa}`, action: "ALLOW", rules: [{ from: [{ source: { principals: [principal(td, sa)] } }] }] }],
    },
  };
}

/** A workload's sidecar: inbound mTLS to the local app (only `allowFrom` may call), and for the frontend an outbound route to backend. */
export function sidecarConfig(o: { td: string; name: "frontend" | "backend"; allowFrom: string; sdsDir: string; auditDb: string; p: DemoPorts; accessLog: string }) {
  const p = o.p;
  const inboundPort = o.name === "frontend" ? p.frontendInbound : p.backendInbound;
  const appPort = o.name === "frontend" ? p.frontendApp : p.backendApp;
  const adminPort = o.name === "frontend" ? p.frontendAdmin : p.backendAdmin;
  const listeners: unknown[] = [
    {
      name: "inbound",
      kind: "inbound",
      listen: `127.0.0.1:${inboundPort}`,
      filters: [allowOnly(o.td, o.allowFrom), { rate_limit: { buckets: [{ name: "per-peer", requests_per_second: 1000, burst: 2000, key: "peer" }] } }],
      routes: [{ name: "app", match: { path: { prefix: "/" } }, cluster: "local_app" }],
    },
  ];
  const clusters: unknown[] = [{ name: "local_app", endpoints: [`127.0.0.1:${appPort}`], timeout: "10s" }];
  if (o.name === "frontend") {
    listeners.push({
      name: "outbound",
      kind: "outbound",
      listen: `127.0.0.1:${p.frontendOutbound}`,
      routes: [{ name: "to-backend", match: { hosts: ["backend"], path: { prefix: "/" } }, cluster: "backend", retries: { attempts: 2, on: ["connect-failure", "reset", "retriable-status-codes"], statuses: [503] } }],
    });
    clusters.push({
      name: "backend",
      endpoints: [`127.0.0.1:${p.backendInbound}`],
      spiffe_id: spiffe(o.td, "backend"),
      lb: "least_request",
      connect_timeout: "2s",
      timeout: "10s",
      outlier_detection: { consecutive_5xx: 5, interval: "10s", base_ejection_time: "30s", max_ejection_percent: 50 },
    });
  }
  return {
    name: o.name,
    sds: { socket: `${o.sdsDir}/${o.name}.sock`, wait_timeout: "60s" },
    admin: { listen: `127.0.0.1:${adminPort}` },
    audit_db: o.auditDb,
    access_log: o.accessLog,
    drain_timeout: "5s",
    listeners,
    clusters,
  };
}

export interface DemoAuthFiles {
  issuer: string;
  audience: string;
  jwksFile: string;
  hmacConsumersFile: string;
  htpasswdFile: string;
  apiKeysFile: string;
}

/** Ingress routes: /api/ JWT, /partner/ HMAC, /admin/ Basic, /keyed/ API key, the rest public. */
function ingressAuthn(a: DemoAuthFiles) {
  return {
    authn: {
      providers: {
        "demo-jwt": { jwt: { issuer: a.issuer, audiences: [a.audience], jwks_file: a.jwksFile, algorithms: ["ES256"], claim_to_headers: [{ claim: "sub", header: "x-user-id" }] } },
        "demo-hmac": { hmac: { consumers_file: a.hmacConsumersFile, enforce_headers: ["date", "request-line"] } },
        "demo-basic": { basic: { htpasswd_file: a.htpasswdFile, realm: "demo admin" } },
        "demo-key": { api_key: { keys_file: a.apiKeysFile } },
      },
      rules: [
        { routes: ["api"], require: "demo-jwt" },
        { routes: ["partner"], require: "demo-hmac" },
        { routes: ["admin"], require: "demo-basic" },
        { routes: ["keyed"], require: "demo-key" },
      ],
    },
  };
}

/** The ingress gateway: plain HTTP at the edge, authentication per route, rate limited, then mTLS to the frontend's sidecar. */
export function ingressConfig(o: { td: string; sdsDir: string; auditDb: string; p: DemoPorts; accessLog: string; auth: DemoAuthFiles }) {
  return {
    name: "ingress",
    sds: { socket: `${o.sdsDir}/ingress.sock`, wait_timeout: "60s" },
    admin: { listen: `127.0.0.1:${o.p.ingressAdmin}` },
    audit_db: o.auditDb,
    access_log: o.accessLog,
    drain_timeout: "5s",
    listeners: [
      {
        name: "ingress",
        kind: "ingress",
        listen: `127.0.0.1:${o.p.ingress}`,
        filters: [ingressAuthn(o.auth), { rate_limit: { buckets: [{ name: "per-client", requests_per_second: 200, burst: 400, key: "remote_address" }] } }],
        routes: [
          ...["api", "partner", "admin", "keyed"].map((name) => ({ name, match: { path: { prefix: `/${name}/` } }, cluster: "frontend" })),
          { name: "public", match: { path: { prefix: "/" } }, cluster: "frontend" },
        ],
      },
    ],
    clusters: [{ name: "frontend", endpoints: [`127.0.0.1:${o.p.frontendInbound}`], spiffe_id: spiffe(o.td, "frontend"), connect_timeout: "2s", timeout: "15s" }],
  };
}
